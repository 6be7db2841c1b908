package merge_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

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

// TestDocumentDBTableMode merges NestingLevel=one output (oid__id, dotted
// columns, arrays as JSON text) into nested columns, or, with KeepFlat,
// keeps the columns flat.
func TestDocumentDBTableMode(t *testing.T) {
	t.Run("nested", func(t *testing.T) { tableMode(t, false) })
	t.Run("flat", func(t *testing.T) { tableMode(t, true) })
}

func tableMode(t *testing.T, flat bool) {
	ctx := context.Background()
	src := reader.DirSource{Root: t.TempDir()}
	dir := filepath.Join(src.Root, "appdb", "people")
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "oid__id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "profile.age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "profile.city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "array__tags", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	write := func(name string, s *arrow.Schema, rows [][]any) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := gen.WriteParquet(f, s, rows); err != nil {
			t.Fatal(err)
		}
	}
	ts := "2026-05-10 10:00:00.000000"
	write("LOAD00000001.parquet", sc, [][]any{
		{ts, "6a0000000000000000000001", "ann", int64(30), "Lyon", `["a","b"]`},
		{ts, "6a0000000000000000000002", "bob", int64(40), "Oslo", `[]`},
	})
	write("20260510-100001000.parquet", gen.CDCSchema(sc), [][]any{
		{"U", ts, "6a0000000000000000000001", "ann", int64(31), "Nice", `["c"]`},
		{"D", ts, "6a0000000000000000000002", nil, nil, nil, nil},
	})
	cat := openCatalog(t, filepath.Join(t.TempDir(), "wh"))
	ident := []string{"appdb", "people"}
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "appdb.people"), ident, merge.Options{Key: []string{"_id"}, Documents: merge.DocumentOptions{KeepFlat: flat}}); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if flat {
		for _, f := range tbl.Schema().Fields() {
			if strings.HasPrefix(f.Type.String(), "struct") || strings.HasPrefix(f.Type.String(), "list") {
				t.Fatalf("KeepFlat made nested column %s", f)
			}
		}
		return
	}
	prof, ok := tbl.Schema().FindFieldByName("profile")
	if !ok || !strings.HasPrefix(prof.Type.String(), "struct") {
		t.Fatalf("profile is not a nested column: %s", tbl.Schema())
	}
	if f, ok := tbl.Schema().FindFieldByName("tags"); !ok || !strings.HasPrefix(f.Type.String(), "list") {
		t.Fatalf("tags is not a list column: %s", tbl.Schema())
	}
	rows, err := testutil.ReadTable(ctx, tbl, []string{"_id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows["s:6a0000000000000000000001"]["name"] != "s:ann" {
		t.Fatalf("rows: %v", rows)
	}
}

// TestDocumentDBKeepRawAndFlat: with KeepRaw the documents' JSON is kept in
// a _doc column besides the nested columns; with KeepFlat table-mode
// columns stay as DMS wrote them.
func TestDocumentDBKeepRawAndFlat(t *testing.T) {
	ctx := context.Background()
	cfg := gen.DocDBConfig{Collection: "appdb.users", Docs: 20, Changes: 20, CDCFiles: 2, Seed: 8}
	src := reader.DirSource{Root: t.TempDir()}
	if _, err := gen.GenerateDocDB(ctx, gen.DirSink(src.Root), cfg); err != nil {
		t.Fatal(err)
	}
	cat := openCatalog(t, filepath.Join(t.TempDir(), "wh"))
	ident := []string{"appdb", "users"}
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "appdb.users"), ident, merge.Options{Key: []string{"_id"}, Documents: merge.DocumentOptions{KeepRaw: true}}); err != nil {
		t.Fatal(err)
	}
	tbl, _ := cat.LoadTable(ctx, ident)
	if _, ok := tbl.Schema().FindFieldByName("_doc"); !ok {
		t.Fatalf("no _doc column with KeepRaw: %s", tbl.Schema())
	}
	rows, err := testutil.ReadTable(ctx, tbl, []string{"_id"})
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range rows {
		if !strings.HasPrefix(r["_doc"], "s:{") {
			t.Fatalf("_id %s: _doc is %q, want the document's JSON", id, r["_doc"])
		}
	}
}
