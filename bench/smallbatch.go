package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdcmerge/cdcmerge/gen"
)

// SmallBatchChanges is the number of changes in each file of the small
// batches scenario.
const SmallBatchChanges = 10_000

// Defaults of the small batches scenario.
const (
	DefaultSmallRuns    = 100
	DefaultCompactEvery = 20
)

// SmallBatchSeries is one write mode's small batches scenario: the table
// loaded from the LOAD files, then Runs runs of `cdcmerge run`, each after
// one new CDC file of BatchChanges changes was added, then the read after
// merge (a full scan before and after a compaction).
type SmallBatchSeries struct {
	Contender    string `json:"contender"`
	Mode         string `json:"mode"`
	Runs         int    `json:"runs"`
	BatchChanges int    `json:"batch_changes"`
	CompactEvery int    `json:"compact_every,omitempty"` // merge-on-read only; 0: never between runs
	// LoadFiles is how many of the dataset's LOAD files the table was
	// loaded from (all but in the growth comparison).
	LoadFiles   int     `json:"load_files"`
	LoadSeconds float64 `json:"initial_load_seconds"`
	// Seconds and PeakRSSMiB are every run's process wall time and maxrss,
	// in run order; EngineSeconds the engine's own seconds (`--output json`).
	Seconds       []float64         `json:"seconds"`
	PeakRSSMiB    []float64         `json:"peak_rss_mib"`
	EngineSeconds []float64         `json:"engine_seconds"`
	Phases        []json.RawMessage `json:"phases,omitempty"` // the engine's per-phase seconds of each run
	Compactions   []Compaction      `json:"compactions,omitempty"`
	// P50, P95 and Max summarise Seconds; FirstTenth and LastTenth are the
	// medians of the first and the last tenth of the runs (at least one
	// run each), to see whether a run stays flat as the table ages.
	P50        float64 `json:"p50"`
	P95        float64 `json:"p95"`
	Max        float64 `json:"max"`
	FirstTenth float64 `json:"first_tenth_median"`
	LastTenth  float64 `json:"last_tenth_median"`
	// Read after merge.
	ScanBefore   *Scan       `json:"scan_before_compact,omitempty"`
	FinalCompact *Compaction `json:"final_compaction,omitempty"`
	ScanAfter    *Scan       `json:"scan_after_compact,omitempty"`
	Error        string      `json:"error,omitempty"`
	// out is where the table's state is after the series: the warehouse
	// of a cdcmerge series, the last exported Parquet file of DuckDB's.
	out string
}

// modeDuckDB is the Mode of the DuckDB peer's small batch series.
const modeDuckDB = "duckdb"

// Compaction is one `cdcmerge compact` process.
type Compaction struct {
	AfterRun   int             `json:"after_run"`
	Seconds    float64         `json:"seconds"`
	PeakRSSMiB float64         `json:"peak_rss_mib"`
	Result     json.RawMessage `json:"result,omitempty"` // the command's --output json
	Error      string          `json:"error,omitempty"`
}

// Scan is one full scan of the table through iceberg-go, in this process.
type Scan struct {
	Seconds     float64 `json:"seconds"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"` // this process's VmHWM, reset before the scan
	Rows        int64   `json:"rows"`
	DataFiles   string  `json:"data_files"`   // snapshot summary total-data-files
	DeleteFiles string  `json:"delete_files"` // snapshot summary total-delete-files
	Error       string  `json:"error,omitempty"`
}

// smallBatchFiles are the CDC files of the small batches scenario.
type smallBatchFiles struct {
	files      []string
	genSeconds float64
	reused     bool
}

const smallMarkerName = ".bench-small.json"

// prepareSmallBatches writes (or reuses) n CDC files of SmallBatchChanges
// changes each into <work>/dms-small/shop/orders. They continue the
// generated change stream of ds past its last change (the same generator
// and seed with more changes), so updates and deletes aim at live keys and
// inserts at new ones, and their names sort after ds's CDC files and after
// each other. The files of an earlier run with at least n files are reused.
func prepareSmallBatches(ctx context.Context, work string, ds *dataset, n int, logf func(string, ...any)) (*smallBatchFiles, error) {
	dir := filepath.Join(work, "dms-small")
	tableDir := filepath.Join(dir, "shop", "orders")
	marker := filepath.Join(dir, smallMarkerName)
	want, err := json.Marshal(struct {
		Config gen.Config
		Batch  int
		V      int
	}{ds.cfg, SmallBatchChanges, 1})
	if err != nil {
		return nil, err
	}
	type markerT struct {
		Key     json.RawMessage
		Files   []string
		Seconds float64
	}
	if got, err := os.ReadFile(marker); err == nil {
		var m markerT
		if json.Unmarshal(got, &m) == nil && string(m.Key) == string(want) && len(m.Files) >= n {
			sb := &smallBatchFiles{reused: true, genSeconds: m.Seconds}
			for _, f := range m.Files[:n] {
				p := filepath.Join(tableDir, f)
				if _, err := os.Stat(p); err != nil {
					sb = nil
					break
				}
				sb.files = append(sb.files, p)
			}
			if sb != nil {
				logf("reusing the small batch files in %s", tableDir)
				return sb, nil
			}
		}
	}
	logf("generating %d small batch files of %d changes into %s", n, SmallBatchChanges, tableDir)
	if err := resetDir(tableDir); err != nil {
		return nil, err
	}
	_ = os.Remove(marker)
	t0 := time.Now()
	cfg := ds.cfg
	cfg.Changes = ds.cfg.Changes + n*SmallBatchChanges
	cfg.CDCFiles = 1
	_, cdc, schema, _, err := gen.GenerateChanges(cfg, Table)
	if err != nil {
		return nil, err
	}
	if len(cdc) != 1 || len(cdc[0]) != cfg.Changes {
		return nil, fmt.Errorf("bench: generator returned %d CDC files, want all %d changes in one", len(cdc), cfg.Changes)
	}
	flat := cdc[0][ds.cfg.Changes:]
	cdc = nil
	cdcSchema := gen.CDCSchema(schema)
	prev := time.Time{}
	if len(ds.cdcFiles) > 0 {
		prev, err = cdcNameTime(filepath.Base(ds.cdcFiles[len(ds.cdcFiles)-1]))
		if err != nil {
			return nil, err
		}
	}
	sb := &smallBatchFiles{}
	var names []string
	for i := range n {
		part := flat[i*SmallBatchChanges : (i+1)*SmallBatchChanges]
		at, err := time.Parse(gen.TimestampLayout, part[0].Values[0].(string))
		if err != nil {
			return nil, err
		}
		at = at.Truncate(time.Millisecond)
		if !at.After(prev) {
			at = prev.Add(time.Millisecond)
		}
		prev = at
		name := cdcName(at)
		rows := make([][]any, len(part))
		for j, r := range part {
			rows[j] = append([]any{r.Op}, r.Values...)
		}
		var buf bytes.Buffer
		if err := gen.WriteParquet(&buf, cdcSchema, rows, gen.WithCompression(ds.cfg.Compression)); err != nil {
			return nil, err
		}
		p := filepath.Join(tableDir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		sb.files = append(sb.files, p)
		names = append(names, name)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	flat = nil
	sb.genSeconds = elapsed(t0)
	b, err := json.Marshal(markerT{Key: want, Files: names, Seconds: sb.genSeconds})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(marker, b, 0o644); err != nil {
		return nil, err
	}
	debug.FreeOSMemory()
	return sb, nil
}

// cdcName formats t as DMS names CDC files: yyyyMMdd-HHmmssSSS.parquet.
func cdcName(t time.Time) string {
	return fmt.Sprintf("%s%03d.parquet", t.UTC().Format("20060102-150405"), t.Nanosecond()/1e6)
}

// cdcNameTime parses a name cdcName wrote.
func cdcNameTime(name string) (time.Time, error) {
	base := strings.TrimSuffix(name, ".parquet")
	if len(base) != 18 {
		return time.Time{}, fmt.Errorf("bench: CDC file name %q is not yyyyMMdd-HHmmssSSS.parquet", name)
	}
	t, err := time.Parse("20060102-150405", base[:15])
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.Atoi(base[15:])
	if err != nil {
		return time.Time{}, err
	}
	return t.Add(time.Duration(ms) * time.Millisecond), nil
}

// runSmallBatches runs the small batches scenario and the read after merge
// for one write mode ("" for copy-on-write) on its own source and
// warehouse folders: the LOAD files as a new table, then one `cdcmerge run`
// process per file of sb (merge-on-read: `cdcmerge compact` after every
// compactEvery runs, but not after the last), then a scan of the table, a
// compaction and another scan. Failures are recorded in the series and
// its result rows, not returned; the error is for the harness itself.
//
// loads are the LOAD files the table starts from: all of the dataset's, or
// for the growth comparison (small), only the first, and then the read
// after merge is skipped.
func runSmallBatches(ctx context.Context, bin, work string, ds *dataset, sb *smallBatchFiles, compactEvery int, mode string, loads []string, logf func(string, ...any)) (SmallBatchSeries, []Result, error) {
	contender, suffix := "cdcmerge", ""
	if mode != "" {
		contender, suffix = "cdcmerge "+mode, "-"+mode
	}
	small := len(loads) < len(ds.loadFiles)
	if small {
		contender += fmt.Sprintf(", table 1/%d", len(ds.loadFiles)/len(loads))
		suffix += "-growth"
	}
	s := SmallBatchSeries{Contender: contender, Mode: mode, Runs: len(sb.files), BatchChanges: SmallBatchChanges, LoadFiles: len(loads)}
	if s.Mode == "" {
		s.Mode = "copy-on-write"
	}
	if strings.HasPrefix(mode, "merge-on-read") {
		s.CompactEvery = compactEvery
	}
	src := filepath.Join(work, "source-small"+suffix)
	wh := filepath.Join(work, "warehouse-small"+suffix)
	s.out = wh
	for _, d := range []string{src, wh} {
		if err := resetDir(d); err != nil {
			return s, nil, err
		}
	}
	tableDir := filepath.Join(src, "shop", "orders")
	args := []string{"run", "--source", src, "--warehouse", wh, "--key", Table + "=" + Key, "--output", "json", "--log-level", "warn"}
	args = append(args, writeModeArgs(mode)...)
	compactArgs := []string{"compact", "--warehouse", wh, "--output", "json", "--log-level", "warn"}

	if err := linkInto(tableDir, loads); err != nil {
		return s, nil, err
	}
	pr, err := runProc(ctx, work, nil, bin, args...)
	s.LoadSeconds = pr.wall
	if err != nil {
		return s.stop("initial load: %v", err)
	}
	for i, f := range sb.files {
		run := i + 1
		if err := linkInto(tableDir, []string{f}); err != nil {
			return s, nil, err
		}
		pr, err := runProc(ctx, work, nil, bin, args...)
		s.Seconds = append(s.Seconds, pr.wall)
		s.PeakRSSMiB = append(s.PeakRSSMiB, pr.rssMiB)
		if err == nil {
			var out struct {
				Tables []struct {
					Files   int             `json:"files"`
					Seconds float64         `json:"seconds"`
					Phases  json.RawMessage `json:"phases"`
				} `json:"tables"`
			}
			switch jerr := json.Unmarshal(pr.stdout, &out); {
			case jerr != nil:
				err = fmt.Errorf("unreadable --output json: %v", jerr)
			case len(out.Tables) != 1 || out.Tables[0].Files != 1:
				err = fmt.Errorf("run %d: want one table and one new file, got %s", run, tail(string(pr.stdout), 500))
			default:
				s.EngineSeconds = append(s.EngineSeconds, out.Tables[0].Seconds)
				s.Phases = append(s.Phases, out.Tables[0].Phases)
			}
		}
		if err != nil {
			return s.stop("run %d: %v", run, err)
		}
		if run%max(len(sb.files)/10, 1) == 0 {
			logf("%s: small batch %d/%d: %.3f s", contender, run, len(sb.files), pr.wall)
		}
		if s.CompactEvery > 0 && run%s.CompactEvery == 0 && run < len(sb.files) {
			c := compact(ctx, bin, work, compactArgs, run)
			s.Compactions = append(s.Compactions, c)
			if c.Error != "" {
				return s.stop("compaction after run %d: %s", run, c.Error)
			}
		}
	}

	if small {
		return s, s.rows(), nil
	}
	// Read after merge.
	debug.FreeOSMemory()
	sc := scanTable(ctx, wh)
	s.ScanBefore = &sc
	c := compact(ctx, bin, work, compactArgs, len(sb.files))
	s.FinalCompact = &c
	debug.FreeOSMemory()
	sc2 := scanTable(ctx, wh)
	s.ScanAfter = &sc2
	if sc.Error == "" && sc2.Error == "" && sc.Rows != sc2.Rows {
		s.Error = fmt.Sprintf("the compaction changed the row count: %d before, %d after", sc.Rows, sc2.Rows)
	}
	logf("%s: read after merge: scan %.3f s (%d rows, %s data + %s delete files), compact %.3f s, scan %.3f s (%s data + %s delete files)",
		contender, sc.Seconds, sc.Rows, sc.DataFiles, sc.DeleteFiles, c.Seconds, sc2.Seconds, sc2.DataFiles, sc2.DeleteFiles)
	return s, s.rows(), nil
}

// runDuckDBSmallBatches is the small batches scenario for the DuckDB peer,
// one peer process per batch as a scheduled job would run it (process
// start included), each doing the seed's job: read the table state from
// the Parquet file the previous run exported (the first run: from the LOAD
// files, timed as the initial load), dedupe the batch's CDC file, MERGE it
// in, export the new state (zstd). Failures are recorded in the series.
func runDuckDBSmallBatches(ctx context.Context, bin, work string, ds *dataset, sb *smallBatchFiles, threads int, logf func(string, ...any)) (SmallBatchSeries, []Result, error) {
	s := SmallBatchSeries{Contender: "duckdb", Mode: modeDuckDB, Runs: len(sb.files), BatchChanges: SmallBatchChanges, LoadFiles: len(ds.loadFiles)}
	dir := filepath.Join(work, "duckdb-small")
	if err := resetDir(dir); err != nil {
		return s, nil, err
	}
	state := func(run int) string { return filepath.Join(dir, fmt.Sprintf("orders-%04d.parquet", run)) }
	pr, _, err := runPeer(ctx, bin, work, loadGlob(ds), "", state(0), threads)
	s.LoadSeconds = pr.wall
	if err != nil {
		return s.stop("initial load: %v", err)
	}
	for i, f := range sb.files {
		run := i + 1
		pr, dr, err := runPeer(ctx, bin, work, state(run-1), f, state(run), threads)
		s.Seconds = append(s.Seconds, pr.wall)
		s.PeakRSSMiB = append(s.PeakRSSMiB, pr.rssMiB)
		if err != nil {
			return s.stop("run %d: %v", run, err)
		}
		s.EngineSeconds = append(s.EngineSeconds, dr.TotalSeconds)
		phases, err := json.Marshal(map[string]float64{"load": dr.LoadSeconds, "dedupe_merge": dr.MergeSeconds, "export": dr.ExportSeconds})
		if err != nil {
			return s, nil, err
		}
		s.Phases = append(s.Phases, phases)
		if err := os.Remove(state(run - 1)); err != nil {
			return s, nil, err
		}
		if run%max(len(sb.files)/10, 1) == 0 {
			logf("duckdb: small batch %d/%d: %.3f s", run, len(sb.files), pr.wall)
		}
	}
	s.out = state(len(sb.files))
	return s, s.rows(), nil
}

// checkSmallBatches compares the table of every cdcmerge series (but the
// growth comparison's) with the DuckDB series' final state, or without it
// with the naive replay of the LOAD rows and the small batches.
func checkSmallBatches(ctx context.Context, series []SmallBatchSeries, ds *dataset, runs int, logf func(string, ...any)) []Check {
	duckOut := ""
	for _, s := range series {
		if s.Mode == modeDuckDB && s.Error == "" {
			duckOut = s.out
		}
	}
	cfg := ds.cfg
	cfg.Changes += runs * SmallBatchChanges
	cfg.CDCFiles = 1
	ref := newReference(ctx, duckOut, cfg, ds.cfg.Changes)
	var out []Check
	for _, s := range series {
		if s.Mode == modeDuckDB || s.LoadFiles < len(ds.loadFiles) {
			continue
		}
		c := Check{Table: s.Contender, After: "small batches", Correctness: verify(ctx, s.out, ref, s.Error != "")}
		logf("%s vs %s: match=%v %s", c.name(), c.Reference, c.Match, c.Detail)
		out = append(out, c)
	}
	return out
}

// compact runs `cdcmerge compact` as a subprocess.
func compact(ctx context.Context, bin, work string, args []string, afterRun int) Compaction {
	pr, err := runProc(ctx, work, nil, bin, args...)
	c := Compaction{AfterRun: afterRun, Seconds: pr.wall, PeakRSSMiB: pr.rssMiB}
	if err == nil {
		var out struct {
			Tables []json.RawMessage `json:"tables"`
			Failed int               `json:"failed"`
		}
		switch jerr := json.Unmarshal(pr.stdout, &out); {
		case jerr != nil:
			err = fmt.Errorf("unreadable --output json: %v", jerr)
		case out.Failed > 0 || len(out.Tables) != 1:
			err = fmt.Errorf("compact: %s", tail(string(pr.stdout), 500))
		default:
			c.Result = out.Tables[0]
		}
	}
	if err != nil {
		c.Error = err.Error()
	}
	return c
}

// scanTable times a full scan of the table through iceberg-go in this
// process: catalog open, table load, Scan().ToArrowRecords, every record
// read and counted.
func scanTable(ctx context.Context, wh string) Scan {
	var s Scan
	resetPeakRSS()
	t0 := time.Now()
	err := func() error {
		tbl, err := openTable(ctx, wh)
		if err != nil {
			return err
		}
		snap := tbl.CurrentSnapshot()
		if snap == nil {
			return nil
		}
		if snap.Summary != nil {
			s.DataFiles = snap.Summary.Properties["total-data-files"]
			s.DeleteFiles = snap.Summary.Properties["total-delete-files"]
		}
		_, recs, err := tbl.Scan().ToArrowRecords(ctx)
		if err != nil {
			return err
		}
		for rec, err := range recs {
			if err != nil {
				return err
			}
			s.Rows += rec.NumRows()
			rec.Release()
		}
		return nil
	}()
	s.Seconds = elapsed(t0)
	s.PeakRSSMiB = peakRSSMiB()
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

// percentile returns the p-th percentile (0 < p <= 1, nearest rank) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// median returns the median of xs (the mean of the middle two when even).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// stop records the series' failure and returns what a series function
// returns then: the series and its rows so far, no harness error.
func (s *SmallBatchSeries) stop(format string, a ...any) (SmallBatchSeries, []Result, error) {
	s.Error = fmt.Sprintf(format, a...)
	rows := s.rows()
	return *s, rows, nil
}

// rows fills the summary fields and returns the series' result rows.
func (s *SmallBatchSeries) rows() []Result {
	var out []Result
	peak := 0.0
	for _, r := range s.PeakRSSMiB {
		peak = max(peak, r)
	}
	if len(s.Seconds) > 0 {
		s.P50, s.P95 = percentile(s.Seconds, 0.5), percentile(s.Seconds, 0.95)
		s.Max = percentile(s.Seconds, 1)
		tenth := max(len(s.Seconds)/10, 1)
		s.FirstTenth, s.LastTenth = median(s.Seconds[:tenth]), median(s.Seconds[len(s.Seconds)-tenth:])
		note := fmt.Sprintf("%d runs of %dk changes, one process each; median of the first %d runs %.3f s, of the last %d %.3f s",
			len(s.Seconds), s.BatchChanges/1000, tenth, s.FirstTenth, tenth, s.LastTenth)
		for _, x := range []struct {
			phase string
			v     float64
		}{{"small batch p50", s.P50}, {"small batch p95", s.P95}, {"small batch max", s.Max}} {
			out = append(out, Result{Contender: s.Contender, Phase: x.phase, Seconds: x.v, PeakRSSMiB: peak, Process: true, Note: note})
		}
	}
	if len(s.Compactions) > 0 {
		var secs []float64
		cpeak := 0.0
		for _, c := range s.Compactions {
			secs = append(secs, c.Seconds)
			cpeak = max(cpeak, c.PeakRSSMiB)
		}
		out = append(out, Result{Contender: s.Contender, Phase: fmt.Sprintf("small batch compact (every %d)", s.CompactEvery),
			Seconds: median(secs), PeakRSSMiB: cpeak, Process: true,
			Note: fmt.Sprintf("median of %d compactions, max %.3f s", len(secs), percentile(secs, 1))})
	}
	if sc := s.ScanBefore; sc != nil {
		out = append(out, scanRow(s.Contender, "read before compact", sc))
	}
	if c := s.FinalCompact; c != nil {
		out = append(out, Result{Contender: s.Contender, Phase: "compact before read", Seconds: c.Seconds, PeakRSSMiB: c.PeakRSSMiB, Process: true,
			Note: "cdcmerge compact after the small batches", Error: c.Error})
	}
	if sc := s.ScanAfter; sc != nil {
		out = append(out, scanRow(s.Contender, "read after compact", sc))
	}
	if s.Error != "" {
		if len(out) == 0 {
			out = append(out, Result{Contender: s.Contender, Phase: "small batch p50"})
		}
		out[0].Error = s.Error
	}
	return out
}

func scanRow(contender, phase string, sc *Scan) Result {
	return Result{Contender: contender, Phase: phase, Seconds: sc.Seconds, PeakRSSMiB: sc.PeakRSSMiB, Error: sc.Error,
		Note: fmt.Sprintf("iceberg-go full scan in process: %d rows, %s data files, %s delete files", sc.Rows, orDash(sc.DataFiles), orDash(sc.DeleteFiles))}
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// GrowthRuns is the number of small batches run against the small table of
// the growth comparison.
const GrowthRuns = 20

// SmallBatchGrowth compares 10k-change batches into the full table with
// the same batches into a table loaded from one LOAD file only (1/8 of M,
// 1/16 of L): does a small batch stay flat as the table grows?
type SmallBatchGrowth struct {
	Mode       string  `json:"mode"`
	Runs       int     `json:"runs"`
	SmallShare string  `json:"small_table_share"` // e.g. "1/16"
	SmallP50   float64 `json:"small_table_p50"`
	FullP50    float64 `json:"full_table_p50"` // p50 of the same first Runs batches
	Ratio      float64 `json:"ratio"`          // FullP50 / SmallP50
}

// growth compares the first runs of full with small (same batch files).
func growth(full, small SmallBatchSeries, share string) *SmallBatchGrowth {
	n := min(len(full.Seconds), len(small.Seconds))
	if n == 0 {
		return nil
	}
	g := &SmallBatchGrowth{Mode: full.Mode, Runs: n, SmallShare: share,
		SmallP50: percentile(small.Seconds[:n], 0.5), FullP50: percentile(full.Seconds[:n], 0.5)}
	if g.SmallP50 > 0 {
		g.Ratio = g.FullP50 / g.SmallP50
	}
	return g
}
