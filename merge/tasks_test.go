package merge_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/iceberg-go/table"
)

// TestSplitScanTasks: iceberg-go splits a data file larger than
// read.split.target-size into byte-range scan tasks. With a split size of
// one byte and row groups of a few rows every multi-row-group file is
// split, and the model still holds in every mode: copy-on-write removes
// each rewritten file once, merge-on-read counts positions from the file's
// first row, compaction keeps a file's ranges together.
func TestSplitScanTasks(t *testing.T) {
	props := map[string]string{table.ReadSplitTargetSizeKey: "1", table.ParquetRowGroupLimitKey: "4"}
	for _, mm := range modelModes() {
		for seed := 0; seed < 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", mm.name, seed), func(t *testing.T) {
				t.Parallel()
				r := rand.New(rand.NewSource(int64(200 + seed)))
				mm := mm
				mm.opt.TableProperties = props
				split := 0
				runModel(t, r, newStream(r, seed%2 == 1), mm, nil, func(t *testing.T, tbl *table.Table) {
					checkDeleteFiles(t, tbl, mm)
					tasks, err := tbl.Scan().PlanFiles(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					files := map[string]bool{}
					for _, task := range tasks {
						files[task.File.FilePath()] = true
					}
					split += len(tasks) - len(files)
				})
				if split == 0 {
					t.Fatal("no data file was ever split into several scan tasks: the test proves nothing")
				}
			})
		}
	}
}
