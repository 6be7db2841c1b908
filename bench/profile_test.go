package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"testing"
	"time"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestProfileEngine runs the engine in process on a dataset the harness
// generated, the way `cdcmerge run` does, and writes a CPU and a heap
// profile per phase (`cdcmerge run` has no profile flag yet). It is skipped
// unless CDCMERGE_BENCH_DMS names the dataset's dms folder, e.g.
//
//	CDCMERGE_BENCH_DMS=$PWD/bench/results/tmp/M/dms \
//	CDCMERGE_BENCH_PROFILE_DIR=/tmp/prof \
//	    go test -run TestProfileEngine -count=1 -v ./bench/
//	go tool pprof -top /tmp/prof/incremental.cpu.prof
func TestProfileEngine(t *testing.T) {
	dms := os.Getenv("CDCMERGE_BENCH_DMS")
	if dms == "" {
		t.Skip("CDCMERGE_BENCH_DMS not set")
	}
	profDir := os.Getenv("CDCMERGE_BENCH_PROFILE_DIR")
	if profDir == "" {
		profDir = t.TempDir()
	}
	if err := os.MkdirAll(profDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := filepath.Join(dms, "shop", "orders")
	loads, _ := filepath.Glob(filepath.Join(in, "LOAD*.parquet"))
	cdcs, _ := filepath.Glob(filepath.Join(in, "2*.parquet"))
	sort.Strings(loads)
	sort.Strings(cdcs)
	if len(loads) == 0 {
		t.Fatalf("no LOAD files in %s", in)
	}
	tmp := t.TempDir()
	src, wh := filepath.Join(tmp, "source"), filepath.Join(tmp, "warehouse")
	if err := os.MkdirAll(wh, 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	ident, _ := catalog.Ident(Table)
	for _, step := range []struct {
		name  string
		files []string
	}{{"initial", loads}, {"incremental", cdcs}} {
		if err := linkInto(filepath.Join(src, "shop", "orders"), step.files); err != nil {
			t.Fatal(err)
		}
		ds := reader.DirSource{Root: src}
		tables, _, err := reader.Discover(ctx, ds)
		if err != nil || len(tables) != 1 {
			t.Fatalf("discover: %v (%d tables)", err, len(tables))
		}
		f, err := os.Create(filepath.Join(profDir, step.name+".cpu.prof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		st, err := merge.Table(ctx, cat, ds, tables[0], ident, merge.Options{Key: []string{Key}})
		sec := time.Since(t0).Seconds()
		pprof.StopCPUProfile()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		h, err := os.Create(filepath.Join(profDir, step.name+".heap.prof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("allocs").WriteTo(h, 0); err != nil {
			t.Fatal(err)
		}
		h.Close()
		t.Logf("%s: %.2fs, %+v; profiles in %s", step.name, sec, st, profDir)
	}
}

// TestProfileFloor profiles the floor (rewriteAll) on the LOAD files of the
// dataset in CDCMERGE_BENCH_DMS; skipped unless it is set.
func TestProfileFloor(t *testing.T) {
	dms := os.Getenv("CDCMERGE_BENCH_DMS")
	if dms == "" {
		t.Skip("CDCMERGE_BENCH_DMS not set")
	}
	profDir := os.Getenv("CDCMERGE_BENCH_PROFILE_DIR")
	if profDir == "" {
		profDir = t.TempDir()
	}
	loads, _ := filepath.Glob(filepath.Join(dms, "shop", "orders", "LOAD*.parquet"))
	f, err := os.Create(filepath.Join(profDir, "floor.cpu.prof"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err = rewriteAll(context.Background(), loads, t.TempDir(), 2)
	pprof.StopCPUProfile()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("floor over %d LOAD files: %.2fs", len(loads), time.Since(t0).Seconds())
}
