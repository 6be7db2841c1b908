package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// change is one row of a test part: key, value, timestamp, change sequence
// ("" = null), operation.
type change struct {
	id  int64
	v   string
	ts  string
	seq string
	op  byte
}

func part(t *testing.T, path string, load, withSeq bool, rows ...change) dedupe.Part {
	t.Helper()
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	if withSeq {
		fields = append(fields, arrow.Field{Name: dedupe.ChangeSeqColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	ops := make([]byte, len(rows))
	for i, r := range rows {
		if r.id < 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(r.id)
		}
		b.Field(1).(*array.StringBuilder).Append(r.v)
		b.Field(2).(*array.StringBuilder).Append(r.ts)
		if withSeq {
			if r.seq == "" {
				b.Field(3).AppendNull()
			} else {
				b.Field(3).(*array.StringBuilder).Append(r.seq)
			}
		}
		ops[i] = r.op
	}
	return dedupe.Part{Path: path, Load: load, Record: b.NewRecordBatch(), Ops: ops}
}

// latest runs Latest and returns key -> value of the upserts and the number
// of delete winners.
func latest(t *testing.T, parts ...dedupe.Part) (map[int64]string, int64) {
	t.Helper()
	res, err := dedupe.Latest(context.Background(), parts, dedupe.Options{Key: []string{"id"}, TimestampColumn: "commit_ts"}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	out := map[int64]string{}
	for _, rec := range res.Upserts {
		ids := rec.Column(0).(*array.Int64)
		vs := rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if _, dup := out[ids.Value(i)]; dup {
				t.Fatalf("key %d upserted twice", ids.Value(i))
			}
			out[ids.Value(i)] = vs.Value(i)
		}
	}
	if int64(res.Keys.Len()) != int64(len(out))+res.Deletes {
		t.Fatalf("keys %d != upserts %d + deletes %d", res.Keys.Len(), len(out), res.Deletes)
	}
	return out, res.Deletes
}

const (
	I = reader.OpInsert
	U = reader.OpUpdate
	D = reader.OpDelete
)

func TestOrder(t *testing.T) {
	tests := []struct {
		name    string
		parts   func(t *testing.T) []dedupe.Part
		want    map[int64]string
		deletes int64
	}{
		{"load ranks below CDC even with a later timestamp", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "LOAD00000001.parquet", true, false, change{1, "load", "2026-05-10 12:00:00.000000", "", I}),
				part(t, "20260510-100000000.parquet", false, false, change{1, "cdc", "2026-05-10 10:00:00.000000", "", U}),
			}
		}, map[int64]string{1: "cdc"}, 0},
		{"timestamp beats file order", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false, change{1, "newer", "2026-05-10 10:00:05.000000", "", U}),
				part(t, "b", false, false, change{1, "older", "2026-05-10 10:00:01.000000", "", U}),
			}
		}, map[int64]string{1: "newer"}, 0},
		{"same timestamp: later file wins", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false, change{1, "first", "2026-05-10 10:00:00.000000", "", U}),
				part(t, "b", false, false, change{1, "second", "2026-05-10 10:00:00.000000", "", U}),
			}
		}, map[int64]string{1: "second"}, 0},
		{"same timestamp, same file: later row wins, delete then insert", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false,
					change{1, "x", "2026-05-10 10:00:00.000000", "", I},
					change{1, "", "2026-05-10 10:00:00.000000", "", D},
					change{1, "back", "2026-05-10 10:00:00.000000", "", I},
					change{2, "y", "2026-05-10 10:00:00.000000", "", I},
					change{2, "", "2026-05-10 10:00:00.000000", "", D}),
			}
		}, map[int64]string{1: "back"}, 1},
		{"change sequence beats timestamp and position", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, true, change{1, "seq-high", "2026-05-10 10:00:00.000000", "20260510100000000000000000000000099", U}),
				part(t, "b", false, true, change{1, "seq-low", "2026-05-10 10:00:09.000000", "20260510100000000000000000000000010", U}),
			}
		}, map[int64]string{1: "seq-high"}, 0},
		{"change sequences of different length compare as numbers", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, true, change{1, "ten", "2026-05-10 10:00:00.000000", "10", U}),
				part(t, "b", false, true, change{1, "nine", "2026-05-10 10:00:00.000000", "9", U}),
			}
		}, map[int64]string{1: "ten"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, dels := latest(t, tc.parts(t)...)
			if len(got) != len(tc.want) || dels != tc.deletes {
				t.Fatalf("got %v (%d deletes), want %v (%d deletes)", got, dels, tc.want, tc.deletes)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("key %d: got %q want %q (all %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestNullKeyNamesFileRowColumn(t *testing.T) {
	p := part(t, "shop/orders/20260510-100000000.parquet", false, false,
		change{1, "a", "2026-05-10 10:00:00.000000", "", I},
		change{-1, "b", "2026-05-10 10:00:00.000000", "", I})
	_, err := dedupe.Latest(context.Background(), []dedupe.Part{p}, dedupe.Options{Key: []string{"id"}}, memory.DefaultAllocator)
	var fe *reader.FileError
	if !errors.As(err, &fe) || fe.Row != 1 || fe.Column != "id" || !strings.Contains(err.Error(), "shop/orders/20260510-100000000.parquet") {
		t.Fatalf("want a FileError naming file, row 1 and column id, got %v", err)
	}
}

func TestKeyEncodingOrder(t *testing.T) {
	// Encodings must compare like the values, for pruning by bounds.
	ints := []int64{-1 << 62, -5, -1, 0, 1, 7, 1 << 40}
	for i := 1; i < len(ints); i++ {
		if string(dedupe.AppendInt(nil, ints[i-1])) >= string(dedupe.AppendInt(nil, ints[i])) {
			t.Fatalf("int %d does not sort before %d", ints[i-1], ints[i])
		}
	}
	strs := []string{"", "a", "a\x00", "a\x00b", "ab", "b"}
	for i := 1; i < len(strs); i++ {
		if string(dedupe.AppendBytes(nil, []byte(strs[i-1]))) >= string(dedupe.AppendBytes(nil, []byte(strs[i]))) {
			t.Fatalf("%q does not sort before %q", strs[i-1], strs[i])
		}
	}
	// Composite keys: ("a","b") and ("ab","") must differ.
	x := dedupe.AppendBytes(dedupe.AppendBytes(nil, []byte("a")), []byte("b"))
	y := dedupe.AppendBytes(dedupe.AppendBytes(nil, []byte("ab")), []byte(""))
	if string(x) == string(y) {
		t.Fatal("composite encodings collide")
	}
}

// TestOrderRandom compares Latest with a naive replay of the ordering
// rules on random streams: parts whose timestamps ascend or not, overlap
// or not, with and without change sequences (some null), ties, LOAD parts
// first. The winner of a key is the change with the greatest (CDC over
// LOAD, order value, part, row), the order value being the change sequence
// left-padded to 40 digits after "~" where the row has one, else the
// timestamp.
func TestOrderRandom(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewSource(seed))
		var parts []dedupe.Part
		type cand struct {
			load      bool
			order     string
			part, row int
			value     string
			op        byte
		}
		best := map[int64]cand{}
		better := func(a, b cand) bool { // a after b in stream order
			if a.load != b.load {
				return !a.load
			}
			return a.order >= b.order
		}
		nparts := 1 + r.Intn(6)
		loads := r.Intn(3)
		base := 1000
		for pi := 0; pi < nparts; pi++ {
			load := pi < loads
			withSeq := !load && r.Intn(3) == 0
			var rows []change
			n := 1 + r.Intn(30)
			ascending := r.Intn(2) == 0
			if r.Intn(3) == 0 {
				base -= r.Intn(20) // overlaps the part before
			}
			for i := 0; i < n; i++ {
				ts := base + r.Intn(15)
				if ascending {
					base += r.Intn(3)
					ts = base
				}
				c := change{id: int64(r.Intn(12)), v: fmt.Sprintf("p%d-r%d", pi, i), ts: fmt.Sprintf("2026-05-10 10:%02d:%02d.000000", ts/60%60, ts%60), op: []byte{I, U, D}[r.Intn(3)]}
				if load {
					c.op = I
				}
				if withSeq && r.Intn(4) != 0 {
					c.seq = fmt.Sprint(r.Intn(5000))
				}
				rows = append(rows, c)
				order := c.ts
				if c.seq != "" {
					order = "~" + strings.Repeat("0", 40-len(c.seq)) + c.seq
				}
				if load {
					order = ""
				}
				cd := cand{load: load, order: order, part: pi, row: i, value: c.v, op: c.op}
				if cur, ok := best[c.id]; !ok || better(cd, cur) {
					best[c.id] = cd
				}
			}
			p := part(t, fmt.Sprintf("p%d", pi), load, withSeq, rows...)
			if r.Intn(2) == 0 {
				// The order columns as the reader keeps DMS's
				// dictionary-encoded strings.
				p.Record = asDictionaries(t, p.Record, r)
			}
			parts = append(parts, p)
		}
		got, dels := latest(t, parts...)
		want := map[int64]string{}
		var wantDels int64
		for k, c := range best {
			if c.op == D {
				wantDels++
			} else {
				want[k] = c.value
			}
		}
		if dels != wantDels || len(got) != len(want) {
			t.Fatalf("seed %d: %d upserts, %d deletes; want %d, %d", seed, len(got), dels, len(want), wantDels)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("seed %d: key %d = %q, want %q", seed, k, got[k], v)
			}
		}
		for _, p := range parts {
			p.Record.Release()
		}
	}
}

// asDictionaries returns rec (released) with its string columns but the
// first two as dictionary arrays whose dictionaries list the values in a
// random order.
func asDictionaries(t *testing.T, rec arrow.RecordBatch, r *rand.Rand) arrow.RecordBatch {
	t.Helper()
	defer rec.Release()
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		s, ok := c.(*array.String)
		if i < 2 || !ok {
			c.Retain()
			cols[i] = c
			continue
		}
		var distinct []string
		seen := map[string]int32{}
		for j := 0; j < s.Len(); j++ {
			if _, dup := seen[s.Value(j)]; !dup && s.IsValid(j) {
				seen[s.Value(j)] = 0
				distinct = append(distinct, s.Value(j))
			}
		}
		r.Shuffle(len(distinct), func(a, b int) { distinct[a], distinct[b] = distinct[b], distinct[a] })
		vb := array.NewStringBuilder(memory.DefaultAllocator)
		for k, v := range distinct {
			seen[v] = int32(k)
			vb.Append(v)
		}
		ib := array.NewInt32Builder(memory.DefaultAllocator)
		for j := 0; j < s.Len(); j++ {
			if s.IsNull(j) {
				ib.AppendNull()
			} else {
				ib.Append(seen[s.Value(j)])
			}
		}
		values, idx := vb.NewArray(), ib.NewArray()
		cols[i] = array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, idx, values)
		fields[i].Type = cols[i].DataType()
		values.Release()
		idx.Release()
		vb.Release()
		ib.Release()
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// TestScanResult: a Scan fed parts one by one gives Latest's result when
// Result gets the same rows (here as conformed copies with dictionary
// order columns), and ErrScanMismatch when the parts differ in number,
// file, rows or the type of a key or order column.
func TestScanResult(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewSource(3))
	mk := func() []dedupe.Part {
		return []dedupe.Part{
			part(t, "a", false, true, change{1, "a1", "2026-05-10 10:00:01.000000", "5", U}, change{2, "a2", "2026-05-10 10:00:02.000000", "", I}),
			part(t, "b", false, true, change{1, "b1", "2026-05-10 10:00:00.000000", "", U}, change{3, "", "2026-05-10 10:00:03.000000", "", D}),
		}
	}
	opt := dedupe.Options{Key: []string{"id"}, TimestampColumn: "commit_ts"}
	scan := func(parts []dedupe.Part) *dedupe.Scan {
		s, err := dedupe.NewScan(opt, dedupe.FixedWidthKey(parts, opt.Key), 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if err := s.Add(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	scanned := mk()
	conformed := mk()
	for i := range conformed {
		conformed[i].Record = asDictionaries(t, conformed[i].Record, r)
	}
	res, err := scan(scanned).Result(ctx, conformed, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, rec := range res.Upserts {
		for i := 0; i < int(rec.NumRows()); i++ {
			got[rec.Column(0).(*array.Int64).Value(i)] = rec.Column(1).(*array.String).Value(i)
		}
	}
	res.Release()
	want, dels := latest(t, mk()...)
	if len(got) != len(want) || res.Deletes != dels || got[1] != "a1" {
		t.Fatalf("scan result %v (%d deletes), Latest %v (%d deletes)", got, res.Deletes, want, dels)
	}

	// A key column of another type (int32 where the scan saw int64).
	int32Key := mk()
	for i, p := range int32Key {
		col, err := reader.Convert(p.Record.Column(0), arrow.PrimitiveTypes.Int32, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		fields := append([]arrow.Field(nil), p.Record.Schema().Fields()...)
		fields[0].Type = arrow.PrimitiveTypes.Int32
		cols := append([]arrow.Array{col}, p.Record.Columns()[1:]...)
		int32Key[i].Record = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, p.Record.NumRows())
	}
	renamed := mk()
	renamed[1].Path = "c"
	for name, parts := range map[string][]dedupe.Part{"fewer parts": mk()[:1], "another file": renamed, "fewer rows": {mk()[0], {Path: "b", Record: mk()[1].Record.NewSlice(0, 1), Ops: []byte{U}}}, "key type": int32Key} {
		if _, err := scan(mk()).Result(ctx, parts, memory.DefaultAllocator); !errors.Is(err, dedupe.ErrScanMismatch) {
			t.Errorf("%s: %v, want ErrScanMismatch", name, err)
		}
	}
}
