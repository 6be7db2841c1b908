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
// short queues). A sorted compaction under that budget keeps every row
// too and writes files with disjoint key ranges. Copy-on-write, v2
// position deletes and v3 deletion vectors.
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
	for _, mm := range modelModes()[:3] {
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
			// Small files (rolled every 1000 rows past 64 KiB), so that
			// compaction has several to merge.
			opt.TableProperties = map[string]string{"write.target-file-size-bytes": "65536", "write.parquet.row-group-limit": "1000"}
			st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), []string{s.schema, s.table}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if st.Commits < 10 {
				t.Errorf("%d commits for input 10 times the batch budget: the files were not split", st.Commits)
			}
			tbl := s.check(t, cat, len(s.files), fmt.Sprintf("stats %+v", st))
			// Compaction under the same budget, sorted by key: the
			// group is far larger than a sorted run (1/8 of the
			// budget), so the runs are spilled and merged; the files
			// come out in one key order, with disjoint key ranges, and
			// nothing is left in the spill directory.
			tmp := t.TempDir()
			res, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1, SortByKey: true, Memory: 1 << 20, TargetFileSize: 256 << 10, TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			tbl = s.check(t, cat, len(s.files), "after compaction")
			if n := checkSortedCompaction(t, tbl, s.key); n < 2 || n != res.AddedDataFiles {
				t.Errorf("%d data files after a sorted compaction of %d rows at a 256 KiB target (result %+v), want several", n, loadRows, res)
			}
			if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
				t.Errorf("the spill directory holds %d entries after the compaction (%v)", len(left), err)
			}
			if live, err := merge.LiveDeleteFiles(ctx, tbl); err != nil || len(live) != 0 {
				t.Fatalf("after compaction %d delete files are left (%v)", len(live), err)
			}
		})
	}
}
