package writer_test

import (
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/writer"
)

// TestBudget: a memory budget caps the row groups and the writer queues,
// and drops parallel writers rather than make row groups tiny; no budget
// leaves iceberg-go's defaults.
func TestBudget(t *testing.T) {
	for _, c := range []struct {
		opt      writer.Options
		parallel int
		rowGroup int64
		queued   int
	}{
		{writer.Options{Parallel: 2}, 2, 0, 0},
		{writer.Options{Parallel: 2, Memory: 768 << 20}, 2, 48 << 20, 2},
		{writer.Options{Parallel: 4, Memory: 8 << 30}, 4, 128 << 20, 2},
		{writer.Options{Parallel: 2, Memory: 64 << 20}, 1, 8 << 20, 2},
		{writer.Options{Parallel: 2, Memory: 1 << 20}, 1, 2 << 20, 2},
	} {
		p, rg, q := c.opt.Budget()
		if p != c.parallel || rg != c.rowGroup || q != c.queued {
			t.Errorf("%+v: Budget() = %d, %d, %d; want %d, %d, %d", c.opt, p, rg, q, c.parallel, c.rowGroup, c.queued)
		}
	}
}

// TestDataFilesUnderBudget: under a small budget the files written hold
// every row, in row groups of about the budget's row group size (a row
// group closes at the first batch past it), while the table's own
// properties stay as they were; a table with smaller row groups of its own
// keeps them.
func TestDataFilesUnderBudget(t *testing.T) {
	t.Run("budget", func(t *testing.T) { dataFilesUnderBudget(t, 0, 2) })
	t.Run("own-smaller", func(t *testing.T) { dataFilesUnderBudget(t, 512<<10, 4) })
}

// dataFilesUnderBudget writes 160k rows of random text (about 3 MB
// compressed) into a table with row groups of own bytes (0: not set) under
// a 1 MiB budget, and wants at least minGroups row groups.
func dataFilesUnderBudget(t *testing.T, own int64, minGroups int) {
	ctx := context.Background()
	wh := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: false},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.String, Required: false})
	props := iceberg.Properties{}
	if own > 0 {
		props[table.ParquetRowGroupSizeBytesKey] = fmt.Sprint(own)
	}
	tbl, err := catalog.CreateTable(ctx, cat, table.Identifier{"db", "t"}, sc, props)
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	const batches, rows = 40, 4096
	r := rand.New(rand.NewSource(1))
	records := func(yield func(arrow.RecordBatch, error) bool) {
		for b := 0; b < batches; b++ {
			bld := array.NewRecordBuilder(memory.DefaultAllocator, asc)
			for i := 0; i < rows; i++ {
				bld.Field(0).(*array.Int64Builder).Append(int64(b*rows + i))
				bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()))
			}
			rec := bld.NewRecordBatch()
			bld.Release()
			if !yield(rec, nil) {
				return
			}
		}
	}
	opt := writer.Options{Parallel: 2, Memory: 1 << 20}
	_, rowGroup, _ := opt.Budget()
	if own > 0 {
		rowGroup = min(rowGroup, own)
	}
	files, err := writer.DataFiles(ctx, tbl, asc, records, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files written; a 1 MiB budget allows one writer", len(files))
	}
	var total int64
	groups := 0
	for _, df := range files {
		total += df.Count()
		u, err := url.Parse(df.FilePath())
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := file.OpenParquetFile(filepath.FromSlash(u.Path), false)
		if err != nil {
			t.Fatal(err)
		}
		md := rdr.MetaData()
		for i := 0; i < md.NumRowGroups(); i++ {
			// One batch of 4096 rows compresses to well under a MiB.
			if size := md.RowGroup(i).TotalCompressedSize(); size > rowGroup+1<<20 {
				t.Errorf("%s: row group %d is %d bytes, budget %d", df.FilePath(), i, size, rowGroup)
			}
		}
		groups += md.NumRowGroups()
		rdr.Close()
	}
	if total != batches*rows {
		t.Fatalf("files hold %d rows, want %d", total, batches*rows)
	}
	if groups < minGroups {
		t.Fatalf("%d row groups for %d rows of random text, want at least %d: the row group size (%d bytes) was not applied", groups, total, minGroups, rowGroup)
	}
	if got, want := tbl.Properties()[table.ParquetRowGroupSizeBytesKey], props[table.ParquetRowGroupSizeBytesKey]; got != want {
		t.Fatalf("the table's row group size property changed: %q, was %q", got, want)
	}
}
