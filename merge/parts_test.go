package merge_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestLargeFileInParts: a CDC file larger than the batch budget is applied
// a few row groups at a time, one commit each; a run that dies after one of
// those commits leaves the table equal to the replay of the rows applied so
// far and a checkpoint saying how many row groups are in; the next run
// goes on from the next row group (even with batch settings under which
// the file would fit whole), and the end result equals the replay of the
// whole stream. Both write modes.
func TestLargeFileInParts(t *testing.T) {
	for _, mode := range []string{merge.CopyOnWrite, merge.MergeOnRead} {
		t.Run(mode, func(t *testing.T) { // not parallel: fault.Hook is global
			ctx := context.Background()
			s := newStream(rand.New(rand.NewSource(7)), false)
			// All CDC rows in one file of 3-row row groups.
			var loads []modelFile
			big := modelFile{name: "20260510-100000000.parquet"}
			for _, f := range s.files {
				if f.load {
					loads = append(loads, f)
				} else {
					big.rows = append(big.rows, f.rows...)
				}
			}
			const rowGroup = 3
			if len(big.rows) < 6*rowGroup {
				t.Fatalf("the stream has only %d CDC rows", len(big.rows))
			}
			after := modelFile{name: "20260511-000000000.parquet"}
			for _, rw := range big.rows[:2] {
				rw = append([]any(nil), rw...)
				rw[1] = "2026-05-12 00:00:00.000000" // after every change of the big file
				after.rows = append(after.rows, rw)
			}
			s.files = append(append(loads, big), after)

			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			for _, f := range loads {
				s.write(t, src.Root, f)
			}
			dir := filepath.Join(src.Root, s.schema, s.table)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dir, big.name))
			if err != nil {
				t.Fatal(err)
			}
			if err := gen.WriteParquet(out, gen.CDCSchema(s.cols), big.rows, gen.WithRowGroupSize(rowGroup)); err != nil {
				t.Fatal(err)
			}
			f := reader.File{Object: reader.Object{Path: s.schema + "/" + s.table + "/" + big.name}, Name: big.name, Kind: reader.CDC}
			sizes, err := reader.RowGroupSizes(ctx, src, f)
			if err != nil || len(sizes) < 6 {
				t.Fatalf("row groups %v, %v; want at least 6", sizes, err)
			}
			cat := openCatalog(t, filepath.Join(root, "wh"))
			ident := []string{s.schema, s.table}
			ident1 := s.schema + "." + s.table

			// Two row groups per batch; die after the second commit
			// of the big file (the first commit is the full load when there
			// is one).
			dieAt := 2
			if len(loads) > 0 {
				dieAt = 3
			}
			errDie := killAt(t, fault.AfterCommit, dieAt)
			opt := merge.Options{Key: s.key, WriteMode: mode, BatchBytes: 2 * sizes[0]}
			_, err = merge.Table(ctx, cat, src, tableFiles(t, src, ident1), ident, opt)
			if !errors.Is(err, errDie) {
				t.Fatalf("first run: %v, want it to die after commit %d", err, dieAt)
			}
			fault.Hook = nil
			tbl, cp := loadCheckpoint(t, cat, ident)
			if cp.PartFile != big.name || cp.PartRowGroups < 2 || cp.CDCLast != "" {
				t.Fatalf("checkpoint after dying inside the big file: %+v, want part of %s applied", cp, big.name)
			}
			// The table holds the full load and the first row groups.
			partial := s
			partial.files = append(append([]modelFile(nil), loads...), modelFile{name: big.name, rows: big.rows[:cp.PartRowGroups*rowGroup]})
			got, err := testutil.ReadTable(ctx, tbl, s.key)
			if err != nil {
				t.Fatal(err)
			}
			if d := testutil.Diff(partial.replay(len(partial.files)), got, 10); d != "" {
				t.Fatalf("after %d row groups:\n%s", cp.PartRowGroups, d)
			}

			// One more file arrives; the rerun may batch everything at once,
			// yet must not read the big file's applied row groups again.
			s.write(t, src.Root, after)
			st, err := merge.Table(ctx, cat, src, tableFiles(t, src, ident1), ident, merge.Options{Key: s.key, BatchBytes: 1 << 30, BatchFiles: 100})
			if err != nil {
				t.Fatal(err)
			}
			if st.Files != 2 || st.Commits != 2 {
				t.Errorf("rerun: %+v, want the rest of the big file and the new file in 2 commits", st)
			}
			tbl, cp = loadCheckpoint(t, cat, ident)
			got, err = testutil.ReadTable(ctx, tbl, s.key)
			if err != nil {
				t.Fatal(err)
			}
			if d := testutil.Diff(s.replay(len(s.files)), got, 10); d != "" {
				t.Fatalf("after the rerun:\n%s", d)
			}
			if cp.CDCLast != after.name || cp.PartFile != "" || cp.CDCFiles != 2 {
				t.Fatalf("checkpoint after the rerun: %+v", cp)
			}
			rememberedOnce(t, cp, big.name)
			var parts int
			for _, snap := range tbl.Metadata().Snapshots() {
				if snap.Summary != nil && snap.Summary.Properties["cdcmerge.files"] != "" {
					parts++
				}
			}
			if want := len(loads[:min(len(loads), 1)]) + 3; parts < want {
				t.Errorf("%d merge snapshots, want at least %d (the big file in parts)", parts, want)
			}
		})
	}
}

// killAt makes the n-th time fault point is reached fail, with the error
// it returns.
func killAt(t *testing.T, point string, n int) error {
	t.Helper()
	errDie := fmt.Errorf("killed at %s #%d", point, n)
	seen := 0
	withHook(t, func(p string) error {
		if p == point {
			if seen++; seen == n {
				return errDie
			}
		}
		return nil
	})
	return errDie
}

// rememberedOnce checks that the big file is remembered once (by its first
// part) among the checkpoint's recent files, however many parts it took.
func rememberedOnce(t *testing.T, cp reader.Checkpoint, name string) {
	t.Helper()
	seen := 0
	for _, r := range cp.Recent {
		if strings.HasSuffix(r.Path, name) {
			seen++
		}
	}
	if seen != 1 {
		t.Errorf("the big file is %d times among the checkpoint's recent files %+v, want once", seen, cp.Recent)
	}
}

// TestLargeFileInPartsRowNumbers: a bad row in a later part of a large file
// is reported with its row number in the file, not in the part.
func TestLargeFileInPartsRowNumbers(t *testing.T) {
	ctx := context.Background()
	s := newStream(rand.New(rand.NewSource(3)), false)
	var rows [][]any
	for _, f := range s.files {
		if !f.load {
			rows = append(rows, f.rows...)
		}
	}
	bad := len(rows) - 2
	rows[bad] = append([]any(nil), rows[bad]...)
	rows[bad][2] = nil // the key
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	dir := filepath.Join(src.Root, s.schema, s.table)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "20260510-100000000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteParquet(out, gen.CDCSchema(s.cols), rows, gen.WithRowGroupSize(2)); err != nil {
		t.Fatal(err)
	}
	cat := openCatalog(t, filepath.Join(root, "wh"))
	_, err = merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), []string{s.schema, s.table}, merge.Options{Key: s.key, BatchBytes: 1})
	var fe *reader.FileError
	if !errors.As(err, &fe) || fe.Row != int64(bad) || fe.Column != "id" {
		t.Fatalf("error %v, want row %d, column id", err, bad)
	}
	if want := fmt.Sprintf("row %d,", bad); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
