package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHarnessXS runs the whole harness on size XS with the DuckDB peer
// disabled (no cgo needed): the report must be produced and the cdcmerge
// table must match the naive replay. This is the CI smoke test of the
// harness; it asserts no timings.
func TestHarnessXS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cdcmerge binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "cdcmerge")
	// The build has its own bound: on a fresh machine, with every other
	// package's tests compiling beside it, it alone took over a minute and
	// used up the harness's time (the harness run takes 15 s warm).
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancelBuild()
	build := exec.CommandContext(buildCtx, "go", "build", "-o", bin, "github.com/cdcmerge/cdcmerge/cmd/cdcmerge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results := filepath.Join(tmp, "results")
	var log strings.Builder
	rep, err := Run(ctx, Options{
		Size: "XS", Dir: filepath.Join(tmp, "work"), ResultsDir: results,
		Binary: bin, NoPeer: true, Log: &log,
		SmallRuns: 3, CompactEvery: 2,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	t.Log(log.String())

	c := rep.Correctness
	if c.Reference != "naive replay" || !c.Match {
		t.Fatalf("correctness: %+v", c)
	}
	if c.TableRows == 0 || c.TableRows != c.ReferenceRows {
		t.Fatalf("rows: table %d, reference %d", c.TableRows, c.ReferenceRows)
	}
	if m := rep.CorrectnessMOR; m == nil || !m.Match || m.TableRows != c.TableRows {
		t.Fatalf("merge-on-read correctness: %+v", m)
	}
	if rep.DuckDB == nil || rep.DuckDB.Available {
		t.Fatalf("DuckDB peer should be reported unavailable: %+v", rep.DuckDB)
	}
	want := map[string]bool{
		"cdcmerge/initial load": false, "cdcmerge/incremental merge": false, "cdcmerge/total": false,
		"cdcmerge merge-on-read/initial load": false, "cdcmerge merge-on-read/incremental merge": false,
		"cdcmerge merge-on-read-partitioned/initial load": false, "cdcmerge merge-on-read-partitioned/incremental merge": false,
		"cdcmerge merge-on-read-partitioned/total": false,
		"floor/rewrite LOAD files":                 false, "floor/rewrite CDC files": false, "floor/total": false,
		"floor tuned/rewrite LOAD files": false, "floor tuned/rewrite CDC files": false, "floor tuned/total": false,
	}
	for _, c := range []string{"cdcmerge", "cdcmerge merge-on-read"} {
		for _, p := range []string{"small batch p50", "small batch p95", "small batch max", "read before compact", "compact before read", "read after compact"} {
			want[c+"/"+p] = false
		}
	}
	want["cdcmerge merge-on-read/small batch compact (every 2)"] = false
	for _, p := range []string{"small batch p50", "small batch p95", "small batch max"} {
		want["cdcmerge merge-on-read, table 1/2/"+p] = false
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			t.Errorf("%s %s failed: %s", r.Contender, r.Phase, r.Error)
		}
		if r.Seconds <= 0 {
			t.Errorf("%s %s: %v seconds", r.Contender, r.Phase, r.Seconds)
		}
		if r.Contender == "cdcmerge" && r.PeakRSSMiB <= 0 {
			t.Errorf("%s %s: no peak RSS", r.Contender, r.Phase)
		}
		if r.FargateUSD != nil && (*r.FargateUSD <= 0 || *r.GlueUSD <= *r.FargateUSD) {
			t.Errorf("%s %s: costs fargate %v glue %v", r.Contender, r.Phase, *r.FargateUSD, *r.GlueUSD)
		}
		want[r.Contender+"/"+r.Phase] = true
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no result row %s", k)
		}
	}
	// Small batches: 3 runs per mode, one compaction between them for
	// merge-on-read, and both tables read the same rows before and after
	// the final compaction.
	// The fifth series is the growth comparison: the same 3 batches into
	// a table of one of XS's 2 LOAD files, merge-on-read, no compaction,
	// no read.
	if n := len(rep.SmallBatches); n != 5 {
		t.Fatalf("%d small batch series, want 5 (copy-on-write, merge-on-read v2, v3, equality, growth)", n)
	}
	if g, s := rep.SmallBatchGrowth, rep.SmallBatches[4]; g == nil || g.Runs != 3 || g.SmallShare != "1/2" || g.SmallP50 <= 0 || g.FullP50 <= 0 ||
		g.Ratio != g.FullP50/g.SmallP50 || s.LoadFiles != 1 || len(s.Seconds) != 3 || s.ScanBefore != nil || s.Error != "" {
		t.Errorf("growth: %+v, series %+v", g, s)
	}
	var scanned []int64
	for _, s := range rep.SmallBatches[:4] {
		if s.Error != "" || len(s.Seconds) != 3 || len(s.EngineSeconds) != 3 || s.P50 <= 0 || s.P95 < s.P50 || s.Max < s.P95 {
			t.Errorf("small batches %s: %+v", s.Mode, s)
		}
		if want := map[string]int{"copy-on-write": 0, "merge-on-read": 1, modeMergeOnReadV3: 1, modeMergeOnReadEquality: 1}[s.Mode]; len(s.Compactions) != want {
			t.Errorf("small batches %s: %d compactions, want %d", s.Mode, len(s.Compactions), want)
		}
		if s.ScanBefore == nil || s.ScanAfter == nil || s.ScanBefore.Rows <= 0 || s.ScanBefore.Rows != s.ScanAfter.Rows {
			t.Fatalf("small batches %s: scans %+v, %+v", s.Mode, s.ScanBefore, s.ScanAfter)
		}
		scanned = append(scanned, s.ScanBefore.Rows)
	}
	for i, n := range scanned[1:] {
		if n != scanned[0] {
			t.Errorf("copy-on-write table has %d rows after the small batches, %s %d", scanned[0], rep.SmallBatches[i+1].Mode, n)
		}
	}

	// The further checks: the partitioned table after the incremental
	// merge, then every write mode's table after the small batches, each
	// against the naive replay (of the LOAD rows and the small batches
	// only, for the latter).
	wantChecks := []string{"cdcmerge merge-on-read-partitioned table after the incremental merge"}
	for _, s := range rep.SmallBatches[:4] {
		wantChecks = append(wantChecks, s.Contender+" table after the small batches")
	}
	if len(rep.Checks) != len(wantChecks) {
		t.Fatalf("%d checks, want %v: %+v", len(rep.Checks), wantChecks, rep.Checks)
	}
	for i, ch := range rep.Checks {
		rows := c.TableRows
		if i > 0 {
			rows = int(scanned[0])
		}
		if ch.name() != wantChecks[i] || ch.Reference != "naive replay" || !ch.Match || ch.TableRows != rows || ch.ReferenceRows != rows {
			t.Errorf("check %d: %+v, want %s matching %d rows", i, ch, wantChecks[i], rows)
		}
	}
	if err := rep.Mismatch(); err != nil {
		t.Error(err)
	}
	// The partitioned contender's table is partitioned: one spec field,
	// and more data files than the unpartitioned merge-on-read table's.
	files := map[string]int{}
	for _, mode := range []string{"merge-on-read", modeMergeOnReadPartitioned} {
		tbl, err := openTable(ctx, filepath.Join(tmp, "work", "XS", "warehouse-"+mode))
		if err != nil || tbl.CurrentSnapshot() == nil {
			t.Fatalf("%s table: %v", mode, err)
		}
		if spec := tbl.Spec(); mode == modeMergeOnReadPartitioned && spec.NumFields() != 1 {
			t.Errorf("%s: partition spec %v", mode, spec)
		}
		files[mode], _ = strconv.Atoi(tbl.CurrentSnapshot().Summary.Properties["total-data-files"])
	}
	if files[modeMergeOnReadPartitioned] <= files["merge-on-read"] {
		t.Errorf("data files: %v, want more in the partitioned table", files)
	}

	// The chart.
	pngBytes, err := os.ReadFile(filepath.Join(results, "XS.png"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("XS.png: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(pngBytes)); err != nil {
		t.Fatalf("XS.png: %v", err)
	}
	if len(pngBytes) < 4096 || cfg.Width < 400 || cfg.Height < 300 {
		t.Errorf("XS.png is trivial: %d bytes, %dx%d", len(pngBytes), cfg.Width, cfg.Height)
	}

	// The engine's own stats: the incremental run applied the CDC files.
	var last struct {
		Files int `json:"files"`
	}
	if n := len(rep.CdcmergeRuns); n != 6 {
		t.Fatalf("%d cdcmerge run stats, want 6 (two per contender)", n)
	}
	if err := json.Unmarshal(rep.CdcmergeRuns[1].Stats, &last); err != nil || last.Files != Sizes["XS"].CDCFiles {
		t.Fatalf("incremental run stats %s (err %v)", rep.CdcmergeRuns[1].Stats, err)
	}

	// Files written.
	b, err := os.ReadFile(filepath.Join(results, "XS.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Machine.Cores <= 0 || back.Machine.GoVersion == "" || back.Prices.GlueDPUHour != 0.44 || !back.Correctness.Match {
		t.Fatalf("report JSON incomplete: %+v", back)
	}
	md, err := os.ReadFile(filepath.Join(results, "XS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"cdcmerge merge-on-read-partitioned table after the incremental merge vs naive replay: **MATCH**",
		"cdcmerge merge-on-read-v3 table after the small batches vs naive replay: **MATCH**", "| contender | phase | seconds |", "| cdcmerge | incremental merge |", "| floor | total |", "MATCH", "unavailable", "$0.44/DPU-h", "| cdcmerge merge-on-read | small batch p95 |", "Small batches and read after merge", "Small batch as the table grows"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

// TestCompareDetectsDifferences checks that the comparison is not vacuous.
func TestCompareDetectsDifferences(t *testing.T) {
	a, _ := newFingerprints([]string{"order_id", "x"})
	b, _ := newFingerprints([]string{"x", "order_id"})
	for k := int64(1); k <= 5; k++ {
		a.add(k, uint64(k))
		b.add(k, uint64(k))
	}
	var c Correctness
	compare(&c, a, b)
	if !c.Match {
		t.Fatalf("equal sets reported different: %+v", c)
	}
	b.rows[2] = 99    // different
	delete(b.rows, 3) // extra in a
	b.rows[7] = 7     // missing from a
	a.add(4, 4)       // duplicate in a
	c = Correctness{}
	compare(&c, a, b)
	if c.Match || c.Different != 1 || c.Extra != 1 || c.Missing != 1 || !strings.Contains(c.Detail, "duplicate") {
		t.Fatalf("differences not found: %+v", c)
	}
}

func TestPrices(t *testing.T) {
	p := DefaultPrices
	// 30 s bills as the 60 s minimum; 2 DPU x $0.44/h for a minute.
	if got, want := p.Glue(30), 2*0.44/60; abs(got-want) > 1e-12 {
		t.Errorf("Glue(30) = %v, want %v", got, want)
	}
	if got, want := p.Fargate(120), (2*0.04048+4*0.004445)*120/3600; abs(got-want) > 1e-12 {
		t.Errorf("Fargate(120) = %v, want %v", got, want)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
