package merge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestBadRowsLeaveTableUntouched: a CDC file with a new column and a bad
// row (a null key, or a DMS timestamp that does not sort like a time)
// fails naming the file, row and column, and the table keeps its schema,
// snapshot and checkpoint: no schema change is committed for a batch that
// cannot be applied.
func TestBadRowsLeaveTableUntouched(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		row    []any
		column string
		msg    string
	}{
		{"null key", []any{"U", "2026-05-10 11:00:00.000000", nil, "x"}, "id", "key column is null"},
		{"odd timestamp", []any{"U", "yesterday", int64(1), "x"}, "commit_ts", "is not of the form"},
		{"null timestamp", []any{"U", nil, int64(1), "x"}, "commit_ts", "timestamp is null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			src := reader.DirSource{Root: root}
			dir := filepath.Join(root, "s", "t")
			base := arrow.NewSchema([]arrow.Field{
				{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
				{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			}, nil)
			write := func(name string, sc *arrow.Schema, rows [][]any) {
				t.Helper()
				os.MkdirAll(dir, 0o755)
				f, err := os.Create(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := gen.WriteParquet(f, sc, rows); err != nil {
					t.Fatal(err)
				}
			}
			write("LOAD00000001.parquet", base, [][]any{{"2026-05-10 09:00:00.000000", int64(1)}})
			cat := openCatalog(t, filepath.Join(root, "wh"))
			ident := []string{"s", "t"}
			if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "s.t"), ident, merge.Options{Key: []string{"id"}}); err != nil {
				t.Fatal(err)
			}
			before, _ := cat.LoadTable(ctx, ident)
			wider := arrow.NewSchema(append(base.Fields(), arrow.Field{Name: "new_col", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
			write("20260510-110000000.parquet", gen.CDCSchema(wider), [][]any{{"I", "2026-05-10 11:00:00.000000", int64(2), "ok"}, tc.row})
			_, err := merge.Table(ctx, cat, src, tableFiles(t, src, "s.t"), ident, merge.Options{Key: []string{"id"}})
			var fe *reader.FileError
			if !errors.As(err, &fe) || fe.Row != 1 || fe.Column != tc.column || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "20260510-110000000.parquet") {
				t.Fatalf("want an error naming the file, row 1 and column %s (%q), got %v", tc.column, tc.msg, err)
			}
			after, _ := cat.LoadTable(ctx, ident)
			if after.MetadataLocation() != before.MetadataLocation() || after.Schema().ID != before.Schema().ID {
				t.Fatalf("the failed batch changed the table: %s -> %s", before.MetadataLocation(), after.MetadataLocation())
			}
		})
	}
}
