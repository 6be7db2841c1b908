package catalog_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/pgtest"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestPostgresSQLCatalog keeps the SQL catalog in a real PostgreSQL server
// (a shared catalog for teams) and checks the merged table equals the one
// the embedded SQLite catalog holds, and that a rerun commits nothing.
func TestPostgresSQLCatalog(t *testing.T) {
	uri := pgtest.Start(t)
	ctx := context.Background()
	src := reader.DirSource{Root: t.TempDir()}
	if _, err := gen.Generate(ctx, gen.DirSink(src.Root), gen.Config{Tables: []string{"shop.orders"}, Rows: 500, Changes: 400, CDCFiles: 4, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	tables, _, err := reader.Discover(ctx, src)
	if err != nil || len(tables) != 1 {
		t.Fatalf("discover: %v", err)
	}
	ident := []string{"shop", "orders"}
	read := func(cfg catalog.Config) testutil.Rows {
		t.Helper()
		cat, err := catalog.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for run := 0; run < 2; run++ {
			st, err := merge.Table(ctx, cat, src, tables[0], ident, merge.Options{Key: []string{"order_id"}, BatchFiles: 2})
			if err != nil {
				t.Fatal(err)
			}
			if run == 1 && st.Commits != 0 {
				t.Fatalf("rerun committed %d times", st.Commits)
			}
		}
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := testutil.ReadTable(ctx, tbl, []string{"order_id"})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	got := read(catalog.Config{Warehouse: filepath.Join(t.TempDir(), "wh"), URI: uri})
	want := read(catalog.Config{Warehouse: filepath.Join(t.TempDir(), "wh")})
	if len(want) < 500 {
		t.Fatalf("only %d rows", len(want))
	}
	if d := testutil.Diff(want, got, 10); d != "" {
		t.Fatalf("PostgreSQL-backed table differs:\n%s", d)
	}
}
