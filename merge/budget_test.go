package merge_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestSmallMemoryBudget: input ten times the batch budget, under a memory
// budget far below what the table's rows take decoded, completes and the
// table equals the model. The batches are parts of files (row groups),
// copy-on-write rewrites read their data files in small record batches,
// and the writers are sized from the budget (one writer, small row groups,
// short queues). Compaction under that budget keeps every row too. Each
// write mode.
func TestSmallMemoryBudget(t *testing.T) {
	const loadRows, changes, keys = 20000, 8000, 26000
	r := rand.New(rand.NewSource(11))
	s := modelStream{schema: "db", table: "budget", key: []string{"id"}}
	s.cols = arrow.NewSchema(append([]arrow.Field{
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, valueCols...), nil)
	values := func() []any {
		var out []any
		for _, f := range valueCols {
			out = append(out, randomValue(r, f))
		}
		return out
	}
	load := modelFile{name: "LOAD00000001.parquet", load: true, rowGroup: 1000}
	for _, k := range r.Perm(loadRows) {
		load.rows = append(load.rows, append([]any{"2026-05-10 09:00:00.000000", int64(k)}, values()...))
	}
	s.files = append(s.files, load)
	ts := time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC)
	for f := 0; f < 2; f++ {
		cdc := modelFile{name: fmt.Sprintf("20260510-10000%d000.parquet", f), rowGroup: 500}
		for i := 0; i < changes/2; i++ {
			ts = ts.Add(time.Duration(r.Intn(2)) * time.Millisecond) // ties
			op := []string{"I", "U", "U", "D"}[r.Intn(4)]
			rw := append([]any{op, ts.Format("2006-01-02 15:04:05.000000"), int64(r.Intn(keys))}, values()...)
			if op == "D" && r.Intn(2) == 0 {
				for j := 3; j < len(rw); j++ {
					rw[j] = nil // key-only delete
				}
			}
			cdc.rows = append(cdc.rows, rw)
		}
		s.files = append(s.files, cdc)
	}
	for i, mm := range modelModes()[:3] {
		t.Run(mm.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			var input int64
			for _, f := range s.files {
				s.write(t, src.Root, f)
				fi, err := os.Stat(filepath.Join(src.Root, s.schema, s.table, f.name))
				if err != nil {
					t.Fatal(err)
				}
				input += fi.Size()
			}
			cat := openCatalog(t, filepath.Join(root, "wh"))
			opt := mm.opt
			opt.Key, opt.BatchBytes, opt.MemoryLimit = s.key, input/10, 1<<20
			st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), []string{s.schema, s.table}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if st.Commits < 10 {
				t.Errorf("%d commits for input 10 times the batch budget: the files were not split", st.Commits)
			}
			tbl := s.check(t, cat, len(s.files), fmt.Sprintf("stats %+v", st))
			// Compaction under the same budget, sorted by key or not,
			// folds every delete file in and keeps every row.
			sorted := i%2 == 0
			if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1, SortByKey: sorted, Memory: 1 << 20}); err != nil {
				t.Fatal(err)
			}
			tbl = s.check(t, cat, len(s.files), "after compaction")
			// Sorted in runs that fit the budget: several files, each
			// sorted.
			if sorted {
				if n := checkSortedFiles(t, tbl); n < 2 {
					t.Errorf("%d data files after a sorted compaction of %d rows under a 1 MiB budget, want one per sorted run", n, loadRows)
				}
			}
			if live, err := merge.LiveDeleteFiles(ctx, tbl); err != nil || len(live) != 0 {
				t.Fatalf("after compaction %d delete files are left (%v)", len(live), err)
			}
		})
	}
}
