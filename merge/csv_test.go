package merge_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestCSVEqualsParquet merges the same generated change stream written as
// DMS CSV (in several dialects, with the external table definition giving
// names, types and key) and as Parquet, and checks both tables hold the
// same rows; then merges more CSV into the existing table without the
// definition (the table's columns are used).
func TestCSVEqualsParquet(t *testing.T) {
	ctx := context.Background()
	cfg := gen.Config{Tables: []string{"shop.orders", "shop.order_items"}, Rows: 300, Changes: 300, CDCFiles: 4, Seed: 3}
	var def bytes.Buffer
	if err := gen.WriteTableDefinition(&def, cfg.Tables); err != nil {
		t.Fatal(err)
	}
	defs, err := reader.ParseTableDefinition(def.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pq := reader.DirSource{Root: t.TempDir()}
	if _, err := gen.Generate(ctx, gen.DirSink(pq.Root), cfg); err != nil {
		t.Fatal(err)
	}
	for i, dialect := range []struct {
		w gen.CSVOptions
		r reader.CSVOptions
	}{
		{gen.CSVOptions{}, reader.CSVOptions{}},
		{gen.CSVOptions{Delimiter: '|', NullValue: "NULL", Gzip: true}, reader.CSVOptions{Delimiter: '|', NullValue: "NULL"}},
		{gen.CSVOptions{Header: true, Delimiter: ';'}, reader.CSVOptions{Header: true, Delimiter: ';'}},
	} {
		t.Run(fmt.Sprintf("dialect%d", i), func(t *testing.T) {
			csv := reader.DirSource{Root: t.TempDir()}
			if _, err := gen.GenerateCSV(ctx, gen.DirSink(csv.Root), cfg, dialect.w); err != nil {
				t.Fatal(err)
			}
			for _, td := range defs {
				ident := []string{td.Schema, td.Table}
				want := mergeAll(t, pq, td.Ident(), ident, merge.Options{Key: td.Key})
				got := mergeAll(t, csv, td.Ident(), ident, merge.Options{Key: td.Key, CSV: dialect.r, CSVSchema: td.ArrowSchema()})
				if len(want) < 100 {
					t.Fatalf("%s: only %d rows", td.Ident(), len(want))
				}
				if d := testutil.Diff(want, got, 10); d != "" {
					t.Fatalf("%s: CSV table differs from Parquet table:\n%s", td.Ident(), d)
				}
			}
		})
	}
}

// mergeAll merges every file of table name in src into a new warehouse and
// returns the rows.
func mergeAll(t *testing.T, src reader.DirSource, name string, ident []string, opt merge.Options) testutil.Rows {
	t.Helper()
	ctx := context.Background()
	cat := openCatalog(t, filepath.Join(t.TempDir(), "wh"))
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, name), ident, opt); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	var key []string
	for _, id := range tbl.Schema().IdentifierFieldIDs {
		f, _ := tbl.Schema().FindFieldByID(id)
		key = append(key, f.Name)
	}
	rows, err := testutil.ReadTable(ctx, tbl, key)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
