package merge_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// benchRows is the full-load size of the micro benchmarks (env
// CDCMERGE_BENCH_ROWS); changes are a fifth of it. The end-to-end
// comparison with the peers lives in bench/.
func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("CDCMERGE_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 200000
}

// benchOptions reads the knobs under test: CDCMERGE_BENCH_PARALLEL (files
// written at once), CDCMERGE_BENCH_PROPS ("k=v,k=v" table properties) and
// CDCMERGE_BENCH_MODE (write mode).
func benchOptions() merge.Options {
	opt := merge.Options{Key: []string{"order_id"}, WriteMode: os.Getenv("CDCMERGE_BENCH_MODE")}
	if v, err := strconv.Atoi(os.Getenv("CDCMERGE_BENCH_PARALLEL")); err == nil {
		opt.Writer.Parallel = v
	}
	if v := os.Getenv("CDCMERGE_BENCH_PROPS"); v != "" {
		opt.TableProperties = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			opt.TableProperties[k] = val
		}
	}
	return opt
}

func benchData(b *testing.B) (load, all reader.TableFiles, src reader.Source) {
	b.Helper()
	dir := b.TempDir()
	rows := benchRows()
	if _, err := gen.Generate(context.Background(), gen.DirSink(dir), gen.Config{
		Tables: []string{"shop.orders"}, Rows: rows, Changes: rows / 5, LoadFiles: 4, CDCFiles: 20, Seed: 7,
	}); err != nil {
		b.Fatal(err)
	}
	src = reader.DirSource{Root: dir}
	tables, _, err := reader.Discover(context.Background(), src)
	if err != nil || len(tables) != 1 {
		b.Fatal(err)
	}
	all = tables[0]
	load = all
	load.CDC = nil
	return load, all, src
}

// cpuSeconds is the process's user + system CPU time: on a machine shared
// with other jobs it moves far less than wall time, so the benchmarks
// report it per op (cpu-s/op) next to ns/op.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func BenchmarkInitialLoad(b *testing.B) {
	load, _, src := benchData(b)
	var cpu float64
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wh := filepath.Join(b.TempDir(), "wh")
		cat := openCatalog(b, wh)
		c0 := cpuSeconds(b)
		if _, err := merge.Table(context.Background(), cat, src, load, []string{"shop", "orders"}, benchOptions()); err != nil {
			b.Fatal(err)
		}
		cpu += cpuSeconds(b) - c0
		size = parquetBytes(b, wh)
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(size)/1e6, "MB-files")
}

// parquetBytes sums the sizes of the Parquet files under dir: what a
// writer setting costs in storage.
func parquetBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkIncremental(b *testing.B) {
	load, all, src := benchData(b)
	var cpu float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cat := openCatalog(b, filepath.Join(b.TempDir(), "wh"))
		if _, err := merge.Table(context.Background(), cat, src, load, []string{"shop", "orders"}, benchOptions()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuSeconds(b)
		st, err := merge.Table(context.Background(), cat, src, all, []string{"shop", "orders"}, benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuSeconds(b) - c0
		b.Logf("phases: %v", st.Phases)
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
}
