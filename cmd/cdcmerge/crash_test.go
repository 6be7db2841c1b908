package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// buildFaultBinary builds cdcmerge with -tags faultinject into dir.
func buildFaultBinary(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the fault-injection binary: %v", err)
	}
	bin := filepath.Join(dir, "cdcmerge-fi")
	cmd := exec.Command(goTool, "build", "-tags", "faultinject", "-o", bin, "./")
	cmd.Dir = "." // the package directory: go test runs tests there
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags faultinject: %v\n%s", err, out)
	}
	return bin
}

// TestCrash kills a real cdcmerge process (SIGKILL, from inside, at an exact
// fault point) and checks that the next run leaves the table exactly as an
// uninterrupted run does.
func TestCrash(t *testing.T) {
	clearEnv(t)
	bin := buildFaultBinary(t, t.TempDir())

	// The uninterrupted reference, and the source every case copies.
	base := t.TempDir()
	template := filepath.Join(base, "dms")
	genSource(t, template, "--tables", "shop.orders")
	refSrc := filepath.Join(base, "dms-ref")
	copyTree(t, template, refSrc)
	refWH := filepath.Join(base, "wh-ref")
	out := mustCLI(t, runArgs(refSrc, refWH, "--batch-files", "2")...)
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "5 files") || !strings.Contains(l, "3 commits") {
		t.Fatalf("reference run: %q, want 5 files in 3 commits", l)
	}
	want := rowsOf(t, refWH, "shop.orders", ordersKey)
	if len(want) == 0 {
		t.Fatal("the reference table is empty")
	}
	cdc := cdcNames(t, template, "shop/orders")

	cases := []struct {
		point string
		// mode is the write mode; at is which time the point is reached
		// that the process dies (0: the first).
		mode string
		at   int
		// committed says whether the first batch is in the table after the
		// kill; then its checkpoint names the batch's last file.
		committed bool
		// rerunFiles is how many files the rerun applies.
		rerunFiles string
	}{
		{fault.MidRead, "", 0, false, "5 files"},
		{fault.BeforeCommit, "", 0, false, "5 files"},
		{fault.AfterDataFiles, "", 0, false, "5 files"},
		{fault.AfterManifests, "", 0, false, "5 files"},
		{fault.AfterCommit, "", 0, true, "3 files"},
		// Merge-on-read: die in the second batch, after its position delete
		// files are written or just before its commit.
		{fault.AfterDeleteFiles, "merge-on-read", 2, true, "3 files"},
		{fault.BeforeCommit, "merge-on-read", 2, true, "3 files"},
		{fault.AfterManifests, "merge-on-read", 2, true, "3 files"},
		// The same after writing deletion vectors (v3) or equality deletes;
		// mode then carries the extra flags.
		{fault.AfterDeleteFiles, "merge-on-read --format-version 3", 2, true, "3 files"},
		{fault.AfterDeleteFiles, "merge-on-read --delete-strategy equality", 2, true, "3 files"},
	}
	for _, tc := range cases {
		t.Run(tc.point+"/"+firstNonEmpty(tc.mode, "copy-on-write"), func(t *testing.T) {
			root := t.TempDir()
			src := filepath.Join(root, "dms")
			wh := filepath.Join(root, "wh")
			copyTree(t, template, src)
			args := runArgs(src, wh, "--batch-files", "2")
			if tc.mode != "" {
				args = append(append(args, "--write-mode"), strings.Fields(tc.mode)...)
			}

			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "CDCMERGE_FAULT="+tc.point, "CDCMERGE_FAULT_AT="+strconv.Itoa(tc.at))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("CDCMERGE_FAULT=%s: the process was not killed (err %v)\nstdout:\n%s\nstderr:\n%s", tc.point, err, stdout.String(), stderr.String())
			}
			ws, ok := ee.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL || ee.ExitCode() == 0 {
				t.Fatalf("CDCMERGE_FAULT=%s: want death by SIGKILL, got %v\nstderr:\n%s", tc.point, ee, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("the killed run printed a summary:\n%s", stdout.String())
			}

			// What the crash left behind.
			tbl := loadTable(t, wh, "shop.orders")
			switch {
			case !tc.committed:
				if tbl != nil {
					st := stateOf(t, wh, "shop.orders")
					if st.snapshot != 0 || !st.checkpoint.IsZero() {
						t.Fatalf("after a kill at %s the table has committed data: %+v", tc.point, st)
					}
					if rows := rowsOf(t, wh, "shop.orders", ordersKey); len(rows) != 0 {
						t.Fatalf("after a kill at %s the table holds %d rows", tc.point, len(rows))
					}
				}
			default:
				if tbl == nil {
					t.Fatalf("after a kill at %s the table does not exist", tc.point)
				}
				st := stateOf(t, wh, "shop.orders")
				if st.snapshot == 0 || st.checkpoint.LoadLast != "LOAD00000001.parquet" || st.checkpoint.CDCLast != cdc[0] {
					t.Fatalf("after a kill at %s: %+v, want the first batch (LOAD and %s) committed", tc.point, st, cdc[0])
				}
				if rows := rowsOf(t, wh, "shop.orders", ordersKey); len(rows) == 0 {
					t.Fatalf("after a kill at %s the committed batch holds no rows", tc.point)
				}
			}

			// status sees the same.
			out := mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
			wantPending := " 5 files pending"
			if tc.committed {
				wantPending = " 3 files pending"
			}
			if l := lineOf(out, "shop.orders: "); !strings.Contains(l, wantPending) || strings.Contains(l, "PROBLEM") {
				t.Errorf("status after the kill: %q, want%s", l, wantPending)
			}

			// The rerun finishes the job.
			out = mustCLI(t, args...)
			if l := lineOf(out, "shop.orders: "); !strings.Contains(l, tc.rerunFiles) {
				t.Errorf("rerun: %q, want %s", l, tc.rerunFiles)
			}
			if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
				t.Fatalf("after a kill at %s and a rerun, the table differs from the uninterrupted run:\n%s", tc.point, d)
			}
			if st := stateOf(t, wh, "shop.orders"); st.checkpoint.CDCLast != cdc[len(cdc)-1] {
				t.Errorf("checkpoint after the rerun: %+v, want %s", st.checkpoint, cdc[len(cdc)-1])
			}
			// And one more run has nothing to do.
			out = mustCLI(t, args...)
			if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "up to date") {
				t.Errorf("second rerun: %q, want up to date", l)
			}
			// A kill after writing files leaves orphans: status lists them,
			// clean-orphans removes them, the rows stay.
			if tc.point == fault.AfterDataFiles || tc.point == fault.AfterDeleteFiles || tc.point == fault.AfterManifests {
				out = mustCLI(t, "status", "--source", src, "--warehouse", wh, "--orphans", "--log-level", "warn")
				if !strings.Contains(lineOf(out, "shop.orders: "), "orphan files") {
					t.Errorf("status --orphans after a kill at %s: %q", tc.point, out)
				}
				mustCLI(t, "clean-orphans", "--warehouse", wh, "--older-than", "0s")
				out = mustCLI(t, "status", "--source", src, "--warehouse", wh, "--orphans", "--log-level", "warn")
				if strings.Contains(out, "orphan files") {
					t.Errorf("orphans left after clean-orphans: %q", out)
				}
				if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
					t.Fatalf("clean-orphans changed the table:\n%s", d)
				}
			}
		})
	}
}

// TestCrashDuringCleanup kills clean-orphans after it deleted its first
// file: the table is untouched, status still lists the orphans left, and
// the next clean-orphans removes them.
func TestCrashDuringCleanup(t *testing.T) {
	clearEnv(t)
	bin := buildFaultBinary(t, t.TempDir())
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src, "--tables", "shop.orders")
	args := runArgs(src, wh, "--batch-files", "2", "--write-mode", "merge-on-read")

	// Orphans: a run killed after writing its second batch's files and
	// manifests, then a run that finishes.
	killAt(t, bin, fault.AfterManifests, 2, args...)
	mustCLI(t, args...)
	want := rowsOf(t, wh, "shop.orders", ordersKey)
	orphans := func() int {
		out := mustCLI(t, "status", "--source", src, "--warehouse", wh, "--orphans", "--log-level", "warn")
		l := lineOf(out, "shop.orders: ")
		i := strings.Index(l, " orphan files")
		if i < 0 {
			return 0
		}
		f := strings.Fields(l[:i])
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("status line %q: %v", l, err)
		}
		return n
	}
	before := orphans()
	if before < 3 {
		t.Fatalf("the killed run left %d orphan files, want at least 3 (data, delete, manifest files)", before)
	}

	killAt(t, bin, fault.DuringCleanup, 1, "clean-orphans", "--warehouse", wh, "--older-than", "0s")
	if after := orphans(); after != before-1 {
		t.Fatalf("after clean-orphans was killed following its first delete: %d orphans, want %d", after, before-1)
	}
	if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("a killed clean-orphans changed the table:\n%s", d)
	}
	mustCLI(t, "clean-orphans", "--warehouse", wh, "--older-than", "0s")
	if after := orphans(); after != 0 {
		t.Fatalf("%d orphans left after clean-orphans ran again", after)
	}
	if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("clean-orphans changed the table:\n%s", d)
	}
}

// killAt runs bin with args, expecting it to die by SIGKILL at point the
// at-th time it is reached.
func killAt(t *testing.T, bin, point string, at int, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CDCMERGE_FAULT="+point, "CDCMERGE_FAULT_AT="+strconv.Itoa(at))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("CDCMERGE_FAULT=%s: the process was not killed (err %v)\nstderr:\n%s", point, err, stderr.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("CDCMERGE_FAULT=%s: want death by SIGKILL, got %v\nstderr:\n%s", point, ee, stderr.String())
	}
}
