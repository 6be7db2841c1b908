package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestMaintenance: a merge-on-read table after several runs has position
// delete files; compact folds them in, expire and clean-orphans drop old
// snapshots and their files; the rows never change and the next run is
// still up to date.
func TestMaintenance(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src, "--tables", "shop.orders", "--cdc-files", "6", "--changes", "300")
	wh := filepath.Join(dir, "wh")
	mustCLI(t, runArgs(src, wh, "--write-mode", "merge-on-read", "--batch-files", "1")...)
	before := rowsOf(t, wh, "shop.orders", ordersKey)
	deleteFiles := func() string {
		return loadTable(t, wh, "shop.orders").CurrentSnapshot().Summary.Properties["total-delete-files"]
	}
	if n := deleteFiles(); n == "" || n == "0" {
		t.Fatalf("merge-on-read left %q delete files; the test needs some", n)
	}
	files := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(wh, "shop.db", "orders", "data"), func(_ string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	filesBefore := files()

	out := mustCLI(t, "compact", "--warehouse", wh, "--min-input-files", "2", "--output", "json")
	var res struct {
		Tables []struct {
			Table              string `json:"table"`
			RemovedDeleteFiles int    `json:"removed_delete_files"`
		} `json:"tables"`
		Failed int `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Failed != 0 || len(res.Tables) != 1 || res.Tables[0].RemovedDeleteFiles == 0 {
		t.Fatalf("compact: %s (%v)", out, err)
	}
	if n := deleteFiles(); n != "0" {
		t.Fatalf("after compact %s delete files remain", n)
	}
	if d := testutil.Diff(before, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("compaction changed the rows:\n%s", d)
	}

	mustCLI(t, "expire", "--warehouse", wh, "--older-than", "0s", "--retain-last", "1")
	filesNow := files()
	out = mustCLI(t, "clean-orphans", "--warehouse", wh, "--older-than", "0s", "--dry-run")
	if !strings.Contains(out, "orphan files (dry run") || files() != filesNow {
		t.Fatalf("dry run: %s (%d files, was %d)", out, files(), filesNow)
	}
	out = mustCLI(t, "clean-orphans", "--warehouse", wh, "--older-than", "0s")
	if !strings.Contains(out, "deleted") || files() >= filesBefore {
		t.Fatalf("clean-orphans: %s; %d data files before, %d after", out, filesBefore, files())
	}
	if d := testutil.Diff(before, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("expire/clean-orphans changed the rows:\n%s", d)
	}
	if out := mustCLI(t, runArgs(src, wh)...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
		t.Fatalf("run after maintenance: %s", out)
	}
	if code, _, _ := cli(t, "expire", "--warehouse", wh, "--older-than", "soon"); code != 2 {
		t.Fatalf("bad --older-than: exit %d", code)
	}
}

// TestCompactAfterRun: with --compact-after-delete-files, a merge-on-read
// run that leaves that many delete files compacts the table itself; the
// rows are those of a run without it.
func TestCompactAfterRun(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src, "--tables", "shop.orders", "--cdc-files", "6", "--changes", "300")
	ref := filepath.Join(dir, "ref")
	mustCLI(t, runArgs(src, ref, "--write-mode", "merge-on-read", "--batch-files", "1")...)
	wh := filepath.Join(dir, "wh")
	out := mustCLI(t, runArgs(src, wh, "--write-mode", "merge-on-read", "--batch-files", "1", "--compact-after-delete-files", "2", "--output", "json")...)
	if !strings.Contains(out, `"compacted"`) {
		t.Fatalf("no compaction reported: %s", out)
	}
	if n := loadTable(t, wh, "shop.orders").CurrentSnapshot().Summary.Properties["total-delete-files"]; n != "0" {
		t.Fatalf("%s delete files left after the automatic compaction", n)
	}
	if d := testutil.Diff(rowsOf(t, ref, "shop.orders", ordersKey), rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("automatic compaction changed the rows:\n%s", d)
	}
	if out := mustCLI(t, runArgs(src, wh)...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
		t.Fatalf("run after compaction: %s", out)
	}
}
