package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// procResult is one finished subprocess.
type procResult struct {
	wall           float64
	rssMiB         float64
	stdout, stderr []byte
}

// runProc runs a subprocess and records its wall time and peak RSS (the
// child's rusage maxrss, in KiB on Linux; see the comment in the body).
func runProc(ctx context.Context, dir string, env []string, name string, args ...string) (procResult, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// Linux counts in a child's maxrss the high-water mark of the memory
	// it ran in before exec, which (Go starts children with vfork) is this
	// process's: return the free heap and reset the mark, so the child's
	// peak is not hidden under the harness's own (e.g. after generating L,
	// several GiB). What remains is this process's current RSS, small.
	debug.FreeOSMemory()
	resetPeakRSS()
	t0 := time.Now()
	err := cmd.Run()
	r := procResult{wall: elapsed(t0), stdout: out.Bytes(), stderr: errb.Bytes()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
			r.rssMiB = float64(ru.Maxrss) / 1024
		}
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w: %s", filepath.Base(name), err, tail(errb.String(), 2000))
	}
	return r, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// runCdcmerge runs the engine twice as a subprocess: over the LOAD files
// only (initial load into a new table), then with the CDC files added
// (incremental merge). It returns the warehouse folder. A failed run is
// recorded in the report, not returned as an error.
//
// mode is the table's write mode ("" for the default, copy-on-write); each
// mode is its own contender with its own source and warehouse folders.
func runCdcmerge(ctx context.Context, bin, work string, ds *dataset, rep *Report, mode string) (string, error) {
	contender, suffix := "cdcmerge", ""
	if mode != "" {
		contender, suffix = "cdcmerge "+mode, "-"+mode
	}
	src := filepath.Join(work, "source"+suffix)
	wh := filepath.Join(work, "warehouse"+suffix)
	for _, d := range []string{src, wh} {
		if err := resetDir(d); err != nil {
			return "", err
		}
	}
	tableDir := filepath.Join(src, "shop", "orders")
	args := []string{"run", "--source", src, "--warehouse", wh, "--key", Table + "=" + Key, "--output", "json", "--log-level", "warn"}
	args = append(args, writeModeArgs(mode)...)
	var total, peak float64
	var failed bool
	note := ""
	if mode == modeMergeOnReadPartitioned {
		note = "partitioned by " + PartitionSpec
	}
	for _, step := range []struct {
		phase string
		files []string
	}{{"initial load", ds.loadFiles}, {"incremental merge", ds.cdcFiles}} {
		if err := linkInto(tableDir, step.files); err != nil {
			return "", err
		}
		res := Result{Contender: contender, Phase: step.phase, Process: true, Note: note}
		pr, err := runProc(ctx, work, nil, bin, args...)
		res.Seconds, res.PeakRSSMiB = pr.wall, pr.rssMiB
		if err != nil {
			res.Error = err.Error()
			failed = true
		} else {
			var out struct {
				Tables []json.RawMessage `json:"tables"`
				Failed int               `json:"failed"`
			}
			if jerr := json.Unmarshal(pr.stdout, &out); jerr != nil {
				res.Error = fmt.Sprintf("unreadable --output json: %v", jerr)
				failed = true
			} else {
				for _, t := range out.Tables {
					rep.CdcmergeRuns = append(rep.CdcmergeRuns, CdcmergeRun{Phase: step.phase, Stats: t})
				}
			}
		}
		total += res.Seconds
		peak = max(peak, res.PeakRSSMiB)
		rep.Results = append(rep.Results, res)
	}
	tot := Result{Contender: contender, Phase: "total", Seconds: total, PeakRSSMiB: peak, Note: "both runs"}
	if failed {
		tot.Error = "a run failed"
	}
	rep.Results = append(rep.Results, tot)
	return wh, nil
}

// Bench modes beyond the two --write-mode values: merge-on-read on format
// v3 (deletion vectors), merge-on-read with equality deletes, and
// merge-on-read into a table partitioned by PartitionSpec.
const (
	modeMergeOnReadV3          = "merge-on-read-v3"
	modeMergeOnReadEquality    = "merge-on-read-equality"
	modeMergeOnReadPartitioned = "merge-on-read-partitioned"
)

// PartitionSpec is the partition spec of the partitioned contender. Of
// what the generated orders table offers, only a field on the key lets a
// merge skip files by partition (merge/partition.go keyPartitionFilter); a
// month(created_at) spec would prune nothing. With 16 buckets, a batch of
// more than a few hundred random keys still touches every bucket, so the
// contender shows the cost of the fanout (16 files per write), not a gain.
const PartitionSpec = "bucket(16, order_id)"

// writeModeArgs are the run flags that create a table in bench mode mode
// ("" for the default, copy-on-write).
func writeModeArgs(mode string) []string {
	switch mode {
	case "":
		return nil
	case modeMergeOnReadV3:
		return []string{"--write-mode", "merge-on-read", "--format-version", "3"}
	case modeMergeOnReadEquality:
		return []string{"--write-mode", "merge-on-read", "--delete-strategy", "equality"}
	case modeMergeOnReadPartitioned:
		return []string{"--write-mode", "merge-on-read", "--partition", Table + "=" + PartitionSpec}
	}
	return []string{"--write-mode", mode}
}

// buildPeer builds the DuckDB peer module in src into outDir with cgo.
func buildPeer(ctx context.Context, src, outDir string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", fmt.Errorf("peer source %s: %w", abs, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	bin, err := filepath.Abs(filepath.Join(outDir, "duckdbpeer"))
	if err != nil {
		return "", err
	}
	env := append(os.Environ(), "CGO_ENABLED=1")
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if _, err := runProc(ctx, abs, env, "go", "build", "-o", bin, "."); err != nil {
		return "", fmt.Errorf("building the DuckDB peer failed: %w", err)
	}
	return bin, nil
}

// duckResult is what the peer prints (see bench/duckdbpeer).
type duckResult struct {
	LoadSeconds   float64 `json:"load_seconds"`
	MergeSeconds  float64 `json:"merge_seconds"`
	ExportSeconds float64 `json:"export_seconds"`
	TotalSeconds  float64 `json:"total_seconds"`
	LoadRows      int64   `json:"load_rows"`
	MergedRows    int64   `json:"merged_rows"`
	FinalRows     int64   `json:"final_rows"`
	DuckDBVersion string  `json:"duckdb_version"`
	Threads       int     `json:"threads"`
	MemoryLimit   string  `json:"memory_limit"`
}

// runPeer runs the DuckDB peer once: the table state from the Parquet
// files of loadGlob, the CDC files of cdcGlob ("" for none) deduped and
// merged in, the result exported to out. The error covers both the process
// and its unreadable output.
func runPeer(ctx context.Context, bin, work, loadGlob, cdcGlob, out string, threads int) (procResult, duckResult, error) {
	pr, err := runProc(ctx, work, nil, bin,
		"--load-glob", loadGlob, "--cdc-glob", cdcGlob,
		"--key", Key, "--timestamp-column", "commit_ts",
		"--out", out, "--threads", fmt.Sprint(threads))
	var dr duckResult
	if err == nil {
		if jerr := json.Unmarshal(pr.stdout, &dr); jerr != nil {
			err = fmt.Errorf("unreadable peer output: %v", jerr)
		}
	}
	return pr, dr, err
}

// runDuckDB runs the peer on the dataset and returns its output Parquet
// file, or "" if it failed (the failure is recorded in the report).
func runDuckDB(ctx context.Context, bin, work string, ds *dataset, threads int, rep *Report) string {
	outDir := filepath.Join(work, "duckdb")
	if err := resetDir(outDir); err != nil {
		rep.DuckDB.Available, rep.DuckDB.Reason = false, err.Error()
		return ""
	}
	out := filepath.Join(outDir, "orders.parquet")
	pr, dr, err := runPeer(ctx, bin, work, loadGlob(ds), filepath.Join(ds.tableDir, "2*.parquet"), out, threads)
	if err != nil {
		rep.Results = append(rep.Results, Result{Contender: "duckdb", Phase: "total (process)", Seconds: pr.wall, PeakRSSMiB: pr.rssMiB, Process: true, Error: err.Error()})
		rep.DuckDB.Reason = "run failed: " + err.Error()
		return ""
	}
	rep.DuckDB.Version, rep.DuckDB.Threads, rep.DuckDB.MemoryLimit = dr.DuckDBVersion, dr.Threads, dr.MemoryLimit
	rep.DuckDB.LoadRows, rep.DuckDB.FinalRows, rep.DuckDB.MergedRows = dr.LoadRows, dr.FinalRows, dr.MergedRows
	rep.Results = append(rep.Results,
		Result{Contender: "duckdb", Phase: "load", Seconds: dr.LoadSeconds, Note: "CREATE TABLE AS read_parquet(LOAD*)"},
		Result{Contender: "duckdb", Phase: "dedupe + merge", Seconds: dr.MergeSeconds, Note: "QUALIFY ROW_NUMBER() + MERGE INTO"},
		Result{Contender: "duckdb", Phase: "export", Seconds: dr.ExportSeconds, Note: "COPY TO parquet zstd"},
		Result{Contender: "duckdb", Phase: "total (process)", Seconds: pr.wall, PeakRSSMiB: pr.rssMiB, Process: true, Note: "whole job incl. process start"},
	)
	return out
}

// loadGlob matches the dataset's LOAD files (the table's initial state).
func loadGlob(ds *dataset) string { return filepath.Join(ds.tableDir, "LOAD*.parquet") }
