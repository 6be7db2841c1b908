package writer_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/writer"
)

// directSchema has a column of every type the direct writer takes:
// an ascending key, random and low-cardinality values, nulls, strings
// of few and of many distinct values.
var directSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	iceberg.NestedField{ID: 2, Name: "cust", Type: iceberg.PrimitiveTypes.Int32},
	iceberg.NestedField{ID: 3, Name: "status", Type: iceberg.PrimitiveTypes.String},
	iceberg.NestedField{ID: 4, Name: "note", Type: iceberg.PrimitiveTypes.String},
	iceberg.NestedField{ID: 5, Name: "uniq", Type: iceberg.PrimitiveTypes.String},
	iceberg.NestedField{ID: 6, Name: "amount", Type: iceberg.DecimalTypeOf(12, 2)},
	iceberg.NestedField{ID: 7, Name: "at", Type: iceberg.PrimitiveTypes.Timestamp},
	iceberg.NestedField{ID: 8, Name: "day", Type: iceberg.PrimitiveTypes.Date},
	iceberg.NestedField{ID: 9, Name: "gift", Type: iceberg.PrimitiveTypes.Bool},
	iceberg.NestedField{ID: 10, Name: "score", Type: iceberg.PrimitiveTypes.Float64},
	iceberg.NestedField{ID: 11, Name: "blob", Type: iceberg.PrimitiveTypes.Binary},
)

// directRecords makes batches of rows of directSchema: ids ascending from
// first (descending when desc), every nullable column null in some rows,
// a column with a single null-free value; uniq has a distinct value per
// row (too many for the direct writer's dictionary).
func directRecords(sc *arrow.Schema, seed int64, batches, rows int, first int64, desc bool) []arrow.RecordBatch {
	r := rand.New(rand.NewSource(seed))
	statuses := []string{"new", "paid", "shipped", "côté", "配達"}
	var out []arrow.RecordBatch
	id := first
	for b := 0; b < batches; b++ {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		for i := 0; i < rows; i++ {
			bld.Field(0).(*array.Int64Builder).Append(id)
			if desc {
				id--
			} else {
				id++
			}
			nul := r.Intn(10) == 0
			if nul {
				bld.Field(1).AppendNull()
			} else {
				bld.Field(1).(*array.Int32Builder).Append(int32(r.Intn(50000)) - 100)
			}
			bld.Field(2).(*array.StringBuilder).Append(statuses[r.Intn(len(statuses))])
			if nul {
				bld.Field(3).AppendNull()
			} else {
				bld.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("note %d", r.Intn(300)))
			}
			bld.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("u%d-%d", id, r.Int63()))
			bld.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(r.Int63n(2_000_000) - 1000))
			bld.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + r.Int63n(1e12)))
			bld.Field(7).(*array.Date32Builder).Append(arrow.Date32(19000 + r.Intn(400)))
			bld.Field(8).(*array.BooleanBuilder).Append(r.Intn(7) == 0)
			bld.Field(9).(*array.Float64Builder).Append(r.NormFloat64())
			if nul {
				bld.Field(10).AppendNull()
			} else {
				bld.Field(10).(*array.BinaryBuilder).Append([]byte{byte(r.Intn(4)), 0, byte(r.Intn(256))})
			}
		}
		out = append(out, bld.NewRecordBatch())
		bld.Release()
	}
	return out
}

func seqOf(recs []arrow.RecordBatch) func(func(arrow.RecordBatch, error) bool) {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range recs {
			r.Retain()
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestDirectWriter: the files the direct writer writes read back as the
// rows given (through iceberg-go's scan), and their Iceberg metadata
// (value and null counts, lower and upper bounds per column, row count)
// equals what iceberg-go's own writer records for the same rows; the key
// column of ascending ids is delta encoded and the low-cardinality strings
// dictionary encoded, the column of distinct strings plain.
func TestDirectWriter(t *testing.T) {
	ctx := context.Background()
	cat, tbl, asc, recs := directTable(t, "direct", iceberg.Properties{
		"write.parquet.compression-level":                 "1",
		"write.parquet.dict-encoding-enabled.column.id":   "false",
		"write.parquet.dict-encoding-enabled.column.cust": "false",
	}, 7, 12, 5000, 1, false)
	files, err := writer.DataFiles(ctx, tbl, asc, seqOf(recs), writer.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files, want one per writer", len(files))
	}
	// The same rows, one writer each way, so the two files hold equal rows.
	direct, err := writer.DataFiles(ctx, tbl, asc, seqOf(recs), writer.Options{Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	var reference []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, asc, seqOf(recs)) {
		if err != nil {
			t.Fatal(err)
		}
		reference = append(reference, df)
	}
	if len(direct) != 1 || len(reference) != 1 {
		t.Fatalf("%d direct and %d reference files, want 1 each", len(direct), len(reference))
	}
	d, ref := direct[0], reference[0]
	if d.Count() != ref.Count() || d.Count() != 60000 {
		t.Fatalf("row count %d, iceberg-go's %d, want 60000", d.Count(), ref.Count())
	}
	for id := 1; id <= 11; id++ {
		if d.ValueCounts()[id] != ref.ValueCounts()[id] {
			t.Errorf("field %d: value count %d, iceberg-go's %d", id, d.ValueCounts()[id], ref.ValueCounts()[id])
		}
		if d.NullValueCounts()[id] != ref.NullValueCounts()[id] {
			t.Errorf("field %d: null count %d, iceberg-go's %d", id, d.NullValueCounts()[id], ref.NullValueCounts()[id])
		}
		if !bytes.Equal(d.LowerBoundValues()[id], ref.LowerBoundValues()[id]) || !bytes.Equal(d.UpperBoundValues()[id], ref.UpperBoundValues()[id]) {
			t.Errorf("field %d: bounds %x..%x, iceberg-go's %x..%x", id, d.LowerBoundValues()[id], d.UpperBoundValues()[id],
				ref.LowerBoundValues()[id], ref.UpperBoundValues()[id])
		}
	}
	if d.NullValueCounts()[4] == 0 || len(d.LowerBoundValues()[1]) != 8 {
		t.Fatalf("statistics missing: null counts %v, lower bounds %v", d.NullValueCounts(), d.LowerBoundValues())
	}

	// Encodings chosen per column.
	enc := columnEncodings(t, d.FilePath())
	if !slices.Contains(enc["id"], parquet.Encodings.DeltaBinaryPacked) {
		t.Errorf("ascending id column encodings %v, want delta", enc["id"])
	}
	for _, c := range []string{"status", "note"} {
		if !slices.Contains(enc[c], parquet.Encodings.RLEDict) {
			t.Errorf("%s encodings %v, want a dictionary", c, enc[c])
		}
	}
	if slices.Contains(enc["uniq"], parquet.Encodings.RLEDict) || slices.Contains(enc["cust"], parquet.Encodings.DeltaBinaryPacked) {
		t.Errorf("uniq encodings %v, want plain; cust %v, want no delta (random)", enc["uniq"], enc["cust"])
	}

	// Committed, the two writers' files read back the rows given.
	if _, err := catalog.Apply(ctx, tbl, catalog.Commit{Add: files}); err != nil {
		t.Fatal(err)
	}
	tbl, err = catalog.LoadTable(ctx, cat, table.Identifier{"db", "direct"})
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, scanStrings(t, tbl), rowStrings(t, recs))
}

// sameRows fails unless got and want hold the same rows, in any order.
func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("scan: %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("scan row %d (sorted):\n got  %s\n want %s", i, got[i], want[i])
		}
	}
}

// TestDirectWriterDescendingAndRolling: descending ids are not delta
// encoded; a small target file size rolls files, and every row of the
// records (given as slices) is in exactly one of them.
func TestDirectWriterDescendingAndRolling(t *testing.T) {
	ctx := context.Background()
	cat, tbl, asc, recs := directTable(t, "roll", iceberg.Properties{
		"write.parquet.dict-encoding-enabled.column.id": "false",
		table.ParquetRowGroupSizeBytesKey:               fmt.Sprint(256 << 10),
	}, 3, 20, 3000, 1_000_000, true)
	// Each record is given as two slices (offsets into shared buffers).
	sliced := func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range recs {
			k := r.NumRows() / 3
			for _, part := range []arrow.RecordBatch{r.NewSlice(0, k), r.NewSlice(k, r.NumRows())} {
				if !yield(part, nil) {
					return
				}
			}
		}
	}
	files, err := writer.DataFiles(ctx, tbl, asc, sliced, writer.Options{Parallel: 1, TargetFileSize: 400 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("%d files for about 2 MB of rows at a 400 KiB target", len(files))
	}
	var rows int64
	for _, df := range files {
		rows += df.Count()
		if enc := columnEncodings(t, df.FilePath()); slices.Contains(enc["id"], parquet.Encodings.DeltaBinaryPacked) {
			t.Errorf("%s: descending ids delta encoded", df.FilePath())
		}
	}
	if rows != 60000 {
		t.Fatalf("files hold %d rows, want 60000", rows)
	}
	if _, err := catalog.Apply(ctx, tbl, catalog.Commit{Add: files}); err != nil {
		t.Fatal(err)
	}
	tbl, err = catalog.LoadTable(ctx, cat, table.Identifier{"db", "roll"})
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, scanStrings(t, tbl), rowStrings(t, recs))
}

// directTable creates table db.<name> of directSchema with props in a new
// warehouse and makes records for it (see directRecords), released when
// the test ends.
func directTable(t *testing.T, name string, props iceberg.Properties, seed int64, batches, rows int, first int64, desc bool) (icecat.Catalog, *table.Table, *arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := catalog.CreateTable(ctx, cat, table.Identifier{"db", name}, directSchema, props)
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	recs := directRecords(asc, seed, batches, rows, first, desc)
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return cat, tbl, asc, recs
}

// columnEncodings lists the encodings of each column's first chunk.
func columnEncodings(t *testing.T, path string) map[string][]parquet.Encoding {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := file.OpenParquetFile(filepath.FromSlash(u.Path), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	out := map[string][]parquet.Encoding{}
	rg := rdr.MetaData().RowGroup(0)
	for c := 0; c < rg.NumColumns(); c++ {
		cc, err := rg.ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		out[cc.PathInSchema().String()] = cc.Encodings()
	}
	return out
}

// rowStrings renders every row of recs, in order.
func rowStrings(t *testing.T, recs []arrow.RecordBatch) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			out = append(out, rowString(r, i))
		}
	}
	return out
}

func rowString(r arrow.RecordBatch, i int) string {
	var b bytes.Buffer
	for c := 0; c < int(r.NumCols()); c++ {
		col := r.Column(c)
		if col.IsNull(i) {
			b.WriteString("null|")
			continue
		}
		b.WriteString(col.ValueStr(i))
		b.WriteByte('|')
	}
	return b.String()
}

// scanStrings renders every row of the table's scan.
func scanStrings(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	_, recs, err := tbl.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(r.NumRows()); i++ {
			out = append(out, rowString(r, i))
		}
		r.Release()
	}
	return out
}
