package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Table is the one table the benchmark generates and merges.
const Table = "shop.orders"

// Key is Table's key column.
const Key = "order_id"

// Size is a named dataset size.
type Size struct {
	Name      string `json:"name"`
	Rows      int    `json:"rows"`       // full-load rows
	Changes   int    `json:"changes"`    // CDC changes
	LoadFiles int    `json:"load_files"` // LOAD files the rows are split into
	CDCFiles  int    `json:"cdc_files"`  // CDC files the changes are split into
}

// Sizes are the dataset sizes `cdcmerge bench --size` accepts.
var Sizes = map[string]Size{
	"XS": {Name: "XS", Rows: 5_000, Changes: 1_000, LoadFiles: 2, CDCFiles: 5},
	"S":  {Name: "S", Rows: 100_000, Changes: 20_000, LoadFiles: 4, CDCFiles: 20},
	"M":  {Name: "M", Rows: 1_000_000, Changes: 200_000, LoadFiles: 8, CDCFiles: 20},
	"L":  {Name: "L", Rows: 5_000_000, Changes: 1_000_000, LoadFiles: 16, CDCFiles: 20},
	"XL": {Name: "XL", Rows: 20_000_000, Changes: 4_000_000, LoadFiles: 64, CDCFiles: 80},
}

// SizeNames lists the sizes, smallest first.
func SizeNames() []string {
	var n []string
	for k := range Sizes {
		n = append(n, k)
	}
	sort.Slice(n, func(a, b int) bool { return Sizes[n[a]].Rows < Sizes[n[b]].Rows })
	return n
}

// Options configure one benchmark run.
type Options struct {
	Size       string // a key of Sizes
	Dir        string // work folder (dataset, source, warehouse, outputs); required
	ResultsDir string // where <size>.json and <size>.md go; "" writes nothing
	Binary     string // the cdcmerge binary run as a subprocess; required
	PeerSource string // folder of the bench/duckdbpeer module; "" means the peer is unavailable
	NoPeer     bool   // skip the DuckDB peer (compare with the naive replay instead)
	Threads    int    // DuckDB threads and floor parallelism (default 2)
	Repeat     int    // rounds of all contenders; each row reports the median (default 1)
	Seed       int64  // generator seed (default 1)
	Prices     Prices // zero value: DefaultPrices
	// SmallRuns is the number of runs of the small batches scenario (one
	// CDC file of SmallBatchChanges changes each, both write modes); 0
	// means $CDCMERGE_BENCH_SMALL_RUNS or else DefaultSmallRuns, negative
	// skips the scenario and the read after merge.
	SmallRuns int
	// CompactEvery: merge-on-read runs `cdcmerge compact` after every
	// CompactEvery small batches; 0 means $CDCMERGE_BENCH_COMPACT_EVERY or
	// else DefaultCompactEvery, negative never (between runs).
	CompactEvery int
	// NoChart skips <size>.png.
	NoChart bool
	Log     io.Writer
}

// envInt returns the integer in environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil {
		return v
	}
	return def
}

// Run generates the dataset of opt.Size (or reuses it), runs the
// contenders, checks correctness and writes the results. The report is
// returned even when a contender failed (its rows then carry the error);
// the error is non-nil only if the harness itself could not run.
func Run(ctx context.Context, opt Options) (*Report, error) {
	size, ok := Sizes[strings.ToUpper(opt.Size)]
	if !ok {
		return nil, fmt.Errorf("bench: unknown size %q (want one of %s)", opt.Size, strings.Join(SizeNames(), ", "))
	}
	if opt.Dir == "" || opt.Binary == "" {
		return nil, errors.New("bench: Dir and Binary are required")
	}
	if opt.Threads <= 0 {
		opt.Threads = 2
	}
	if opt.Repeat <= 0 {
		opt.Repeat = 1
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Prices == (Prices{}) {
		opt.Prices = DefaultPrices
	}
	if opt.SmallRuns == 0 {
		opt.SmallRuns = envInt("CDCMERGE_BENCH_SMALL_RUNS", DefaultSmallRuns)
	}
	if opt.CompactEvery == 0 {
		opt.CompactEvery = envInt("CDCMERGE_BENCH_COMPACT_EVERY", DefaultCompactEvery)
	}
	logf := func(format string, a ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "bench: "+format+"\n", a...)
		}
	}
	work, err := filepath.Abs(filepath.Join(opt.Dir, size.Name))
	if err != nil {
		return nil, err
	}
	rep := &Report{Size: size, Machine: describeMachine(), Prices: opt.Prices, Threads: opt.Threads, Seed: opt.Seed}

	// Dataset.
	logf("size %s: %d rows + %d changes, in %s", size.Name, size.Rows, size.Changes, work)
	ds, err := prepareDataset(ctx, work, size, opt.Seed, logf)
	if err != nil {
		return nil, err
	}
	rep.Dataset = ds.info
	debug.FreeOSMemory()

	// DuckDB peer binary (built before anything is timed).
	var peerBin string
	switch {
	case opt.NoPeer:
		rep.DuckDB = &DuckDBInfo{Available: false, Reason: "disabled (--no-duckdb)"}
	case opt.PeerSource == "":
		rep.DuckDB = &DuckDBInfo{Available: false, Reason: "no peer source folder given"}
	default:
		logf("building the DuckDB peer from %s", opt.PeerSource)
		peerBin, err = buildPeer(ctx, opt.PeerSource, filepath.Join(work, "..", "duckdbpeer"))
		if err != nil {
			rep.DuckDB = &DuckDBInfo{Available: false, Reason: err.Error()}
			logf("DuckDB peer unavailable: %v", err)
		} else {
			rep.DuckDB = &DuckDBInfo{Available: true}
		}
	}

	// The contenders, interleaved round by round so that a burst of other
	// work on the machine hits all of them alike.
	var rounds [][]Result
	var wh, whMOR, whPart, duckOut string
	for round := 1; round <= opt.Repeat; round++ {
		rr := &Report{DuckDB: rep.DuckDB}
		logf("round %d/%d: cdcmerge: initial load + incremental merge", round, opt.Repeat)
		if wh, err = runCdcmerge(ctx, opt.Binary, work, ds, rr, ""); err != nil {
			return nil, err
		}
		logf("round %d/%d: cdcmerge merge-on-read: initial load + incremental merge", round, opt.Repeat)
		if whMOR, err = runCdcmerge(ctx, opt.Binary, work, ds, rr, "merge-on-read"); err != nil {
			return nil, err
		}
		logf("round %d/%d: cdcmerge merge-on-read, partitioned by %s: initial load + incremental merge", round, opt.Repeat, PartitionSpec)
		if whPart, err = runCdcmerge(ctx, opt.Binary, work, ds, rr, modeMergeOnReadPartitioned); err != nil {
			return nil, err
		}
		rep.CdcmergeRuns = rr.CdcmergeRuns
		logf("round %d/%d: floor: rewrite all input with arrow-go, %d at a time", round, opt.Repeat, opt.Threads)
		if err := runFloor(ctx, work, ds, opt.Threads, rr); err != nil {
			return nil, err
		}
		debug.FreeOSMemory()
		if peerBin != "" {
			logf("round %d/%d: duckdb: load + dedupe/merge + export, %d threads", round, opt.Repeat, opt.Threads)
			duckOut = runDuckDB(ctx, peerBin, work, ds, opt.Threads, rr)
		}
		rounds = append(rounds, rr.Results)
	}
	rep.Results = aggregate(rounds)
	rep.Repeat = opt.Repeat

	// Correctness: every table against one reference.
	ref := newReference(ctx, duckOut, ds.cfg, 0)
	check := func(contender, wh string) Correctness {
		logf("checking the %s table", contender)
		c := verify(ctx, wh, ref, rep.failed(contender))
		logf("%s correctness vs %s: match=%v %s", contender, c.Reference, c.Match, c.Detail)
		return c
	}
	rep.Correctness = check("cdcmerge", wh)
	mor := check("cdcmerge merge-on-read", whMOR)
	rep.CorrectnessMOR = &mor
	part := "cdcmerge " + modeMergeOnReadPartitioned
	rep.Checks = append(rep.Checks, Check{Table: part, After: "incremental merge", Correctness: check(part, whPart)})
	ref = nil
	debug.FreeOSMemory()

	// Small batches, then the read after merge (once, not per round).
	if opt.SmallRuns > 0 {
		sb, err := prepareSmallBatches(ctx, work, ds, opt.SmallRuns, logf)
		if err != nil {
			return nil, err
		}
		add := func(s SmallBatchSeries, rows []Result) {
			rep.SmallBatches = append(rep.SmallBatches, s)
			rep.Results = append(rep.Results, rows...)
			logf("%s: small batches p50 %.3f s, p95 %.3f s, max %.3f s %s", s.Contender, s.P50, s.P95, s.Max, s.Error)
		}
		var mor SmallBatchSeries // the merge-on-read (v2) series, which growth compares with
		for _, mode := range []string{"", "merge-on-read", modeMergeOnReadV3, modeMergeOnReadEquality} {
			logf("small batches: %d runs of %d changes, %s", opt.SmallRuns, SmallBatchChanges, cmp.Or(mode, "copy-on-write"))
			s, rows, err := runSmallBatches(ctx, opt.Binary, work, ds, sb, max(opt.CompactEvery, 0), mode, ds.loadFiles, logf)
			if err != nil {
				return nil, err
			}
			add(s, rows)
			if mode == "merge-on-read" {
				mor = s
			}
			if mode != "" || peerBin == "" {
				continue
			}
			// DuckDB's series next to copy-on-write's, which it resembles:
			// both rewrite the whole table per batch.
			logf("small batches: %d runs of %d changes, duckdb (one peer process each)", opt.SmallRuns, SmallBatchChanges)
			d, rows, err := runDuckDBSmallBatches(ctx, peerBin, work, ds, sb, opt.Threads, logf)
			if err != nil {
				return nil, err
			}
			add(d, rows)
		}
		debug.FreeOSMemory()
		rep.Checks = append(rep.Checks, checkSmallBatches(ctx, rep.SmallBatches, ds, len(sb.files), logf)...)
		debug.FreeOSMemory()
		// Growth: the same first batches into a table of one LOAD file.
		if full := mor; len(ds.loadFiles) > 1 && full.Error == "" {
			few := *sb
			few.files = sb.files[:min(len(sb.files), GrowthRuns)]
			logf("small batches: %d runs into a table of 1 of %d LOAD files, merge-on-read", len(few.files), len(ds.loadFiles))
			s, rows, err := runSmallBatches(ctx, opt.Binary, work, ds, &few, 0, "merge-on-read", ds.loadFiles[:1], logf)
			if err != nil {
				return nil, err
			}
			add(s, rows)
			rep.SmallBatchGrowth = growth(full, s, fmt.Sprintf("1/%d", len(ds.loadFiles)))
			if g := rep.SmallBatchGrowth; g != nil {
				logf("small batch growth: p50 %.3f s into the full table vs %.3f s into %s of it (x%.2f)", g.FullP50, g.SmallP50, g.SmallShare, g.Ratio)
			}
		}
	}

	rep.finish()
	if opt.ResultsDir != "" {
		if err := rep.Write(opt.ResultsDir); err != nil {
			return rep, err
		}
		logf("wrote %s and %s", filepath.Join(opt.ResultsDir, size.Name+".json"), filepath.Join(opt.ResultsDir, size.Name+".md"))
		if !opt.NoChart {
			png := filepath.Join(opt.ResultsDir, size.Name+".png")
			if err := rep.WriteChart(png); err != nil {
				return rep, err
			}
			logf("wrote %s", png)
		}
	}
	return rep, nil
}

// aggregate merges the results of several rounds: per contender and phase
// (in first-seen order) the median seconds, the largest peak RSS, every
// round's seconds, and the first error.
func aggregate(rounds [][]Result) []Result {
	type acc struct {
		r    Result
		secs []float64
	}
	var order []string
	by := map[string]*acc{}
	for _, rs := range rounds {
		for _, r := range rs {
			k := r.Contender + "\x00" + r.Phase
			a, ok := by[k]
			if !ok {
				a = &acc{r: r}
				a.r.PeakRSSMiB = 0
				by[k] = a
				order = append(order, k)
			}
			a.secs = append(a.secs, r.Seconds)
			a.r.PeakRSSMiB = max(a.r.PeakRSSMiB, r.PeakRSSMiB)
			if a.r.Error == "" {
				a.r.Error = r.Error
			}
		}
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		a := by[k]
		s := append([]float64(nil), a.secs...)
		sort.Float64s(s)
		a.r.Seconds = s[len(s)/2]
		if len(s)%2 == 0 {
			a.r.Seconds = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		if len(a.secs) > 1 {
			a.r.Rounds = a.secs
		}
		out = append(out, a.r)
	}
	return out
}

// elapsed is a helper for phase timings.
func elapsed(t0 time.Time) float64 { return time.Since(t0).Seconds() }

// resetDir removes and recreates dir.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}
