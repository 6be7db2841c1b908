package merge_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestTypesRoundTrip merges a LOAD and a CDC file covering every physical
// and logical layout DMS writes and checks each column's Iceberg type and
// every value in the table.
func TestTypesRoundTrip(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	cases, err := gen.WriteTypesFixture(ctx, gen.DirSink(src.Root), "src", "types")
	if err != nil {
		t.Fatal(err)
	}
	cat := openCatalog(t, filepath.Join(root, "wh"))
	ident := []string{"src", "types"}
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "src.types"), ident, merge.Options{Key: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.ReadTable(ctx, tbl, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	sc := tbl.Schema()
	for _, tc := range cases {
		f, ok := sc.FindFieldByName(tc.Column)
		if !ok {
			t.Errorf("%s (%s): column missing from the table", tc.Column, tc.Layout)
			continue
		}
		if f.Type.String() != tc.Iceberg {
			t.Errorf("%s (%s): Iceberg type %s, want %s", tc.Column, tc.Layout, f.Type, tc.Iceberg)
		}
		if len(got) != len(tc.Values) {
			t.Errorf("%s: table has %d rows, want %d", tc.Column, len(got), len(tc.Values))
		}
		for id, want := range tc.Values {
			row, ok := got[strconv.FormatInt(id, 10)]
			if !ok {
				t.Errorf("%s: id %d missing", tc.Column, id)
				continue
			}
			if g, w := row[tc.Column], testutil.Value(want); g != w {
				t.Errorf("%s (%s), id %d: got %s want %s", tc.Column, tc.Layout, id, g, w)
			}
		}
	}
}
