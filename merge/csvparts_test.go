package merge_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// writeCSV puts file f of s into the source folder as DMS CSV (gzip:
// .csv.gz) and returns the size of its records, decompressed.
func (s modelStream) writeCSV(t *testing.T, root string, f modelFile, gzip bool) int64 {
	t.Helper()
	out, sc := s.create(t, root, f)
	defer out.Close()
	var plain strings.Builder
	if err := gen.WriteCSV(&plain, sc, f.rows, gen.CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteCSV(out, sc, f.rows, gen.CSVOptions{Gzip: gzip}); err != nil {
		t.Fatal(err)
	}
	return int64(plain.Len())
}

// csvStream is a random stream as CSV files (the first from seed on with
// at least 60 CDC rows): its LOAD files, then all its CDC rows in one big
// file, then a small file of later changes to two of the big file's keys.
func csvStream(t *testing.T, seed int64, gzip bool) (s modelStream, loads []modelFile, big, after modelFile) {
	t.Helper()
	ext := ".csv"
	if gzip {
		ext = ".csv.gz"
	}
	for ; len(big.rows) < 60; seed++ {
		s = newStream(rand.New(rand.NewSource(seed)), false)
		loads, big = nil, modelFile{name: "20260510-100000000" + ext}
		for _, f := range s.files {
			if f.load {
				f.name = strings.TrimSuffix(f.name, ".parquet") + ext
				loads = append(loads, f)
			} else {
				big.rows = append(big.rows, f.rows...)
			}
		}
	}
	after = modelFile{name: "20260511-000000000" + ext}
	for _, rw := range big.rows[:2] {
		rw = append([]any(nil), rw...)
		rw[1] = "2026-05-12 00:00:00.000000" // after every change of the big file
		after.rows = append(after.rows, rw)
	}
	s.files = append(append(append([]modelFile(nil), loads...), big), after)
	return s, loads, big, after
}

// loadCheckpoint loads the table and its checkpoint.
func loadCheckpoint(t *testing.T, cat icecat.Catalog, ident []string) (*table.Table, reader.Checkpoint) {
	t.Helper()
	tbl, err := cat.LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := catalog.CheckpointOf(tbl)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, cp
}

// checkPrefix compares the table with the replay of the LOAD files and the
// first n records of the big file.
func checkPrefix(t *testing.T, cat icecat.Catalog, s modelStream, loads []modelFile, big modelFile, n int64, when string) {
	t.Helper()
	partial := s
	partial.files = append(append([]modelFile(nil), loads...), modelFile{name: big.name, rows: big.rows[:n]})
	partial.check(t, cat, len(partial.files), fmt.Sprintf("%s, %d of %d records of the big file applied", when, n, len(big.rows)))
}

// TestLargeCSVFileInParts: a CSV file (plain and gzip) larger than the
// batch budget is applied in parts of records, at least five, one commit
// each, in both write modes. A run that dies after the third commit
// leaves the table equal to the replay of the records applied so far and a
// checkpoint saying how many records are in; a second run dies just
// before committing its second part (it had read on past the checkpoint);
// the third goes on from the next record (even with batch settings under
// which the file would fit whole), reads every record not applied exactly
// once, and the end result equals the replay of the whole stream.
func TestLargeCSVFileInParts(t *testing.T) {
	for _, gzip := range []bool{false, true} {
		for _, mode := range []string{merge.CopyOnWrite, merge.MergeOnRead} {
			t.Run(fmt.Sprintf("gzip=%v/%s", gzip, mode), func(t *testing.T) { // not parallel: fault.Hook is global
				ctx := context.Background()
				s, loads, big, after := csvStream(t, 7, gzip)
				root := t.TempDir()
				src := reader.DirSource{Root: filepath.Join(root, "dms")}
				for _, f := range loads {
					s.writeCSV(t, src.Root, f, gzip)
				}
				size := s.writeCSV(t, src.Root, big, gzip)
				budget := size / 7
				cat := openCatalog(t, filepath.Join(root, "wh"))
				ident := []string{s.schema, s.table}
				ident1 := s.schema + "." + s.table
				opt := merge.Options{Key: s.key, WriteMode: mode, BatchBytes: budget, CSVSchema: s.cols}
				loadCommits := min(len(loads), 1) // the LOAD files fit in one batch

				// Run 1 dies after the third commit of the big file.
				errDie := killAt(t, fault.AfterCommit, loadCommits+3)
				if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, ident1), ident, opt); !errors.Is(err, errDie) {
					t.Fatalf("run 1: %v, want it to die after commit %d", err, loadCommits+3)
				}
				_, cp1 := loadCheckpoint(t, cat, ident)
				if cp1.PartFile != big.name || cp1.PartRecords < 3 || cp1.PartRowGroups != 0 || cp1.CDCLast != "" {
					t.Fatalf("checkpoint after dying inside the big file: %+v, want part of %s applied", cp1, big.name)
				}
				checkPrefix(t, cat, s, loads, big, cp1.PartRecords, "after run 1")

				// Run 2 commits one more part, reads the next and dies
				// before committing it.
				errDie = killAt(t, fault.BeforeCommit, 2)
				if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, ident1), ident, opt); !errors.Is(err, errDie) {
					t.Fatalf("run 2: %v, want it to die before its second commit", err)
				}
				fault.Hook = nil
				_, cp2 := loadCheckpoint(t, cat, ident)
				if cp2.PartFile != big.name || cp2.PartRecords <= cp1.PartRecords {
					t.Fatalf("checkpoint after run 2: %+v, want past %d records of %s", cp2, cp1.PartRecords, big.name)
				}
				checkPrefix(t, cat, s, loads, big, cp2.PartRecords, "after run 2")

				// One more file arrives; run 3 may batch everything at once,
				// yet must not read the big file's applied records again.
				s.writeCSV(t, src.Root, after, gzip)
				st, err := merge.Table(ctx, cat, src, tableFiles(t, src, ident1), ident, merge.Options{Key: s.key, BatchBytes: 1 << 30, BatchFiles: 100})
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(len(big.rows)) - cp2.PartRecords + int64(len(after.rows)); st.Rows != want || st.Files != 2 || st.Commits != 2 {
					t.Errorf("run 3: %+v, want the %d records left of the big file and the new file (%d rows in all) in 2 commits", st, int64(len(big.rows))-cp2.PartRecords, want)
				}
				s.check(t, cat, len(s.files), "after run 3")
				tbl, cp := loadCheckpoint(t, cat, ident)
				if cp.CDCLast != after.name || cp.PartFile != "" || cp.PartRecords != 0 || cp.CDCFiles != 2 {
					t.Fatalf("checkpoint after run 3: %+v", cp)
				}
				rememberedOnce(t, cp, big.name)
				// Every part of the big file is a commit whose checkpoint
				// moves further into it: at least five parts in all.
				var parts int
				var prev int64
				for _, snap := range tbl.Metadata().Snapshots() {
					if snap.Summary == nil || snap.Summary.Properties["cdcmerge.files"] == "" {
						continue
					}
					c, err := reader.DecodeCheckpoint(snap.Summary.Properties[catalog.SummaryCheckpoint])
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case c.PartFile == big.name:
						if c.PartRecords <= prev {
							t.Fatalf("snapshot %d: %d records of the big file applied, after %d", snap.SnapshotID, c.PartRecords, prev)
						}
						prev = c.PartRecords
						parts++
					case c.CDCLast == big.name:
						parts++ // its last part
					}
				}
				if parts < 5 {
					t.Errorf("the big file took %d commits, want at least 5 (budget %d of %d bytes)", parts, budget, size)
				}
			})
		}
	}
}

// TestLargeCSVFileInPartsTies: changes to the same keys with the same DMS
// timestamp, one record per part (a budget of 1 byte), end as when the
// file is applied whole: the later record wins, as the model says.
func TestLargeCSVFileInPartsTies(t *testing.T) {
	ctx := context.Background()
	s := newStream(rand.New(rand.NewSource(1)), false)
	r := rand.New(rand.NewSource(2))
	tie := modelFile{name: "20260510-100000000.csv"}
	for i := range 24 {
		op := []string{"I", "U", "U", "D"}[r.Intn(4)]
		rw := []any{op, "2026-05-10 10:00:00.000000", int64(i % 3)}
		for _, f := range valueCols {
			rw = append(rw, randomValue(r, f))
		}
		tie.rows = append(tie.rows, rw)
	}
	s.files = []modelFile{tie}
	var tables []testutil.Rows
	for _, budget := range []int64{1, 1 << 30} {
		root := t.TempDir()
		src := reader.DirSource{Root: filepath.Join(root, "dms")}
		s.writeCSV(t, src.Root, tie, false)
		cat := openCatalog(t, filepath.Join(root, "wh"))
		st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), []string{s.schema, s.table}, merge.Options{Key: s.key, BatchBytes: budget, CSVSchema: s.cols})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: len(tie.rows), false: 1}[budget == 1]; st.Commits != want {
			t.Fatalf("budget %d: %d commits, want %d", budget, st.Commits, want)
		}
		tbl := s.check(t, cat, 1, fmt.Sprintf("budget %d", budget))
		got, err := testutil.ReadTable(ctx, tbl, s.key)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, got)
	}
	if d := testutil.Diff(tables[1], tables[0], 10); d != "" {
		t.Fatalf("in parts vs whole:\n%s", d)
	}
}

// TestLargeCSVFileChanged: a CSV file that has fewer records than the
// checkpoint says are applied (it was replaced while it was applied in
// parts) stops the table with an error naming the file and what to do;
// nothing is committed.
func TestLargeCSVFileChanged(t *testing.T) {
	ctx := context.Background()
	s, _, big, _ := csvStream(t, 7, false)
	s.files = []modelFile{big}
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	size := s.writeCSV(t, src.Root, big, false)
	cat := openCatalog(t, filepath.Join(root, "wh"))
	ident := []string{s.schema, s.table}
	opt := merge.Options{Key: s.key, BatchBytes: size / 4, CSVSchema: s.cols}
	errDie := killAt(t, fault.AfterCommit, 1)
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); !errors.Is(err, errDie) {
		t.Fatalf("run 1: %v", err)
	}
	fault.Hook = nil
	tbl, cp := loadCheckpoint(t, cat, ident)
	if cp.PartRecords == 0 {
		t.Fatalf("checkpoint %+v, want inside the file", cp)
	}
	before := tbl.CurrentSnapshot().SnapshotID
	for _, n := range []int64{cp.PartRecords - 1, cp.PartRecords} {
		short := big
		short.rows = big.rows[:n]
		s.writeCSV(t, src.Root, short, false)
		_, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt)
		var fe *reader.FileError
		if !errors.As(err, &fe) || !strings.HasSuffix(fe.Path, big.name) || !strings.Contains(err.Error(), fmt.Sprintf("%d of its records are applied, but the file now has %d", cp.PartRecords, n)) || !strings.Contains(err.Error(), "restore the original") {
			t.Fatalf("file cut to %d records: %v", n, err)
		}
		if tbl, _ = cat.LoadTable(ctx, ident); tbl.CurrentSnapshot().SnapshotID != before {
			t.Fatalf("file cut to %d records: the table changed", n)
		}
	}
}

// TestLargeCSVFileCopyRefused: a copy of a CSV file applied in parts,
// delivered later under another name, is recognised by its first part (the
// digest of its records and its size) and refused before any of it is
// applied; the same file read whole is recognised by its content digest.
func TestLargeCSVFileCopyRefused(t *testing.T) {
	ctx := context.Background()
	s, _, big, _ := csvStream(t, 7, true)
	s.files = []modelFile{big}
	for _, budget := range []int64{0, 1 << 30} {
		root := t.TempDir()
		src := reader.DirSource{Root: filepath.Join(root, "dms")}
		size := s.writeCSV(t, src.Root, big, true)
		if budget == 0 {
			budget = size / 5
		}
		cat := openCatalog(t, filepath.Join(root, "wh"))
		ident := []string{s.schema, s.table}
		opt := merge.Options{Key: s.key, BatchBytes: budget, CSVSchema: s.cols}
		st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt)
		if err != nil || (budget < size) != (st.Commits > 1) {
			t.Fatalf("budget %d of %d bytes: %+v, %v", budget, size, st, err)
		}
		tbl := s.check(t, cat, 1, "the big file")
		before := tbl.CurrentSnapshot().SnapshotID
		cp := big
		cp.name = "20260510-110000000.csv.gz"
		s.writeCSV(t, src.Root, cp, true)
		_, err = merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt)
		if err == nil || !strings.Contains(err.Error(), "same content as") || !strings.Contains(err.Error(), big.name) || !strings.Contains(err.Error(), cp.name) {
			t.Fatalf("budget %d: the copy: %v, want it refused naming both files", budget, err)
		}
		if tbl, _ = cat.LoadTable(ctx, ident); tbl.CurrentSnapshot().SnapshotID != before {
			t.Fatalf("budget %d: the copy changed the table", budget)
		}
	}
}
