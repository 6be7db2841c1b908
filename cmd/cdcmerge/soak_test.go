package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
)

// Soak test settings, from the environment: CDCMERGE_SOAK_SEED replays one
// soak (the seed is logged at the start), CDCMERGE_SOAK_SECONDS changes
// how long it runs (default 60 s, 15 s with -short).
const (
	soakSeedEnv    = "CDCMERGE_SOAK_SEED"
	soakSecondsEnv = "CDCMERGE_SOAK_SECONDS"
	// soakMaxRounds bounds the count as well as the time.
	soakMaxRounds = 2000
)

// soakFaultPoints are the points a soak run may die at.
var soakFaultPoints = []string{
	fault.AfterList, fault.MidRead, fault.AfterRead, fault.AfterDataFiles, fault.AfterDeleteFiles,
	fault.BeforeCommit, fault.Commit, fault.AfterManifests, fault.AfterCommit, fault.AfterCommitReply,
	fault.AfterSchemaCommit,
}

// soakLane is one table fed by one generated change stream, in one write
// mode, with its own source folder and warehouse.
type soakLane struct {
	mode     string
	template string // all files of the stream
	src, wh  string // what the runs see, and where the table lives
	model    tableModel
	loads    []string // LOAD file basenames
	cdc      []string // CDC file basenames, in stream order
	revealed int      // CDC files copied into src (LOAD files go with the first reveal)
	applied  int      // CDC files the checkpoint covers; -1: nothing applied yet
	runs     int      // runs, killed ones included
	// loadRowGroup, when not 0, is the row group size of the one LOAD
	// file, rewritten so that with batchBytes it is applied in parts.
	loadRowGroup int
	batchBytes   int64
}

// newSoakLane generates a stream of many small CDC files (ties, repeated
// keys, key-only deletes, changes to absent keys: gen's defaults) and an
// empty source and warehouse for it.
func newSoakLane(t *testing.T, r *rand.Rand, mode string) *soakLane {
	t.Helper()
	root := t.TempDir()
	cfg := gen.Config{Rows: 100 + r.Intn(200), Changes: 800 + r.Intn(800), LoadFiles: 1 + r.Intn(2), CDCFiles: 60 + r.Intn(60), Seed: r.Int63n(1 << 40)}
	l := &soakLane{mode: mode, template: filepath.Join(root, "dms-all"), src: filepath.Join(root, "dms"), wh: filepath.Join(root, "wh"), applied: -1}
	mustCLI(t, "gen", "--out", l.template, "--tables", "shop.orders", "--rows", itoa(cfg.Rows), "--changes", itoa(cfg.Changes), "--load-files", itoa(cfg.LoadFiles),
		"--cdc-files", itoa(cfg.CDCFiles), "--seed", strconv.FormatInt(cfg.Seed, 10))
	l.model = modelOf(t, cfg, "shop.orders")
	// DMS creates the folder before the first file arrives.
	if err := os.MkdirAll(l.src, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(l.template, "shop", "orders"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "LOAD") {
			l.loads = append(l.loads, e.Name())
		}
	}
	l.cdc = cdcNames(t, l.template, "shop/orders")
	if cfg.LoadFiles == 1 && r.Intn(2) == 0 {
		// The LOAD file in small row groups and a batch budget a quarter
		// of its size: it is applied in parts, and kills land between them.
		l.loadRowGroup = 10 + r.Intn(20)
		rows := make([][]any, len(l.model.load))
		for i, rw := range l.model.load {
			rows[i] = rw.Values
		}
		var buf bytes.Buffer
		if err := gen.WriteParquet(&buf, l.model.schema, rows, gen.WithRowGroupSize(int64(l.loadRowGroup))); err != nil {
			t.Fatal(err)
		}
		writeFile(t, l.template, "shop/orders/"+l.loads[0], buf.Bytes())
		l.batchBytes = int64(buf.Len() / 4)
	}
	if len(l.cdc) != cfg.CDCFiles || len(l.model.cdc) != cfg.CDCFiles || len(l.loads) == 0 {
		t.Fatalf("gen wrote %d LOAD and %d CDC files, the model has %d CDC files; want %d", len(l.loads), len(l.cdc), len(l.model.cdc), cfg.CDCFiles)
	}
	return l
}

// reveal copies the next n files of the stream into the source folder, as
// DMS uploads them.
func (l *soakLane) reveal(t *testing.T, n int) {
	t.Helper()
	dir := filepath.Join("shop", "orders")
	var names []string
	if l.revealed == 0 && n > 0 {
		names = append(names, l.loads...)
	}
	for ; n > 0 && l.revealed < len(l.cdc); n-- {
		names = append(names, l.cdc[l.revealed])
		l.revealed++
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(l.template, dir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, l.src, "shop/orders/"+name, b)
	}
}

// soakEnv is the environment of a soak run: the test's, without cdcmerge
// settings or a memory limit, plus extra.
func soakEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CDCMERGE_") && !strings.HasPrefix(e, "GOMEMLIMIT=") {
			env = append(env, e)
		}
	}
	return append(env, extra...)
}

// TestSoak runs many small batches of random change streams through a
// fault-injection build of cdcmerge, in both write modes (half the streams
// with a LOAD file larger than the batch budget, applied in parts), and
// kills the process at random: at a random fault point (the N-th time it is reached,
// so inside a later batch of a run), or by a timer at a random moment
// (which can also hit a compaction). Maintenance (compact, expire,
// clean-orphans) is interleaved at random. After every run, killed or not,
// it checks that:
//   - the checkpoint names a file that was revealed, never goes back, and
//     after a run that was not killed covers every revealed file;
//   - the table equals the naive replay of the stream up to the checkpoint;
//   - the files status would call orphans are referenced by no snapshot,
//     and deleting them leaves the table unchanged.
//
// It stops by itself after CDCMERGE_SOAK_SECONDS (default 60 s) or
// soakMaxRounds rounds; the seed is logged for replay with CDCMERGE_SOAK_SEED.
func TestSoak(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	if v := os.Getenv(soakSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", soakSeedEnv, v, err)
		}
	}
	budget := 60 * time.Second
	if testing.Short() {
		budget = 15 * time.Second
	}
	if v := os.Getenv(soakSecondsEnv); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			t.Fatalf("%s=%q: want a number of seconds", soakSecondsEnv, v)
		}
		budget = time.Duration(s) * time.Second
	}
	t.Logf("soak seed %d (replay with %s=%d), %s", seed, soakSeedEnv, seed, budget)
	r := rand.New(rand.NewSource(seed))
	bin := buildFaultBinary(t, t.TempDir())
	deadline := time.Now().Add(budget)

	lanes := []*soakLane{newSoakLane(t, r, merge.CopyOnWrite), newSoakLane(t, r, merge.MergeOnRead)}
	streams, rounds, kills, inParts := 2, 0, 0, 0
	for ; rounds < soakMaxRounds && time.Now().Before(deadline); rounds++ {
		i := r.Intn(len(lanes))
		l := lanes[i]
		if l.applied == len(l.cdc) {
			// The stream is consumed: a fresh table and stream.
			l = newSoakLane(t, r, l.mode)
			lanes[i] = l
			streams++
		}
		l.reveal(t, r.Intn(4))
		what := l.run(t, r, bin)
		if strings.HasSuffix(what, soakKilled) {
			kills++
		}
		if l.check(t, what) {
			inParts++
		}
		if r.Intn(8) == 0 {
			l.maintain(t, r)
		}
	}
	t.Logf("soak seed %d: %d runs over %d streams, %d of them killed (%d inside a file applied in parts)", seed, rounds, streams, kills, inParts)
	if rounds < 10 || kills == 0 {
		t.Fatalf("only %d soak runs (%d killed) in %s: too few to mean anything", rounds, kills, budget)
	}
}

// soakKilled ends the description of a run that was killed.
const soakKilled = ": killed"

// run runs cdcmerge once over the lane, maybe dying on the way, and says
// what happened (for messages), ending with soakKilled if it was killed.
func (l *soakLane) run(t *testing.T, r *rand.Rand, bin string) string {
	t.Helper()
	l.runs++
	args := runArgs(l.src, l.wh, "--write-mode", l.mode, "--batch-files", itoa(1+r.Intn(3)))
	if l.batchBytes > 0 {
		args = append(args, "--batch-bytes", strconv.FormatInt(l.batchBytes, 10))
	}
	if l.mode == merge.MergeOnRead && r.Intn(4) == 0 {
		args = append(args, "--compact-after-delete-files", itoa(2+r.Intn(4)))
	}
	var env []string
	var timer time.Duration
	what := "run"
	switch x := r.Intn(10); {
	case x < 5:
		p := soakFaultPoints[r.Intn(len(soakFaultPoints))]
		at := 1 + r.Intn(3)
		env = append(env, "CDCMERGE_FAULT="+p, "CDCMERGE_FAULT_AT="+itoa(at))
		what = fmt.Sprintf("run with CDCMERGE_FAULT=%s CDCMERGE_FAULT_AT=%d", p, at)
	case x < 7:
		timer = time.Duration(20+r.Intn(600)) * time.Millisecond
		what = fmt.Sprintf("run killed after %s", timer)
	}
	what = fmt.Sprintf("%s run %d (%s, %d files revealed): %s %s", l.mode, l.runs, l.src, l.revealed, what, strings.Join(args[1:], " "))

	cmd := exec.Command(bin, args...)
	cmd.Env = soakEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if timer > 0 {
		tm := time.AfterFunc(timer, func() { _ = cmd.Process.Kill() })
		defer tm.Stop()
	}
	err := cmd.Wait()
	if err == nil {
		return what
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return what + soakKilled
		}
	}
	t.Fatalf("%s: %v (only exit 0 or SIGKILL are expected)\nstdout:\n%s\nstderr:\n%s", what, err, stdout.String(), stderr.String())
	return ""
}

// check compares the table with the model up to its checkpoint, and the
// orphan files with what the snapshots reference. It reports whether the
// run stopped inside a file applied in parts.
func (l *soakLane) check(t *testing.T, what string) bool {
	t.Helper()
	killed := strings.HasSuffix(what, soakKilled)
	tbl := loadTable(t, l.wh, "shop.orders")
	if tbl == nil {
		if !killed && l.revealed > 0 {
			t.Fatalf("%s: no table after a run that was not killed", what)
		}
		return false
	}
	st := stateOf(t, l.wh, "shop.orders")
	cp := st.checkpoint
	applied := -1 // CDC files applied; -1: nothing, not even the full load
	switch {
	case cp.CDCLast != "":
		i := slices.Index(l.cdc[:l.revealed], cp.CDCLast)
		if i < 0 {
			t.Fatalf("%s: the checkpoint names %q, which is not a revealed CDC file", what, cp.CDCLast)
		}
		applied = i + 1
		if cp.CDCFiles != int64(applied) {
			t.Fatalf("%s: checkpoint %+v counts %d CDC files, but %s is the %d-th", what, cp, cp.CDCFiles, cp.CDCLast, applied)
		}
		if cp.LoadLast != l.loads[len(l.loads)-1] || cp.LoadFiles != len(l.loads) {
			t.Fatalf("%s: checkpoint %+v: CDC applied but not the whole full load %v", what, cp, l.loads)
		}
	case cp.LoadLast != "":
		applied = 0
		if cp.LoadLast != l.loads[len(l.loads)-1] && !killed {
			t.Fatalf("%s: checkpoint %+v, want the full load applied", what, cp)
		}
	}
	if applied < l.applied {
		t.Fatalf("%s: the checkpoint went back from %d to %d CDC files: %+v", what, l.applied, applied, cp)
	}
	l.applied = applied
	if !killed && l.revealed > 0 && applied != l.revealed {
		t.Fatalf("%s: a run that was not killed left the checkpoint at %d of %d revealed CDC files: %+v", what, applied, l.revealed, cp)
	}
	loadRows := -1 // rows of a LOAD file applied in parts so far
	if cp.PartFile != "" {
		if cp.PartFile != l.loads[0] || l.loadRowGroup == 0 || !killed || applied >= 0 {
			t.Fatalf("%s: checkpoint %+v names a file in parts; only the LOAD file of this stream is split, and only a killed run stops inside it", what, cp)
		}
		loadRows = min(cp.PartRowGroups*l.loadRowGroup, len(l.model.load))
	}
	l.checkRows(t, what, cp.LoadLast != "" && cp.LoadLast != l.loads[len(l.loads)-1], loadRows)
	l.checkOrphans(t, what)
	return loadRows >= 0
}

// checkRows compares the table with the model at the checkpoint.
func (l *soakLane) checkRows(t *testing.T, what string, partialLoad bool, loadRows int) {
	t.Helper()
	got := rowsOf(t, l.wh, "shop.orders", ordersKey)
	var want testutil.Rows
	switch {
	case loadRows >= 0:
		// The first row groups of the LOAD file.
		want = testutil.Rows{}
		for _, rw := range l.model.load[:loadRows] {
			l.model.apply(want, "I", rw.Values)
		}
	case l.applied < 0:
		want = testutil.Rows{}
	case partialLoad:
		// Some of several LOAD files: the rows are a subset of the load.
		full := l.model.replay(0)
		for k, row := range got {
			if d := testutil.Diff(testutil.Rows{k: full[k]}, testutil.Rows{k: row}, 1); d != "" {
				t.Fatalf("%s: after part of the full load:\n%s", what, d)
			}
		}
		return
	default:
		want = l.model.replay(l.applied)
	}
	if d := testutil.Diff(want, got, 10); d != "" {
		t.Fatalf("%s: the table differs from the replay of the stream up to the checkpoint (%d CDC files):\n%s", what, l.applied, d)
	}
}

// checkOrphans checks that no file clean-orphans would delete is
// referenced by a snapshot of the table: no data or delete file, manifest
// or manifest list.
func (l *soakLane) checkOrphans(t *testing.T, what string) {
	t.Helper()
	ctx := context.Background()
	tbl := loadTable(t, l.wh, "shop.orders")
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(p string) string { return filepath.Clean(strings.TrimPrefix(p, "file://")) }
	referenced := map[string]bool{}
	for _, snap := range tbl.Metadata().Snapshots() {
		referenced[norm(snap.ManifestList)] = true
		mans, err := snap.Manifests(fs)
		if err != nil {
			t.Fatalf("%s: snapshot %d: %v", what, snap.SnapshotID, err)
		}
		for _, m := range mans {
			referenced[norm(m.FilePath())] = true
			// Entries with status DELETED record a removal: no snapshot
			// reads their file any more.
			entries, err := m.FetchEntries(fs, true)
			if err != nil {
				t.Fatalf("%s: manifest %s: %v", what, m.FilePath(), err)
			}
			for _, e := range entries {
				referenced[norm(e.DataFile().FilePath())] = true
			}
		}
	}
	if len(referenced) == 0 && tbl.CurrentSnapshot() != nil {
		t.Fatalf("%s: found no referenced files", what)
	}
	orphans, err := merge.CleanOrphans(ctx, tbl, 0, true)
	if err != nil {
		t.Fatalf("%s: listing orphans: %v", what, err)
	}
	for _, o := range orphans {
		if referenced[norm(o)] {
			t.Fatalf("%s: %s is listed as an orphan but a snapshot references it", what, o)
		}
	}
}

// maintain runs compaction, expiry or orphan cleanup on the lane's table
// and checks the rows did not change.
func (l *soakLane) maintain(t *testing.T, r *rand.Rand) {
	t.Helper()
	if loadTable(t, l.wh, "shop.orders") == nil {
		return
	}
	before := rowsOf(t, l.wh, "shop.orders", ordersKey)
	cpBefore := stateOf(t, l.wh, "shop.orders").checkpoint
	common := []string{"--warehouse", l.wh, "--log-level", "warn"}
	var op []string
	switch r.Intn(3) {
	case 0:
		op = []string{"compact", "--min-input-files", "2"}
	case 1:
		op = []string{"expire", "--older-than", "0s", "--retain-last", itoa(1 + r.Intn(3))}
	default:
		op = []string{"clean-orphans", "--older-than", "0s"}
	}
	mustCLI(t, append(op, common...)...)
	what := fmt.Sprintf("%s after run %d", strings.Join(op, " "), l.runs)
	if d := testutil.Diff(before, rowsOf(t, l.wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("%s changed the rows:\n%s", what, d)
	}
	if cp := stateOf(t, l.wh, "shop.orders").checkpoint; cp.CDCLast != cpBefore.CDCLast || cp.LoadLast != cpBefore.LoadLast {
		t.Fatalf("%s moved the checkpoint from %+v to %+v", what, cpBefore, cp)
	}
	l.checkOrphans(t, what)
}
