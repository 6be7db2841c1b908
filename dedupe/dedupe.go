package dedupe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
	"github.com/cdcmerge/cdcmerge/reader"
)

// ChangeSeqColumn is the DMS header column that orders changes exactly.
const ChangeSeqColumn = "AR_H_CHANGE_SEQ"

// Part is one file of a batch, conformed to the table schema.
type Part struct {
	Path   string
	Load   bool
	Record arrow.RecordBatch
	Ops    []byte
}

// Options say how to find keys and order values in the parts' records.
type Options struct {
	// Key names the key columns, in key order.
	Key []string
	// TimestampColumn is the DMS TimestampColumnName ("" for none).
	TimestampColumn string
}

// Result is the latest change per key of a batch.
type Result struct {
	// Keys holds the encoded key of every winner; Deletes(i) says whether
	// the winner of key i deletes.
	Keys *KeySet
	// Upserts holds the winning I and U rows, in the table schema.
	Upserts []arrow.RecordBatch
	// Changes counts the input rows, Deletes the winners that delete.
	Changes, Deletes int64

	deletes    []bool
	firstKeys  func() []string
	firstRange func() [2]string
	keyRecords func(context.Context, memory.Allocator) ([]arrow.RecordBatch, error)
}

// Release frees the upsert records.
func (r *Result) Release() {
	for _, u := range r.Upserts {
		u.Release()
	}
	r.Upserts = nil
}

// IsDelete reports whether the winner for key index i deletes.
func (r *Result) IsDelete(i int32) bool { return r.deletes[i] }

// FirstKeys returns the distinct encodings of the first key column of the
// winners, sorted, for pruning data files by column bounds. It is computed
// on first use: a batch applied to an empty table never needs it.
func (r *Result) FirstKeys() []string { return r.firstKeys() }

// FirstKeyRange returns the smallest and largest encoding of the first key
// column among the winners (computed once, in one pass): most data files can
// be ruled out against the range alone, without sorting every key.
func (r *Result) FirstKeyRange() (lo, hi string) {
	v := r.firstRange()
	return v[0], v[1]
}

// KeyRecords returns the key columns of every winner, deletes included,
// one record per input part that holds winners. It reads the parts given
// to Latest, which must not have been released yet. The caller releases
// the records.
func (r *Result) KeyRecords(ctx context.Context, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	return r.keyRecords(ctx, mem)
}

// UpsertRows is the number of rows in Upserts.
func (r *Result) UpsertRows() int64 {
	var n int64
	for _, u := range r.Upserts {
		n += u.NumRows()
	}
	return n
}

// winner is the current latest change of one key. It holds no pointers.
type winner struct {
	part int32
	row  int32
	op   byte
	load bool
}

// RowError is a bad row of an input file.
type RowError = reader.FileError

// Latest computes the latest change per key over parts, which must be in
// stream order.
func Latest(ctx context.Context, parts []Part, opt Options, mem memory.Allocator) (*Result, error) {
	total := 0
	for _, p := range parts {
		total += int(p.Record.NumRows())
	}
	s, err := NewScan(opt, FixedWidthKey(parts, opt.Key), total)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if err := s.Add(ctx, p); err != nil {
			return nil, err
		}
	}
	return s.Result(ctx, parts, mem)
}

// Scan picks the latest change per key one part at a time, in stream
// order, so that a caller can feed it files as they are decoded (while
// later ones still are); Result then builds the output from the same parts
// conformed to the table's schema. Parts given to Add are only read during
// the call.
type Scan struct {
	opt     Options
	fixed   bool
	keys    *KeySet
	wins    []winner
	orders  []func(int) string
	spans   []orderSpan
	added   []scanned
	changes int64
	buf     []byte
}

// scanned is what Result checks a part against: the same file, rows and
// types of the columns the scan read (key and order columns), whose
// encodings the winners and the key set depend on.
type scanned struct {
	path  string
	rows  int64
	types []arrow.DataType
}

// ErrScanMismatch: the parts given to Result are not the ones scanned, or
// their key or order columns have other types.
var ErrScanMismatch = errors.New("dedupe: the parts differ from the ones scanned")

// NewScan starts a scan; fixed says whether the key is one column of an
// 8-byte encoding in every part (see fixedWidthKey), capacity how many
// rows to expect (the key set grows beyond it).
func NewScan(opt Options, fixed bool, capacity int) (*Scan, error) {
	if len(opt.Key) == 0 {
		return nil, fmt.Errorf("no key columns")
	}
	s := &Scan{opt: opt, fixed: fixed}
	if fixed {
		s.keys = NewFixedKeySet(capacity)
	} else {
		s.keys = NewKeySet(capacity)
	}
	s.wins = make([]winner, 0, capacity)
	return s, nil
}

// Add scans the next part of the stream.
func (s *Scan) Add(ctx context.Context, p Part) error {
	pi := len(s.added)
	rec := p.Record
	idx, err := columnIndexes(rec.Schema(), s.opt.Key)
	if err != nil {
		return &RowError{Path: p.Path, Row: -1, Column: err.Error(), Msg: "key column missing",
			Hint: "check --key for this table; DMS writes every column of the source table into every file"}
	}
	if s.fixed && !FixedWidthKey([]Part{p}, s.opt.Key) {
		return ErrScanMismatch // a key set of 8-byte keys cannot take this part's
	}
	enc, err := NewKeyEncoder(rec, idx)
	if err != nil {
		return &RowError{Path: p.Path, Row: -1, Msg: err.Error()}
	}
	order := orderFunc(rec, s.opt, p.Load)
	n := int(rec.NumRows())
	s.orders = append(s.orders, order)
	s.spans = append(s.spans, spanOf(order, n))
	s.added = append(s.added, scanned{path: p.Path, rows: rec.NumRows(), types: scanTypes(rec, idx, s.opt)})
	s.changes += int64(n)
	opt, keys := s.opt, s.keys
	for i := 0; i < n; i++ {
		if i&0xFFFF == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var null string
		s.buf, null = enc.Append(s.buf[:0], i)
		if null != "" {
			return &RowError{Path: p.Path, Row: int64(i), Column: null, Msg: "key column is null",
				Hint: "every row must carry its key; check that --key names the table's primary key"}
		}
		if isEmptyKey(enc, i) {
			return &RowError{Path: p.Path, Row: int64(i), Column: opt.Key[0], Msg: "key is an empty string",
				Hint: "an empty key cannot identify a row; check the source table and --key"}
		}
		w := winner{part: int32(pi), row: int32(i), op: p.Ops[i], load: p.Load}
		k, added := keys.Add(s.buf)
		if added {
			s.wins = append(s.wins, w)
			continue
		}
		if replaces(w, s.wins[k], s.orders, s.spans) {
			s.wins[k] = w
		}
	}
	return nil
}

// scanTypes are the types of rec's key columns (idx) and order columns
// (nil for an order column rec lacks).
func scanTypes(rec arrow.RecordBatch, idx []int, opt Options) []arrow.DataType {
	var out []arrow.DataType
	for _, i := range idx {
		out = append(out, rec.Column(i).DataType())
	}
	for _, name := range []string{ChangeSeqColumn, opt.TimestampColumn} {
		var t arrow.DataType
		if i := reader.ColumnIndex(rec.Schema(), name); name != "" && i >= 0 {
			t = rec.Column(i).DataType()
		}
		out = append(out, t)
	}
	return out
}

// Result builds the latest changes from parts: the parts given to Add, in
// the same order, or the same rows conformed to the table's schema (with
// key and order columns of the same types: ErrScanMismatch otherwise).
// The upserts are taken from parts.
func (s *Scan) Result(ctx context.Context, parts []Part, mem memory.Allocator) (*Result, error) {
	if len(parts) != len(s.added) {
		return nil, ErrScanMismatch
	}
	encs := make([]*KeyEncoder, len(parts))
	keyIdx := make([][]int, len(parts))
	for pi, p := range parts {
		idx, err := columnIndexes(p.Record.Schema(), s.opt.Key)
		if err != nil || p.Path != s.added[pi].path || p.Record.NumRows() != s.added[pi].rows {
			return nil, ErrScanMismatch
		}
		// The same types (a dictionary stands for its values: order
		// values read through it are the values).
		types := scanTypes(p.Record, idx, s.opt)
		if len(types) != len(s.added[pi].types) {
			return nil, ErrScanMismatch
		}
		for i := range types {
			if !arrow.TypeEqual(dictcol.ValueType(types[i]), dictcol.ValueType(s.added[pi].types[i])) {
				return nil, ErrScanMismatch
			}
		}
		enc, err := NewKeyEncoder(p.Record, idx)
		if err != nil {
			return nil, &RowError{Path: p.Path, Row: -1, Msg: err.Error()}
		}
		encs[pi], keyIdx[pi] = enc, idx
	}
	s.orders = nil // they read the scanned records, which may be gone
	keys, wins := s.keys, s.wins
	res := &Result{Keys: keys, Changes: s.changes}
	// Collect upsert rows per part.
	takes := make([][]int32, len(parts))
	res.deletes = make([]bool, len(wins))
	for k, w := range wins {
		if w.op == reader.OpDelete {
			res.deletes[k] = true
			res.Deletes++
		} else {
			takes[w.part] = append(takes[w.part], w.row)
		}
	}
	res.firstRange = sync.OnceValue(func() [2]string {
		var lo, hi, buf []byte
		for i, w := range wins {
			buf = encs[w.part].AppendFirst(buf[:0], int(w.row))
			if i == 0 || string(buf) < string(lo) {
				lo = append(lo[:0], buf...)
			}
			if i == 0 || string(buf) > string(hi) {
				hi = append(hi[:0], buf...)
			}
		}
		return [2]string{string(lo), string(hi)}
	})
	res.firstKeys = sync.OnceValue(func() []string {
		if sorted, _, ok := keys.Sorted(); ok {
			// One 8-byte key column: the first key is the whole key, and
			// the set is already distinct. One string holds them all.
			arena := make([]byte, 0, 8*len(sorted))
			for _, k := range sorted {
				arena = binary.BigEndian.AppendUint64(arena, k)
			}
			all := string(arena)
			out := make([]string, len(sorted))
			for i := range out {
				out[i] = all[8*i : 8*i+8]
			}
			return out
		}
		first := make(map[string]struct{})
		var buf []byte
		for _, w := range wins {
			buf = encs[w.part].AppendFirst(buf[:0], int(w.row))
			first[string(buf)] = struct{}{}
		}
		out := make([]string, 0, len(first))
		for k := range first {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	})
	res.keyRecords = func(ctx context.Context, mem memory.Allocator) ([]arrow.RecordBatch, error) {
		return winnerKeys(ctx, parts, keyIdx, wins, mem)
	}
	for pi, p := range parts {
		rows := takes[pi]
		if len(rows) == 0 {
			continue
		}
		if len(rows) == int(p.Record.NumRows()) {
			p.Record.Retain()
			res.Upserts = append(res.Upserts, p.Record)
			continue
		}
		slices.Sort(rows)
		rec, err := Take(ctx, p.Record, rows, mem)
		if err != nil {
			res.Release()
			return nil, err
		}
		res.Upserts = append(res.Upserts, rec)
	}
	return res, nil
}

// orderSpan is the range of a part's order values, and whether they never
// descend from row to row. DMS writes changes in commit order, so a CDC
// file's rows usually ascend and each file starts at or after the end of
// the one before: then replaces knows the answer without reading the two
// rows' values (reading the older one is a cache miss into a part read
// long before).
type orderSpan struct {
	lo, hi    string
	ascending bool
}

// spanOf computes the span of a part's n order values (nil order: none).
func spanOf(order func(int) string, n int) orderSpan {
	if order == nil || n == 0 {
		return orderSpan{}
	}
	sp := orderSpan{ascending: true}
	var prev string
	for i := 0; i < n; i++ {
		v := order(i)
		if i == 0 || v < sp.lo {
			sp.lo = v
		}
		if i == 0 || v > sp.hi {
			sp.hi = v
		}
		if i > 0 && v < prev {
			sp.ascending = false
		}
		prev = v
	}
	// Own copies: the values may be substrings of the part's buffers.
	sp.lo, sp.hi = strings.Clone(sp.lo), strings.Clone(sp.hi)
	return sp
}

// replaces reports whether change w, seen after cur in stream order, wins:
// CDC beats LOAD; otherwise a greater or equal order value (equal: the
// later position wins).
func replaces(w, cur winner, orders []func(int) string, spans []orderSpan) bool {
	if w.load != cur.load {
		return !w.load
	}
	ow, oc := orders[w.part], orders[cur.part]
	if ow == nil && oc == nil {
		return true
	}
	if ow != nil && oc != nil {
		// w comes after cur in the stream: a later row of an ascending
		// part, or a part whose values all lie at or above cur's part's,
		// has a value at least cur's.
		if w.part == cur.part && spans[w.part].ascending {
			return true
		}
		if spans[cur.part].hi <= spans[w.part].lo {
			return true
		}
	}
	var a, b string
	if ow != nil {
		a = ow(int(w.row))
	}
	if oc != nil {
		b = oc(int(cur.row))
	}
	return a >= b
}

// FixedWidthKey reports whether the key is one column whose encoding is
// always 8 bytes (integers, dates, times, timestamps) in every part.
func FixedWidthKey(parts []Part, key []string) bool {
	if len(key) != 1 || len(parts) == 0 {
		return false
	}
	for _, p := range parts {
		i := reader.ColumnIndex(p.Record.Schema(), key[0])
		if i < 0 {
			return false
		}
		switch p.Record.Column(i).(type) {
		case *array.Int32, *array.Int64, *array.Date32, *array.Time64, *array.Timestamp:
		default:
			return false
		}
	}
	return true
}

func isEmptyKey(enc *KeyEncoder, i int) bool {
	for _, c := range enc.cols {
		if s, ok := c.(*array.String); ok && s.Value(i) == "" {
			return true
		}
	}
	return false
}

// orderFunc returns the order value of a row, as a string that compares
// like the order: the change sequence left-padded to a fixed width, or the
// DMS timestamp. nil when rows are ordered by position alone.
func orderFunc(rec arrow.RecordBatch, opt Options, load bool) func(int) string {
	if load {
		return nil
	}
	seq := reader.ColumnIndex(rec.Schema(), ChangeSeqColumn)
	ts := -1
	if opt.TimestampColumn != "" {
		ts = reader.ColumnIndex(rec.Schema(), opt.TimestampColumn)
	}
	var seqf, tsf func(int) (string, bool)
	if seq >= 0 {
		seqf = valueString(rec.Column(seq), 40)
	}
	if ts >= 0 {
		tsf = valueString(rec.Column(ts), 0)
	}
	if seqf == nil && tsf == nil {
		return nil
	}
	return func(i int) string {
		// A row with a change sequence orders by it; "~" sorts after
		// every timestamp, so sequenced and unsequenced rows never mix
		// within one task's output in practice, and if they do the
		// sequenced one is treated as newer.
		if seqf != nil {
			if s, ok := seqf(i); ok {
				return "~" + s
			}
		}
		if tsf != nil {
			if s, ok := tsf(i); ok {
				return s
			}
		}
		return ""
	}
}

// valueString renders a column value so that strings compare like values:
// strings as they are (left-padded with zeros to width when width > 0),
// integers and timestamps through AppendInt.
func valueString(col arrow.Array, width int) func(int) (string, bool) {
	switch c := col.(type) {
	case *array.String:
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			s := c.Value(i)
			if width > 0 && len(s) < width {
				s = strings.Repeat("0", width-len(s)) + s
			}
			return s, true
		}
	case *array.Dictionary:
		// A string column DMS dictionary-encoded, kept so by the reader
		// (internal/dictcol): each row's value is its dictionary entry.
		values, ok := c.Dictionary().(*array.String)
		if !ok {
			return valueString(dictcol.Decode(c, memory.DefaultAllocator), width)
		}
		str := valueString(values, width)
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			return str(c.GetValueIndex(i))
		}
	case *array.Decimal128, *array.Int64, *array.Int32, *array.Timestamp:
		enc, _ := ColumnEncoder(c)
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			return string(enc(nil, i)), true
		}
	}
	return nil
}

func columnIndexes(sc *arrow.Schema, names []string) ([]int, error) {
	out := make([]int, len(names))
	for j, n := range names {
		i := reader.ColumnIndex(sc, n)
		if i < 0 {
			return nil, fmt.Errorf("%s", n)
		}
		out[j] = i
	}
	return out, nil
}

// Take returns the rows of rec at the given positions, in that order.
func Take(ctx context.Context, rec arrow.RecordBatch, rows []int32, mem memory.Allocator) (arrow.RecordBatch, error) {
	b := array.NewInt32Builder(mem)
	b.AppendValues(rows, nil)
	idx := b.NewArray()
	b.Release()
	defer idx.Release()
	ctx = compute.WithAllocator(ctx, mem)
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(idx))
	if err != nil {
		return nil, err
	}
	return out.(*compute.RecordDatum).Value, nil
}

// winnerKeys takes the key columns of the winning rows out of each part.
func winnerKeys(ctx context.Context, parts []Part, keyIdx [][]int, wins []winner, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	rows := make([][]int32, len(parts))
	for _, w := range wins {
		rows[w.part] = append(rows[w.part], w.row)
	}
	var out []arrow.RecordBatch
	for pi, p := range parts {
		if len(rows[pi]) == 0 {
			continue
		}
		fields := make([]arrow.Field, len(keyIdx[pi]))
		cols := make([]arrow.Array, len(keyIdx[pi]))
		for j, c := range keyIdx[pi] {
			fields[j] = p.Record.Schema().Field(c)
			cols[j] = p.Record.Column(c)
		}
		keys := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, p.Record.NumRows())
		slices.Sort(rows[pi])
		rec, err := Take(ctx, keys, rows[pi], mem)
		keys.Release()
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
