package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// Correctness is the result of comparing the cdcmerge table with the
// reference.
type Correctness struct {
	Reference      string   `json:"reference"` // "duckdb" or "naive replay"
	Match          bool     `json:"match"`
	TableRows      int      `json:"table_rows"`
	ReferenceRows  int      `json:"reference_rows"`
	Missing        int      `json:"missing"`   // keys in the reference, not in the table
	Extra          int      `json:"extra"`     // keys in the table, not in the reference
	Different      int      `json:"different"` // keys whose row differs in some column
	ExampleKeys    []int64  `json:"example_keys,omitempty"`
	Columns        []string `json:"columns,omitempty"`
	Detail         string   `json:"detail,omitempty"`
	CompareSeconds float64  `json:"compare_seconds"`
}

// fingerprints maps order_id to a hash of every cell of the row, cells
// rendered by column name in a fixed (sorted) order, so two sources with
// the same rows in any row or column order compare equal.
type fingerprints struct {
	rows    map[int64]uint64
	columns []string
	dups    []int64
}

// reference is what tables are checked against: the DuckDB peer's output
// Parquet file or, without it, the naive replay of the generated stream.
// Its fingerprints are computed once for all the tables it checks, and
// dropped before the next timed process (the harness's own memory counts
// in a child's peak RSS, see runProc).
type reference struct {
	name    string
	fp      *fingerprints
	err     error
	seconds float64
}

// newReference reads duckOut or, when it is "", replays the generated
// stream of cfg from change number from on (the changes before it are not
// in the tables checked: the small batches continue the stream past the
// CDC files of the incremental merge, into a table loaded from the LOAD
// files only).
func newReference(ctx context.Context, duckOut string, cfg gen.Config, from int) *reference {
	t0 := time.Now()
	r := &reference{name: "naive replay"}
	if duckOut != "" {
		r.name = "duckdb"
		r.fp, r.err = parquetFingerprints(ctx, duckOut)
	} else {
		r.fp, r.err = replayFingerprints(cfg, from)
	}
	r.seconds = elapsed(t0)
	return r
}

// verify compares the current snapshot of the table in warehouse wh with
// ref. CompareSeconds covers reading the table, comparing, and computing
// the reference.
func verify(ctx context.Context, wh string, ref *reference, engineFailed bool) Correctness {
	c := Correctness{Reference: ref.name}
	if engineFailed {
		c.Detail = "cdcmerge failed; nothing to compare"
		return c
	}
	t0 := time.Now()
	got, err := tableFingerprints(ctx, wh)
	if err != nil {
		c.Detail = "reading the cdcmerge table: " + err.Error()
		return c
	}
	if ref.err != nil {
		c.Detail = "reading the reference: " + ref.err.Error()
		return c
	}
	compare(&c, got, ref.fp)
	c.CompareSeconds = elapsed(t0) + ref.seconds
	return c
}

func compare(c *Correctness, got, want *fingerprints) {
	c.TableRows, c.ReferenceRows = len(got.rows), len(want.rows)
	c.Columns = got.columns
	var details []string
	if strings.Join(got.columns, ",") != strings.Join(want.columns, ",") {
		details = append(details, fmt.Sprintf("columns differ: table %v, reference %v", got.columns, want.columns))
	}
	if len(got.dups) > 0 {
		details = append(details, fmt.Sprintf("%d duplicate keys in the table (e.g. %d)", len(got.dups), got.dups[0]))
	}
	if len(want.dups) > 0 {
		details = append(details, fmt.Sprintf("%d duplicate keys in the reference (e.g. %d)", len(want.dups), want.dups[0]))
	}
	var bad []int64
	for k, w := range want.rows {
		g, ok := got.rows[k]
		switch {
		case !ok:
			c.Missing++
			bad = append(bad, k)
		case g != w:
			c.Different++
			bad = append(bad, k)
		}
	}
	for k := range got.rows {
		if _, ok := want.rows[k]; !ok {
			c.Extra++
			bad = append(bad, k)
		}
	}
	sort.Slice(bad, func(a, b int) bool { return bad[a] < bad[b] })
	if len(bad) > 10 {
		bad = bad[:10]
	}
	c.ExampleKeys = bad
	if c.Missing+c.Extra+c.Different > 0 {
		details = append(details, fmt.Sprintf("%d missing, %d extra, %d different rows", c.Missing, c.Extra, c.Different))
	}
	c.Match = len(details) == 0
	c.Detail = strings.Join(details, "; ")
}

func newFingerprints(names []string) (*fingerprints, []int) {
	cols := make([]string, len(names))
	for i, n := range names {
		cols[i] = strings.ToLower(n)
	}
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return cols[order[a]] < cols[order[b]] })
	sorted := make([]string, len(cols))
	for i, o := range order {
		sorted[i] = cols[o]
	}
	return &fingerprints{rows: map[int64]uint64{}, columns: sorted}, order
}

// addRecords fingerprints Arrow record batches.
func addRecords(recs iter.Seq2[arrow.RecordBatch, error]) (*fingerprints, error) {
	var fp *fingerprints
	var order []int
	keyCol := -1
	for rec, err := range recs {
		if err != nil {
			return nil, err
		}
		sc := rec.Schema()
		if fp == nil {
			var names []string
			for _, f := range sc.Fields() {
				names = append(names, f.Name)
			}
			fp, order = newFingerprints(names)
			for i, f := range sc.Fields() {
				if strings.EqualFold(f.Name, Key) {
					keyCol = i
				}
			}
			if keyCol < 0 {
				rec.Release()
				return nil, fmt.Errorf("no %s column", Key)
			}
		}
		key, ok := rec.Column(keyCol).(*array.Int64)
		if !ok {
			rec.Release()
			return nil, fmt.Errorf("%s is %s, want int64", Key, rec.Column(keyCol).DataType())
		}
		h := fnv.New64a()
		for i := 0; i < int(rec.NumRows()); i++ {
			h.Reset()
			for j, c := range order {
				h.Write([]byte(fp.columns[j]))
				h.Write([]byte{'='})
				h.Write([]byte(cell(rec.Column(c), i)))
				h.Write([]byte{0})
			}
			fp.add(key.Value(i), h.Sum64())
		}
		rec.Release()
	}
	if fp == nil {
		fp = &fingerprints{rows: map[int64]uint64{}}
	}
	return fp, nil
}

func (fp *fingerprints) add(k int64, h uint64) {
	if _, dup := fp.rows[k]; dup {
		fp.dups = append(fp.dups, k)
	}
	fp.rows[k] = h
}

// tableFingerprints scans the current snapshot of the Iceberg table.
func tableFingerprints(ctx context.Context, wh string) (*fingerprints, error) {
	tbl, err := openTable(ctx, wh)
	if err != nil {
		return nil, err
	}
	if tbl.CurrentSnapshot() == nil {
		return &fingerprints{rows: map[int64]uint64{}}, nil
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		return nil, err
	}
	return addRecords(recs)
}

// openTable loads Table from the SQL catalog of warehouse wh.
func openTable(ctx context.Context, wh string) (*table.Table, error) {
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: wh})
	if err != nil {
		return nil, err
	}
	ident, err := catalog.Ident(Table)
	if err != nil {
		return nil, err
	}
	tbl, err := catalog.LoadTable(ctx, cat, ident)
	if err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, fmt.Errorf("table %s does not exist in %s", Table, wh)
	}
	return tbl, nil
}

// parquetFingerprints reads a Parquet file (the DuckDB output).
func parquetFingerprints(ctx context.Context, path string) (*fingerprints, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	return addRecords(func(yield func(arrow.RecordBatch, error) bool) {
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			if !yield(rec, nil) {
				return
			}
		}
		if err := rr.Err(); err != nil {
			yield(nil, err)
		}
	})
}

// replayFingerprints is the naive model: the generated change stream (the
// same rows gen wrote) applied row by row in memory, by the rules of the
// README: every LOAD row ranks below every CDC row; CDC rows are ordered by
// commit_ts, then file, then position; D deletes, I and U upsert. The first
// from changes of the stream are left out.
func replayFingerprints(cfg gen.Config, from int) (*fingerprints, error) {
	load, cdc, schema, _, err := gen.GenerateChanges(cfg, Table)
	if err != nil {
		return nil, err
	}
	var names []string
	keyIdx, tsIdx := -1, -1
	for i, f := range schema.Fields() {
		names = append(names, f.Name)
		if strings.EqualFold(f.Name, Key) {
			keyIdx = i
		}
		if f.Name == gen.TimestampColumn {
			tsIdx = i
		}
	}
	if keyIdx < 0 || tsIdx < 0 {
		return nil, fmt.Errorf("generated schema lacks %s or %s", Key, gen.TimestampColumn)
	}
	state := map[int64][]any{}
	for _, r := range load {
		state[r.Values[keyIdx].(int64)] = r.Values
	}
	var flat []gen.Row
	for _, f := range cdc {
		flat = append(flat, f...) // files in name order, rows in file order
	}
	if from > len(flat) {
		return nil, fmt.Errorf("replay from change %d of %d", from, len(flat))
	}
	flat = flat[from:] // stream order, so before or after the sort alike
	sort.SliceStable(flat, func(a, b int) bool {
		return flat[a].Values[tsIdx].(string) < flat[b].Values[tsIdx].(string)
	})
	for _, r := range flat {
		k := r.Values[keyIdx].(int64)
		if r.Op == "D" {
			delete(state, k)
		} else {
			state[k] = r.Values
		}
	}
	fp, order := newFingerprints(names)
	h := fnv.New64a()
	for k, vals := range state {
		h.Reset()
		for i, c := range order {
			h.Write([]byte(fp.columns[i]))
			h.Write([]byte{'='})
			h.Write([]byte(testutil.Value(vals[c])))
			h.Write([]byte{0})
		}
		fp.add(k, h.Sum64())
	}
	return fp, nil
}

// cell renders one Arrow value the way testutil.Value renders the Go value
// gen wrote, normalising the layouts different writers choose (large
// strings, narrow decimals, timestamp units).
func cell(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return testutil.Null
	}
	switch c := col.(type) {
	case *array.LargeString:
		return "s:" + c.Value(i)
	case *array.StringView:
		return "s:" + c.Value(i)
	case *array.Decimal32:
		return "d:" + strconv.FormatInt(int64(c.Value(i)), 10) + "/" + strconv.Itoa(int(c.DataType().(*arrow.Decimal32Type).Scale))
	case *array.Decimal64:
		return "d:" + strconv.FormatInt(int64(c.Value(i)), 10) + "/" + strconv.Itoa(int(c.DataType().(*arrow.Decimal64Type).Scale))
	case *array.Timestamp:
		v := int64(c.Value(i))
		switch c.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			v *= 1_000_000
		case arrow.Millisecond:
			v *= 1_000
		case arrow.Nanosecond:
			v /= 1_000
		}
		return "ts:" + strconv.FormatInt(v, 10)
	}
	return testutil.Cell(col, i)
}
