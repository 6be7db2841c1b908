package merge_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// deleteFormStream is a fixed stream: a LOAD of keys 1..10, then one CDC
// file per step.
func deleteFormStream(steps ...[][]any) modelStream {
	s := modelStream{schema: "db", table: "t", key: []string{"id"}, cols: arrow.NewSchema([]arrow.Field{
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v_str", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)}
	load := modelFile{name: "LOAD00000001.parquet", load: true}
	for k := int64(1); k <= 10; k++ {
		load.rows = append(load.rows, []any{"2026-05-10 09:00:00.000000", k, "load"})
	}
	s.files = append(s.files, load)
	for i, rows := range steps {
		s.files = append(s.files, modelFile{name: fmt.Sprintf("20260510-10000%d000.parquet", i), rows: rows})
	}
	return s
}

func cdcRow(op string, sec int, id int64, v string) []any {
	return []any{op, fmt.Sprintf("2026-05-10 10:00:%02d.000000", sec), id, v}
}

// runSteps applies the stream's files one run each and checks the table
// against the model after every run.
func runSteps(t *testing.T, s modelStream, opt merge.Options) *table.Table {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	cat := openCatalog(t, filepath.Join(root, "wh"))
	var tbl *table.Table
	for i, f := range s.files {
		s.write(t, src.Root, f)
		opt.Key = s.key
		if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "db.t"), []string{"db", "t"}, opt); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		tbl = s.check(t, cat, i+1, fmt.Sprintf("after run %d", i+1))
	}
	return tbl
}

// TestDeletionVectorReplaced: on format v3 a second delete in a data file
// replaces its deletion vector with one holding both positions, and the
// old vector is removed in the same commit.
func TestDeletionVectorReplaced(t *testing.T) {
	s := deleteFormStream(
		[][]any{cdcRow("U", 1, 3, "a")},
		[][]any{cdcRow("D", 2, 7, "")},
	)
	tbl := runSteps(t, s, merge.Options{WriteMode: merge.MergeOnRead, FormatVersion: 3})
	live, err := merge.LiveDeleteFiles(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || !table.IsDeletionVector(live[0]) || live[0].Count() != 2 {
		for _, f := range live {
			t.Logf("live: %s %s count %d", f.FilePath(), f.ContentType(), f.Count())
		}
		t.Fatalf("want one deletion vector of 2 positions on the LOAD file, got %d delete files", len(live))
	}
	sum := tbl.CurrentSnapshot().Summary.Properties
	if n, _ := strconv.Atoi(sum["removed-position-delete-files"]); n != 1 {
		t.Fatalf("the last commit removed %q position delete files (deletion vectors), want 1: %v", sum["removed-position-delete-files"], sum)
	}
}

// TestEqualityDeleteSameCommit: with equality deletes, a key inserted,
// deleted and inserted again, or deleted and re-inserted, within one
// commit ends as its last change says: the equality delete of the commit
// removes the older rows of the key, not the row committed with it.
func TestEqualityDeleteSameCommit(t *testing.T) {
	s := deleteFormStream(
		[][]any{
			cdcRow("I", 1, 100, "new"), cdcRow("D", 2, 100, ""), cdcRow("I", 3, 100, "again"), // absent key: I, D, I
			cdcRow("D", 1, 4, ""), cdcRow("I", 2, 4, "back"), // present key: D then I
			cdcRow("I", 1, 200, "gone"), cdcRow("D", 2, 200, ""), // absent key: I then D
			cdcRow("U", 1, 5, "u1"), cdcRow("D", 3, 5, ""), // present key: U then D
		},
		[][]any{cdcRow("U", 4, 100, "updated"), cdcRow("D", 4, 4, "")},
	)
	tbl := runSteps(t, s, merge.Options{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality})
	live, err := merge.LiveDeleteFiles(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) == 0 {
		t.Fatal("no equality delete files: the test did not exercise them")
	}
	for _, f := range live {
		if f.ContentType() != iceberg.EntryContentEqDeletes {
			t.Fatalf("delete file %s is %s, want equality deletes", f.FilePath(), f.ContentType())
		}
	}
}
