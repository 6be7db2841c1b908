package merge_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/iceberg-go"
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

// TestCompactSortByKey: compaction with SortByKey writes each partition's
// rows in key order (files with disjoint key ranges), keeps the rows, and
// keeps files within a partition.
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
			checkSortedCompaction(t, tbl, s.key)
		})
	}
}

// checkSortedCompaction checks the data files that the current snapshot
// (a sorted compaction) added: each is sorted by key, and within a
// partition their key ranges are disjoint, both as read from their rows
// and as the manifests' bounds of the first key column say (strictly for
// a one-column key). It returns how many files the snapshot added.
func checkSortedCompaction(t *testing.T, tbl *table.Table, key []string) int {
	t.Helper()
	ctx := context.Background()
	snap := tbl.CurrentSnapshot()
	if snap.Summary == nil || snap.Summary.Operation != table.OpReplace {
		t.Fatalf("the current snapshot is not a compaction: %+v", snap.Summary)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		t.Fatal(err)
	}
	added := map[string]bool{}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Status() == iceberg.EntryStatusADDED && e.SnapshotID() == snap.SnapshotID {
				added[e.DataFile().FilePath()] = true
			}
		}
	}
	first, ok := tbl.Schema().FindFieldByName(key[0])
	if !ok {
		t.Fatalf("key column %s is not in the table", key[0])
	}
	bound := func(df iceberg.DataFile, b []byte) []byte {
		lit, err := iceberg.LiteralFromBytes(first.Type, b)
		if err != nil {
			t.Fatalf("file %s: bound of %s: %v", df.FilePath(), key[0], err)
		}
		switch v := lit.(type) {
		case iceberg.Int64Literal:
			return dedupe.AppendInt(nil, int64(v))
		case iceberg.Int32Literal:
			return dedupe.AppendInt(nil, int64(v))
		case iceberg.StringLiteral:
			return []byte(v)
		}
		t.Fatalf("no comparison for bounds of type %s", first.Type)
		return nil
	}
	// span is one added file: its first and last keys, and its bounds.
	type span struct {
		path         string
		lo, hi       []byte // encoded keys (dedupe.KeyEncoder)
		lower, upper []byte // manifest bounds of key[0]
	}
	parts := map[string][]span{}
	scan := tbl.Scan()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		df := task.File
		if !added[df.FilePath()] {
			continue
		}
		_, recs, err := scan.ReadTasks(ctx, []table.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		sp := span{path: df.FilePath(), lower: bound(df, df.LowerBoundValues()[first.ID]), upper: bound(df, df.UpperBoundValues()[first.ID])}
		batch := 0
		for rec, err := range recs {
			batch++
			if err != nil {
				t.Fatal(err)
			}
			var idx []int
			for _, k := range key {
				idx = append(idx, rec.Schema().FieldIndices(k)[0])
			}
			enc, err := dedupe.NewKeyEncoder(rec, idx)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				k, _ := enc.Append(nil, i)
				if sp.hi != nil && bytes.Compare(k, sp.hi) <= 0 {
					t.Fatalf("file %s is not sorted by key at row %d of batch %d (%x after %x)", df.FilePath(), i, batch, k, sp.hi)
				}
				if sp.lo == nil {
					sp.lo = k
				}
				sp.hi = k
			}
			rec.Release()
		}
		part := fmt.Sprint(df.SpecID(), df.Partition())
		parts[part] = append(parts[part], sp)
		delete(added, df.FilePath())
	}
	if len(added) > 0 {
		t.Fatalf("%d files the compaction added are not in the table", len(added))
	}
	n := 0
	for part, spans := range parts {
		n += len(spans)
		sort.Slice(spans, func(i, j int) bool { return bytes.Compare(spans[i].lo, spans[j].lo) < 0 })
		for i := 1; i < len(spans); i++ {
			a, b := spans[i-1], spans[i]
			if bytes.Compare(a.hi, b.lo) >= 0 {
				t.Fatalf("partition %s: the key ranges of files %s and %s overlap", part, a.path, b.path)
			}
			if c := bytes.Compare(a.upper, b.lower); c > 0 || c == 0 && len(key) == 1 {
				t.Fatalf("partition %s: the %s bounds of files %s and %s overlap", part, key[0], a.path, b.path)
			}
		}
	}
	return n
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
