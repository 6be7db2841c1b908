package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Report is the result of one benchmark run.
type Report struct {
	Size        Size        `json:"size"`
	Machine     Machine     `json:"machine"`
	Threads     int         `json:"threads"`
	Repeat      int         `json:"repeat"` // rounds; seconds are medians over them
	Seed        int64       `json:"seed"`
	Dataset     DatasetInfo `json:"dataset"`
	Prices      Prices      `json:"prices"`
	Results     []Result    `json:"results"`
	DuckDB      *DuckDBInfo `json:"duckdb"`
	Correctness Correctness `json:"correctness"`
	// CorrectnessMOR is the same check of the merge-on-read table.
	CorrectnessMOR *Correctness  `json:"correctness_merge_on_read,omitempty"`
	CdcmergeRuns   []CdcmergeRun `json:"cdcmerge_runs"`
	// SmallBatches are the small batches scenario and the read after merge,
	// per write mode (run once, not per round).
	SmallBatches []SmallBatchSeries `json:"small_batches,omitempty"`
	// SmallBatchGrowth compares small batches into the full table with the
	// same batches into a table of one LOAD file.
	SmallBatchGrowth *SmallBatchGrowth `json:"small_batch_growth,omitempty"`
	// RatioBase names what the ratio column divides by.
	RatioBase string `json:"ratio_base"`
	// Checks are the further tables checked: the partitioned contender's
	// after the incremental merge, and every write mode's after the small
	// batches (against the DuckDB peer's state after the same batches).
	Checks []Check `json:"checks,omitempty"`
}

// Check is the correctness of one more table.
type Check struct {
	Table string `json:"table"` // the contender whose table was checked
	After string `json:"after"` // the scenario it was checked after
	Correctness
}

// name says which table was checked, after what.
func (c Check) name() string {
	if c.After == "" {
		return c.Table + " table"
	}
	return c.Table + " table after the " + c.After
}

// Mismatch returns an error naming the first table checked that does not
// equal its reference, or nil.
func (r *Report) Mismatch() error {
	for _, c := range r.allChecks() {
		if !c.Match {
			return fmt.Errorf("bench: the %s does not match the %s: %s", c.name(), c.Reference, c.Detail)
		}
	}
	return nil
}

// Result is one contender's phase.
type Result struct {
	Contender  string    `json:"contender"` // cdcmerge, floor, duckdb
	Phase      string    `json:"phase"`
	Seconds    float64   `json:"seconds"`
	PeakRSSMiB float64   `json:"peak_rss_mib,omitempty"` // 0: not measured for this phase
	Process    bool      `json:"run"`                    // a whole run (priced in the cost columns)
	RatioVsDB  *float64  `json:"ratio_vs_duckdb,omitempty"`
	FargateUSD *float64  `json:"fargate_usd,omitempty"`
	GlueUSD    *float64  `json:"glue_usd,omitempty"`
	Rounds     []float64 `json:"rounds_seconds,omitempty"` // every round's seconds when Repeat > 1
	Note       string    `json:"note,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// CdcmergeRun is the `--output json` stats of one table of one run.
type CdcmergeRun struct {
	Phase string          `json:"phase"`
	Stats json.RawMessage `json:"stats"`
}

// DuckDBInfo says whether the peer ran and how.
type DuckDBInfo struct {
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Version     string `json:"version,omitempty"`
	Threads     int    `json:"threads,omitempty"`
	MemoryLimit string `json:"memory_limit,omitempty"`
	LoadRows    int64  `json:"load_rows,omitempty"`
	MergedRows  int64  `json:"merged_rows,omitempty"`
	FinalRows   int64  `json:"final_rows,omitempty"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB string `json:"memory_gib,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	OS        string `json:"os"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
	// LoadAvg is /proc/loadavg at the start and at the end of the run: other
	// work on the machine skews the timings (all contenders share it).
	LoadAvgStart string `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

// Prices are the inputs of the cost columns (USD).
type Prices struct {
	FargateVCPUHour   float64 `json:"fargate_vcpu_hour"`
	FargateGBHour     float64 `json:"fargate_gb_hour"`
	FargateVCPU       float64 `json:"fargate_vcpu"`
	FargateGB         float64 `json:"fargate_gb"`
	FargateMinSeconds float64 `json:"fargate_min_seconds"` // per-second billing with a 1-minute minimum (Linux)
	GlueDPUHour       float64 `json:"glue_dpu_hour"`
	GlueDPU           float64 `json:"glue_dpu"`         // minimum of a Spark job
	GlueMinSeconds    float64 `json:"glue_min_seconds"` // 1-minute minimum billing
}

// DefaultPrices: us-east-1 list prices (Linux/x86 Fargate; Glue Spark job).
var DefaultPrices = Prices{
	FargateVCPUHour: 0.04048, FargateGBHour: 0.004445, FargateVCPU: 2, FargateGB: 4, FargateMinSeconds: 60,
	GlueDPUHour: 0.44, GlueDPU: 2, GlueMinSeconds: 60,
}

// Fargate prices a run of the given wall seconds as a Fargate task.
func (p Prices) Fargate(sec float64) float64 {
	return max(sec, p.FargateMinSeconds) / 3600 * (p.FargateVCPU*p.FargateVCPUHour + p.FargateGB*p.FargateGBHour)
}

// Glue prices a run of the given wall seconds as a Glue job.
func (p Prices) Glue(sec float64) float64 {
	return max(sec, p.GlueMinSeconds) / 3600 * p.GlueDPU * p.GlueDPUHour
}

// allChecks are Correctness, CorrectnessMOR and Checks.
func (r *Report) allChecks() []Check {
	all := []Check{{Table: "cdcmerge", Correctness: r.Correctness}}
	if m := r.CorrectnessMOR; m != nil {
		all = append(all, Check{Table: "cdcmerge merge-on-read", Correctness: *m})
	}
	return append(all, r.Checks...)
}

// failed reports whether a row of contender failed.
func (r *Report) failed(contender string) bool {
	for _, x := range r.Results {
		if x.Contender == contender && x.Error != "" {
			return true
		}
	}
	return false
}

// finish fills the derived columns: ratios to DuckDB's whole job and costs.
func (r *Report) finish() {
	base := 0.0
	for _, x := range r.Results {
		if x.Contender == "duckdb" && x.Phase == "total (process)" && x.Error == "" {
			base = x.Seconds
		}
	}
	if base > 0 {
		r.RatioBase = "DuckDB's whole job (process wall time)"
	} else {
		r.RatioBase = "none (DuckDB unavailable)"
	}
	r.Machine.LoadAvgEnd = loadAvg()
	for i := range r.Results {
		x := &r.Results[i]
		if base > 0 {
			v := x.Seconds / base
			x.RatioVsDB = &v
		}
		if x.Process || x.Phase == "total" {
			f, g := r.Prices.Fargate(x.Seconds), r.Prices.Glue(x.Seconds)
			x.FargateUSD, x.GlueUSD = &f, &g
		}
	}
}

// Write writes <dir>/<size>.json and <dir>/<size>.md.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, r.Size.Name+".json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Size.Name+".md"), []byte(r.Markdown()), 0o644)
}

// Markdown renders the report as a markdown section with one table.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "### Size %s: %d rows + %d changes\n\n", r.Size.Name, r.Size.Rows, r.Size.Changes)
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s GiB RAM, %s, %s, %s; load average %s at the start, %s at the end.\n",
		m.CPU, m.Cores, m.MemoryGiB, m.OS, m.GoVersion, m.Date, m.LoadAvgStart, m.LoadAvgEnd)
	d := r.Dataset
	fmt.Fprintf(&b, "Input: table %s, %d LOAD files (%d rows, %.1f MiB) + %d CDC files (%d changes: %d I, %d U, %d D; %.1f MiB), %s, seed %d.\n",
		Table, d.LoadFiles, d.LoadRows, float64(d.LoadBytes)/(1<<20), d.CDCFiles, d.Changes, d.Inserts, d.Updates, d.Deletes, float64(d.CDCBytes)/(1<<20), d.Compression, r.Seed)
	if r.DuckDB != nil {
		if r.DuckDB.Available {
			fmt.Fprintf(&b, "DuckDB peer: %s, %d threads, memory_limit %s.\n", r.DuckDB.Version, r.DuckDB.Threads, r.DuckDB.MemoryLimit)
		} else {
			fmt.Fprintf(&b, "DuckDB peer: unavailable (%s).\n", oneLine(r.DuckDB.Reason))
		}
	}
	for _, c := range r.allChecks() {
		writeCorrectness(&b, c)
	}
	b.WriteString("\n")
	b.WriteString("| contender | phase | seconds | peak RSS MiB | ratio vs DuckDB job | Fargate USD | Glue USD |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		rss := "–"
		if x.PeakRSSMiB > 0 {
			rss = fmt.Sprintf("%.0f", x.PeakRSSMiB)
		}
		ratio := "–"
		if x.RatioVsDB != nil {
			ratio = fmt.Sprintf("%.2f", *x.RatioVsDB)
		}
		fg, gl := "–", "–"
		if x.FargateUSD != nil {
			fg = fmt.Sprintf("%.6f", *x.FargateUSD)
			gl = fmt.Sprintf("%.6f", *x.GlueUSD)
		}
		sec := fmt.Sprintf("%.3f", x.Seconds)
		if x.Error != "" {
			sec += " (FAILED: " + oneLine(tail(x.Error, 200)) + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Contender, x.Phase, sec, rss, ratio, fg, gl)
	}
	p := r.Prices
	fmt.Fprintf(&b, "\nSeconds: median of %d round(s), contenders interleaved per round; peak RSS: the largest over the rounds. ", max(r.Repeat, 1))
	fmt.Fprintf(&b, "Ratio = seconds / %s. Cost = the row's wall time priced as one run: "+
		"Fargate %.0f vCPU x $%g/vCPU-h + %.0f GB x $%g/GB-h, %.0f s minimum; "+
		"Glue %.0f DPU x $%g/DPU-h, %.0f s minimum (prices are inputs, us-east-1 list prices). "+
		"cdcmerge and DuckDB RSS: the child process's maxrss; floor RSS: this process's VmHWM (includes the harness).\n",
		r.RatioBase, p.FargateVCPU, p.FargateVCPUHour, p.FargateGB, p.FargateGBHour, p.FargateMinSeconds,
		p.GlueDPU, p.GlueDPUHour, p.GlueMinSeconds)
	if len(r.SmallBatches) > 0 {
		b.WriteString("\nSmall batches and read after merge (run once, after the rounds; the `small batch`, `compact` and `read` rows): ")
		b.WriteString("a table of its own per write mode, loaded from the LOAD files, then one `cdcmerge run` process per new CDC file " +
			"(wall time including process start; peak RSS the largest of the runs); the read rows are a full scan through iceberg-go " +
			"(catalog open, LoadTable, Scan().ToArrowRecords, rows counted) in the harness process, before and after a `cdcmerge compact`.\n\n")
		for _, s := range r.SmallBatches {
			fmt.Fprintf(&b, "- %s: %d runs of %d changes: p50 %.3f s, p95 %.3f s, max %.3f s; median of the first %d runs %.3f s, of the last %d %.3f s",
				s.Contender, len(s.Seconds), s.BatchChanges, s.P50, s.P95, s.Max, max(len(s.Seconds)/10, 1), s.FirstTenth, max(len(s.Seconds)/10, 1), s.LastTenth)
			if len(s.Compactions) > 0 {
				fmt.Fprintf(&b, "; compacted every %d runs (%d times)", s.CompactEvery, len(s.Compactions))
			}
			if sc := s.ScanBefore; sc != nil {
				fmt.Fprintf(&b, "; scan before compaction %.3f s (%d rows, %s data + %s delete files)", sc.Seconds, sc.Rows, orDash(sc.DataFiles), orDash(sc.DeleteFiles))
			}
			if sc := s.ScanAfter; sc != nil {
				fmt.Fprintf(&b, ", after %.3f s (%s data + %s delete files)", sc.Seconds, orDash(sc.DataFiles), orDash(sc.DeleteFiles))
			}
			if s.Error != "" {
				fmt.Fprintf(&b, "; FAILED: %s", oneLine(tail(s.Error, 300)))
			}
			b.WriteString(".\n")
		}
	}
	if g := r.SmallBatchGrowth; g != nil {
		fmt.Fprintf(&b, "\nSmall batch as the table grows (%s): the first %d batches took p50 %.3f s into the full table and %.3f s into a table of %s of its rows (one LOAD file; the same batch files, so some updates become inserts): x%.2f.\n",
			g.Mode, g.Runs, g.FullP50, g.SmallP50, g.SmallShare, g.Ratio)
	}
	return b.String()
}

// writeCorrectness writes one "Correctness:" line of the markdown.
func writeCorrectness(b *strings.Builder, c Check) {
	verdict := "MATCH"
	if !c.Match {
		verdict = "MISMATCH"
	}
	fmt.Fprintf(b, "Correctness: %s vs %s: **%s** (%d rows vs %d)", c.name(), c.Reference, verdict, c.TableRows, c.ReferenceRows)
	if c.Detail != "" {
		fmt.Fprintf(b, ": %s", oneLine(c.Detail))
	}
	b.WriteString(".\n")
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "/")
}

func describeMachine() Machine {
	m := Machine{
		CPU:       "unknown",
		Cores:     runtime.NumCPU(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(),
		Date:      time.Now().UTC().Format(time.RFC3339),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	m.LoadAvgStart = loadAvg()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
		m.OS += " (Linux " + m.Kernel + ")"
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb float64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f", &kb); err == nil {
					m.MemoryGiB = fmt.Sprintf("%.1f", kb/(1<<20))
				}
			}
		}
	}
	return m
}
