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
// profile per phase (`cdcmerge run` has no profile flag yet). Without
// CDCMERGE_BENCH_DMS it profiles a generated XS dataset (so CI checks that
// profiling works and the phases apply every file); with it, the dataset's
// dms folder, e.g.
//
//	CDCMERGE_BENCH_DMS=$PWD/bench/results/tmp/M/dms \
//	CDCMERGE_BENCH_PROFILE_DIR=/tmp/prof \
//	    go test -run TestProfileEngine -count=1 -v ./bench/
//	go tool pprof -top /tmp/prof/incremental.cpu.prof
func TestProfileEngine(t *testing.T) {
	dms, profDir := profileInputs(t)
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
		if st.Files != len(step.files) {
			t.Errorf("%s: applied %d files, want %d", step.name, st.Files, len(step.files))
		}
		checkProfiles(t, profDir, step.name+".cpu.prof", step.name+".heap.prof")
		t.Logf("%s: %.2fs, %+v; profiles in %s", step.name, sec, st, profDir)
	}
}

// TestProfileFloor profiles the floor (rewriteAll) on the LOAD files of the
// dataset in CDCMERGE_BENCH_DMS, or of a generated XS dataset.
func TestProfileFloor(t *testing.T) {
	dms, profDir := profileInputs(t)
	loads, _ := filepath.Glob(filepath.Join(dms, "shop", "orders", "LOAD*.parquet"))
	for name, fs := range map[string]floorSettings{"floor.cpu.prof": {}, "floor-tuned.cpu.prof": {tuned: true}} {
		f, err := os.Create(filepath.Join(profDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = rewriteAll(context.Background(), loads, t.TempDir(), 2, fs)
		pprof.StopCPUProfile()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		checkProfiles(t, profDir, name)
		t.Logf("%s over %d LOAD files: %.2fs", name, len(loads), time.Since(t0).Seconds())
	}
}

// profileInputs returns the dms folder to profile (CDCMERGE_BENCH_DMS, or
// an XS dataset generated here) and the folder for the profiles
// (CDCMERGE_BENCH_PROFILE_DIR, or a temporary one).
func profileInputs(t *testing.T) (dms, profDir string) {
	t.Helper()
	dms = os.Getenv("CDCMERGE_BENCH_DMS")
	if dms == "" {
		ds, err := prepareDataset(context.Background(), t.TempDir(), Sizes["XS"], 1, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		dms = filepath.Dir(filepath.Dir(ds.tableDir))
	}
	profDir = os.Getenv("CDCMERGE_BENCH_PROFILE_DIR")
	if profDir == "" {
		profDir = t.TempDir()
	}
	if err := os.MkdirAll(profDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dms, profDir
}

// checkProfiles fails unless each named profile in dir was written.
func checkProfiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s was not written (%v)", n, err)
		}
	}
}
