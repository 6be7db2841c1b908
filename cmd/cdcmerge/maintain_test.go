package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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

// TestRunMaintenanceThresholds: run's small-file compaction and expiry
// happen when their thresholds are reached and not otherwise; the rows are
// always those of a run without them.
func TestRunMaintenanceThresholds(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src, "--tables", "shop.orders", "--cdc-files", "6", "--changes", "300")
	ref := filepath.Join(dir, "ref")
	mustCLI(t, runArgs(src, ref, "--batch-files", "1", "--write-mode", "merge-on-read")...)
	want := rowsOf(t, ref, "shop.orders", ordersKey)
	refTbl := loadTable(t, ref, "shop.orders")
	dataFiles := func(wh string) int {
		n, _ := strconv.Atoi(loadTable(t, wh, "shop.orders").CurrentSnapshot().Summary.Properties["total-data-files"])
		return n
	}
	small := dataFiles(ref)
	if small < 3 {
		t.Fatalf("a merge-on-read run of one file per commit left %d data files; the test needs several", small)
	}
	cases := []struct {
		name      string
		args      []string
		compacted bool
		snapshots func(n int) bool // of the table after the run
	}{
		{"small-files-below", []string{"--compact-after-small-files", strconv.Itoa(small + 100)}, false, func(n int) bool { return n == len(refTbl.Metadata().Snapshots()) }},
		{"small-files-reached", []string{"--compact-after-small-files", "2"}, true, func(n int) bool { return n == len(refTbl.Metadata().Snapshots())+1 }},
		{"small-files-none-with-tiny-target", []string{"--compact-after-small-files", "1", "--target-file-size", "1B"}, false, func(n int) bool { return n > 1 }},
		{"expire-retain-last", []string{"--expire-retain-last", "1"}, false, func(n int) bool { return n == 1 }},
		{"expire-older-than-not-reached", []string{"--expire-older-than", "1000h"}, false, func(n int) bool { return n == len(refTbl.Metadata().Snapshots()) }},
		{"compact-then-expire", []string{"--compact-after-small-files", "2", "--expire-older-than", "0s"}, true, func(n int) bool { return n == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wh := filepath.Join(t.TempDir(), "wh")
			out := mustCLI(t, runArgs(src, wh, append([]string{"--batch-files", "1", "--write-mode", "merge-on-read", "--output", "json"}, tc.args...)...)...)
			if got := strings.Contains(out, `"compacted"`); got != tc.compacted {
				t.Fatalf("compacted=%v, want %v: %s", got, tc.compacted, out)
			}
			if tc.compacted && dataFiles(wh) >= small {
				t.Fatalf("compaction left %d data files, a run without it %d", dataFiles(wh), small)
			}
			if n := len(loadTable(t, wh, "shop.orders").Metadata().Snapshots()); !tc.snapshots(n) {
				t.Fatalf("%d snapshots after the run (a run without maintenance leaves %d)", n, len(refTbl.Metadata().Snapshots()))
			}
			if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
				t.Fatalf("maintenance changed the rows:\n%s", d)
			}
			if out := mustCLI(t, runArgs(src, wh)...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
				t.Fatalf("run after maintenance: %s", out)
			}
		})
	}
	if code, _, errs := cli(t, runArgs(src, filepath.Join(dir, "bad"), "--expire-older-than", "soon")...); code != 2 || !strings.Contains(errs, "--expire-older-than") {
		t.Fatalf("bad --expire-older-than: exit %d: %s", code, errs)
	}
}

// TestPartitionSettings: the partition spec comes from the flag, the
// environment or the config file, is applied when the table is created,
// and a bad one is reported before anything is created.
func TestPartitionSettings(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src)
	cfgPath := filepath.Join(dir, "cdcmerge.yaml")
	yaml := "tables:\n  shop.order_items:\n    partition: [\"truncate(3, sku)\", \"day(updated_at)\"]\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	wh := filepath.Join(dir, "wh")
	mustCLI(t, runArgs(src, wh, "--config", cfgPath, "--partition", "shop.orders=bucket(4,order_id),month(created_at)", "--write-mode", "merge-on-read")...)
	specOf := func(wh, name string) string {
		tbl := loadTable(t, wh, name)
		spec := tbl.Spec()
		var parts []string
		for _, f := range spec.Fields() {
			col, _ := tbl.Schema().FindColumnName(f.SourceID())
			parts = append(parts, f.Name+"="+f.Transform.String()+"("+col+")")
		}
		return strings.Join(parts, ",")
	}
	if got := specOf(wh, "shop.orders"); got != "order_id_bucket=bucket[4](order_id),created_at_month=month(created_at)" {
		t.Errorf("shop.orders spec %s", got)
	}
	if got := specOf(wh, "shop.order_items"); got != "sku_trunc=truncate[3](sku),updated_at_day=day(updated_at)" {
		t.Errorf("shop.order_items spec %s", got)
	}
	// The partitioned tables hold the same rows as unpartitioned ones.
	ref := filepath.Join(dir, "ref")
	mustCLI(t, runArgs(src, ref)...)
	for name, key := range map[string][]string{"shop.orders": ordersKey, "shop.order_items": itemsKey} {
		if d := testutil.Diff(rowsOf(t, ref, name, key), rowsOf(t, wh, name, key), 10); d != "" {
			t.Errorf("%s differs from the unpartitioned table:\n%s", name, d)
		}
	}

	t.Setenv("CDCMERGE_PARTITION", "shop.orders=customer_id; shop.order_items=line_no")
	envWH := filepath.Join(dir, "wh-env")
	mustCLI(t, runArgs(src, envWH)...)
	if got := specOf(envWH, "shop.orders"); got != "customer_id=identity(customer_id)" {
		t.Errorf("spec from the environment: %s", got)
	}
	t.Setenv("CDCMERGE_PARTITION", "")

	bad := filepath.Join(dir, "wh-bad")
	if code, _, errs := cli(t, runArgs(src, bad, "--partition", "shop.orders=week(created_at)")...); code != 2 || !strings.Contains(errs, `unknown transform "week"`) {
		t.Fatalf("bad transform: exit %d: %s", code, errs)
	}
	code, out, _ := cli(t, runArgs(src, bad, "--partition", "shop.orders=day(status)", "--tables", "shop.orders")...)
	if code != 1 || !strings.Contains(out, "partition field day(status): day cannot be applied to column status of type string") {
		t.Fatalf("transform not valid for the column: exit %d: %s", code, out)
	}
	if loadTable(t, bad, "shop.orders") != nil {
		t.Fatal("the table was created with a bad partition spec")
	}
}

// TestWriteSettingsAndAlter: --format-version 3 and --delete-strategy
// equality give the same rows as copy-on-write; alter refuses to leave
// merge-on-read while delete files are live, works after compact, and
// upgrades the format version.
func TestWriteSettingsAndAlter(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src, "--tables", "shop.orders", "--cdc-files", "4", "--changes", "200")
	ref := filepath.Join(dir, "ref")
	mustCLI(t, runArgs(src, ref)...)
	want := rowsOf(t, ref, "shop.orders", ordersKey)
	for _, tc := range []struct {
		name    string
		args    []string
		version int
		kind    string
	}{
		{"v3", []string{"--write-mode", "merge-on-read", "--format-version", "3"}, 3, "puffin"},
		{"equality", []string{"--write-mode", "merge-on-read", "--delete-strategy", "equality"}, 2, "equality"},
	} {
		wh := filepath.Join(dir, tc.name)
		mustCLI(t, runArgs(src, wh, append(tc.args, "--batch-files", "1")...)...)
		tbl := loadTable(t, wh, "shop.orders")
		if v := tbl.Metadata().Version(); v != tc.version {
			t.Fatalf("%s: format version %d, want %d", tc.name, v, tc.version)
		}
		if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
			t.Fatalf("%s: rows differ from copy-on-write:\n%s", tc.name, d)
		}
		if tc.kind == "equality" && tbl.CurrentSnapshot().Summary.Properties["total-equality-deletes"] == "0" {
			t.Fatalf("equality strategy wrote no equality deletes")
		}
	}
	// The equality table cannot go copy-on-write while it has delete files.
	wh := filepath.Join(dir, "equality")
	code, out, _ := cli(t, "alter", "--warehouse", wh, "--tables", "shop.orders", "--write-mode", "copy-on-write")
	if code != 1 || !strings.Contains(out, "run cdcmerge compact") {
		t.Fatalf("alter with live delete files: exit %d: %s", code, out)
	}
	mustCLI(t, "compact", "--warehouse", wh, "--min-input-files", "1")
	out = mustCLI(t, "alter", "--warehouse", wh, "--tables", "shop.orders", "--write-mode", "copy-on-write")
	if !strings.Contains(out, "now copy-on-write") {
		t.Fatalf("alter after compact: %s", out)
	}
	if p := loadTable(t, wh, "shop.orders").Properties(); p["write.delete.mode"] != "copy-on-write" || p["cdcmerge.delete-strategy"] != "position" {
		t.Fatalf("properties after alter: %v", p)
	}
	if code, _, _ := cli(t, "alter", "--warehouse", wh, "--tables", "shop.orders", "--format-version", "3"); code != 2 {
		t.Fatalf("format version 3 for a copy-on-write table: exit %d, want 2", code)
	}
	mustCLI(t, "alter", "--warehouse", wh, "--tables", "shop.orders", "--write-mode", "merge-on-read", "--format-version", "3")
	if v := loadTable(t, wh, "shop.orders").Metadata().Version(); v != 3 {
		t.Fatalf("format version after alter: %d", v)
	}
	if out := mustCLI(t, "status", "--source", src, "--warehouse", wh); !strings.Contains(out, "[merge-on-read, format v3, deletion vectors]") {
		t.Fatalf("status does not show the altered mode: %s", out)
	}
	if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("alter changed the rows:\n%s", d)
	}
	if out := mustCLI(t, runArgs(src, wh)...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
		t.Fatalf("run after alter: %s", out)
	}
	if code, _, _ := cli(t, "alter", "--warehouse", wh); code != 2 {
		t.Fatalf("alter without a setting: exit %d, want 2", code)
	}
}
