package merge_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestDocumentDB merges generated DocumentDB document-mode output (nested
// documents, canonical and relaxed extended JSON, a field whose type drifts
// from int to string, deletes carrying only _id) in several runs, and
// checks the table holds exactly the expected documents' _ids with their
// string fields, as real nested columns.
func TestDocumentDB(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{merge.CopyOnWrite, merge.MergeOnRead} {
		t.Run(mode, func(t *testing.T) {
			cfg := gen.DocDBConfig{Collection: "appdb.users", Docs: 60, Changes: 120, CDCFiles: 4, Seed: 4}
			_, _, final, err := gen.GenerateDocDBChanges(cfg)
			if err != nil {
				t.Fatal(err)
			}
			src := reader.DirSource{Root: t.TempDir()}
			if _, err := gen.GenerateDocDB(ctx, gen.DirSink(src.Root), cfg); err != nil {
				t.Fatal(err)
			}
			cat := openCatalog(t, filepath.Join(t.TempDir(), "wh"))
			ident := []string{"appdb", "users"}
			tf := tableFiles(t, src, "appdb.users")
			if len(tf.CDC) != 4 {
				t.Fatalf("%d CDC files", len(tf.CDC))
			}
			// Two runs: the second evolves the schema the first created.
			first := tf
			first.CDC = tf.CDC[:2]
			for _, files := range []reader.TableFiles{first, tf} {
				if _, err := merge.Table(ctx, cat, src, files, ident, merge.Options{Key: []string{"_id"}, BatchFiles: 2, WriteMode: mode}); err != nil {
					t.Fatal(err)
				}
			}
			tbl, err := cat.LoadTable(ctx, ident)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := testutil.ReadTable(ctx, tbl, []string{"_id"})
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for id := range final {
				want = append(want, "s:"+id)
			}
			for k := range rows {
				got = append(got, k)
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(want, ",") != strings.Join(got, ",") {
				t.Fatalf("_ids differ:\nwant %v\n got %v", want, got)
			}
			nested := false
			for _, f := range tbl.Schema().Fields() {
				if f.Type.String() != "" && strings.HasPrefix(f.Type.String(), "struct") {
					nested = true
				}
			}
			if !nested {
				t.Fatalf("no nested struct column in %s", tbl.Schema())
			}
			checked := 0
			for id, text := range final {
				doc, err := reader.ParseDocument([]byte(text))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range doc.Fields {
					s, ok := f.Value.(string)
					if !ok || f.Key == "_id" {
						continue
					}
					// A string that conflicts with the column's type (the
					// drifting age) is in the JSON fallback sibling.
					row := rows["s:"+id]
					col := strings.ToLower(f.Key)
					if g, j := row[col], row[col+"__json"]; g != "s:"+s && j != "s:\""+s+"\"" {
						t.Fatalf("_id %s field %s: table has %s (json %s), want %q", id, f.Key, g, j, s)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("no string field checked")
			}
		})
	}
}
