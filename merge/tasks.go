package merge

import (
	"context"

	"github.com/apache/iceberg-go/table"
)

// planWholeFiles plans scan with one task per data file. iceberg-go splits
// a Parquet data file larger than read.split.target-size (128 MiB by
// default) into byte-range tasks, one per few row groups. cdcmerge works on
// whole data files: a copy-on-write rewrite removes each file once (a
// commit naming a file twice fails), a position counts from the file's
// first row, and compaction must never put two ranges of one file into
// different groups. So the ranges of one file are joined back into one
// task; they share the file's delete files, being copies of one task.
func planWholeFiles(ctx context.Context, scan *table.Scan) ([]table.FileScanTask, error) {
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	return wholeFiles(tasks), nil
}

// wholeFiles keeps the first task of each data file, widened to the whole
// file, in plan order.
func wholeFiles(tasks []table.FileScanTask) []table.FileScanTask {
	out := make([]table.FileScanTask, 0, len(tasks))
	seen := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		if seen[t.File.FilePath()] {
			continue
		}
		seen[t.File.FilePath()] = true
		t.Start, t.Length = 0, t.File.FileSizeBytes()
		out = append(out, t)
	}
	return out
}
