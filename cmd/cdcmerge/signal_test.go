package main

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMAbandonsBatch stops a real process with SIGTERM (what ECS
// sends) while it holds a written but uncommitted batch: it must exit
// promptly without committing, and the next run must complete the table.
func TestSIGTERMAbandonsBatch(t *testing.T) {
	dir := t.TempDir()
	bin := buildFaultBinary(t, dir)
	src := filepath.Join(dir, "dms")
	genSource(t, src)
	wh := filepath.Join(dir, "wh")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, runArgs(src, wh, "--tables", "shop.orders")...)
	cmd.Env = append(cmd.Environ(), "CDCMERGE_FAULT_PAUSE=before-commit")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	paused := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "paused at before-commit") {
			paused = true
			break
		}
	}
	if !paused {
		t.Fatal("the process never reached before-commit")
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	if waited := time.Since(sent); waited > 3*time.Second {
		t.Fatalf("exited %s after SIGTERM", waited)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit code 1 after SIGTERM, got %v", err)
	}
	if tbl := loadTable(t, wh, "shop.orders"); tbl != nil && tbl.CurrentSnapshot() != nil {
		t.Fatalf("a snapshot was committed after SIGTERM: %d", tbl.CurrentSnapshot().SnapshotID)
	}
	out := mustCLI(t, runArgs(src, wh, "--tables", "shop.orders")...)
	if !strings.Contains(out, "shop.orders: 5 files") {
		t.Fatalf("rerun: %s", out)
	}
}

// TestMaxDuration: past --max-duration no batch starts; the run exits 0,
// says how many files are left, and the next run applies them.
func TestMaxDuration(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src)
	wh := filepath.Join(dir, "wh")
	out := mustCLI(t, runArgs(src, wh, "--max-duration", "1ns")...)
	if strings.Count(out, "stopped at --max-duration with 5 files left") != 2 {
		t.Fatalf("output:\n%s", out)
	}
	if tbl := loadTable(t, wh, "shop.orders"); tbl != nil && tbl.CurrentSnapshot() != nil {
		t.Fatal("committed past the deadline")
	}
	out = mustCLI(t, runArgs(src, wh, "--max-duration", "10m")...)
	if strings.Count(out, ": 5 files") != 2 || strings.Contains(out, "stopped") {
		t.Fatalf("output:\n%s", out)
	}
	if code, _, errs := cli(t, runArgs(src, wh, "--max-duration", "soon")...); code != 2 || !strings.Contains(errs, "max-duration") {
		t.Fatalf("bad duration: exit %d %s", code, errs)
	}
}
