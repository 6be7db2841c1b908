package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cdcmerge/cdcmerge/bench"
)

// cmdBench runs the benchmark harness (package bench): cdcmerge (this
// binary, as a subprocess), the arrow-go floor and the DuckDB peer on one
// generated dataset, and writes bench/results/<size>.{json,md}.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "S", "dataset size: "+strings.Join(bench.SizeNames(), ", "))
	dir := fs.String("dir", "bench/results/tmp", "work folder for the dataset, warehouse and outputs")
	results := fs.String("results", "bench/results", "folder for <size>.json and <size>.md")
	peer := fs.String("peer-src", "bench/duckdbpeer", "folder of the DuckDB peer module (built with cgo)")
	noPeer := fs.Bool("no-duckdb", false, "skip the DuckDB peer; check correctness against a naive replay")
	threads := fs.Int("threads", 2, "DuckDB threads and floor parallelism")
	seed := fs.Int64("seed", 1, "generator seed")
	repeat := fs.Int("repeat", 1, "rounds of all contenders; seconds are the median")
	smallRuns := fs.Int("small-runs", 0, "small-batch scenario: runs of one 10k-change file each, per write mode (default 100; negative skips it)")
	compactEvery := fs.Int("compact-every", 0, "small-batch scenario: compact the merge-on-read table every N runs (default 20)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errFlagHelp
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, ok := bench.Sizes[strings.ToUpper(*size)]; !ok {
		return usagef("--size must be one of %s", strings.Join(bench.SizeNames(), ", "))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep, err := bench.Run(ctx, bench.Options{
		Size: *size, Dir: *dir, ResultsDir: *results, Binary: self,
		PeerSource: *peer, NoPeer: *noPeer, Threads: *threads, Repeat: *repeat, Seed: *seed, Log: stderr,
		SmallRuns: *smallRuns, CompactEvery: *compactEvery,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Markdown())
	return rep.Mismatch()
}
