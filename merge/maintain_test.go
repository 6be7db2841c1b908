package merge_test

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
)

// smallFileTable applies a random stream one file per commit, which
// leaves many small data files (and, in merge-on-read, delete files).
func smallFileTable(t *testing.T, mode string, partition string) (icecat.Catalog, modelStream, []string) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewSource(7))
	s := newStream(r, false)
	for len(s.files) < 6 {
		s = newStream(r, false)
	}
	src, cat, ident := stage(t, s)
	opt := merge.Options{Key: s.key, WriteMode: mode, BatchFiles: 1, Partition: mustPartition(t, partition)}
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); err != nil {
		t.Fatal(err)
	}
	return cat, s, ident
}

func summaryInt(t *testing.T, tbl *table.Table, prop string) int {
	t.Helper()
	n, err := strconv.Atoi(tbl.CurrentSnapshot().Summary.Properties[prop])
	if err != nil {
		t.Fatalf("summary %s: %v", prop, err)
	}
	return n
}

// TestCompactThresholds: run's automatic compaction triggers exactly at
// the delete-file and small-file thresholds, not below them, and keeps the
// rows.
func TestCompactThresholds(t *testing.T) {
	ctx := context.Background()
	t.Run("delete-files", func(t *testing.T) {
		cat, s, ident := smallFileTable(t, merge.MergeOnRead, "")
		tbl, _ := cat.LoadTable(ctx, ident)
		n := summaryInt(t, tbl, "total-delete-files")
		if n == 0 {
			t.Fatal("the stream left no delete files; the test needs some")
		}
		did, _, err := merge.CompactIfNeeded(ctx, tbl, merge.CompactThresholds{DeleteFiles: n + 1})
		if err != nil || did {
			t.Fatalf("compacted below the threshold (%d delete files, threshold %d): %v", n, n+1, err)
		}
		did, res, err := merge.CompactIfNeeded(ctx, tbl, merge.CompactThresholds{DeleteFiles: n})
		if err != nil || !did || res.RemovedDeleteFiles != n {
			t.Fatalf("at the threshold: did=%v %+v %v", did, res, err)
		}
		tbl, _ = cat.LoadTable(ctx, ident)
		if m := summaryInt(t, tbl, "total-delete-files"); m != 0 {
			t.Fatalf("%d delete files left", m)
		}
		checkRows(t, tbl, s)
	})
	t.Run("small-files", func(t *testing.T) {
		cat, s, ident := smallFileTable(t, merge.CopyOnWrite, "")
		tbl, _ := cat.LoadTable(ctx, ident)
		n := summaryInt(t, tbl, "total-data-files")
		if n < 3 {
			t.Fatalf("%d data files; the test needs several", n)
		}
		// Every file is far below 3/4 of the default 512 MiB target; with
		// a 1-byte target none is small.
		if did, _, err := merge.CompactIfNeeded(ctx, tbl, merge.CompactThresholds{SmallFiles: n + 1}); err != nil || did {
			t.Fatalf("compacted below the threshold: %v", err)
		}
		if did, _, err := merge.CompactIfNeeded(ctx, tbl, merge.CompactThresholds{SmallFiles: 1, TargetFileSize: 1}); err != nil || did {
			t.Fatalf("compacted with no small file: %v", err)
		}
		did, res, err := merge.CompactIfNeeded(ctx, tbl, merge.CompactThresholds{SmallFiles: n})
		if err != nil || !did || res.RemovedDataFiles != n || res.AddedDataFiles != 1 {
			t.Fatalf("at the threshold: did=%v %+v %v", did, res, err)
		}
		tbl, _ = cat.LoadTable(ctx, ident)
		if m := summaryInt(t, tbl, "total-data-files"); m != 1 {
			t.Fatalf("%d data files after bin-packing %d small ones", m, n)
		}
		checkRows(t, tbl, s)
	})
}

// TestCompactSortByKey: compaction with SortByKey writes each output file
// sorted by the key, keeps the rows, and keeps files within a partition.
func TestCompactSortByKey(t *testing.T) {
	ctx := context.Background()
	for _, part := range []string{"", "day(v_ts)"} {
		t.Run("partition="+part, func(t *testing.T) {
			cat, s, ident := smallFileTable(t, merge.MergeOnRead, part)
			tbl, _ := cat.LoadTable(ctx, ident)
			res, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1, SortByKey: true})
			if err != nil || res.RemovedDataFiles == 0 {
				t.Fatalf("%+v %v", res, err)
			}
			tbl, _ = cat.LoadTable(ctx, ident)
			checkRows(t, tbl, s)
			if part != "" {
				checkPartitions(t, tbl)
			}
			checkSortedFiles(t, tbl)
		})
	}
}

// checkSortedFiles checks that every data file of tbl (key id) is sorted
// by key, and returns how many there are.
func checkSortedFiles(t *testing.T, tbl *table.Table) int {
	t.Helper()
	ctx := context.Background()
	scan := tbl.Scan()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		_, recs, err := scan.ReadTasks(ctx, []table.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		prev := ""
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			id := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
			for i := 0; i < id.Len(); i++ {
				k := string(dedupe.AppendInt(nil, id.Value(i)))
				if k < prev {
					t.Fatalf("file %s is not sorted by key at row %d (id %d)", task.File.FilePath(), i, id.Value(i))
				}
				prev = k
			}
			rec.Release()
		}
	}
	return len(tasks)
}

func checkRows(t *testing.T, tbl *table.Table, s modelStream) {
	t.Helper()
	got, err := testutil.ReadTable(context.Background(), tbl, s.key)
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.Diff(s.replay(len(s.files)), got, 10); d != "" {
		t.Fatalf("the table differs from the model:\n%s", d)
	}
}
