package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// runFloor reads every input file with arrow-go and writes an equal file
// with the same codec (zstd, arrow-go's default encodings), par files at a
// time: the LOAD files as the floor of the initial load, the CDC files as
// the floor of the incremental merge. It runs in this process; its peak
// RSS is the process high-water mark, reset before each phase (Linux
// /proc/self/clear_refs), so it includes the harness's own resident memory.
func runFloor(ctx context.Context, work string, ds *dataset, par int, rep *Report) error {
	outDir := filepath.Join(work, "floor")
	if err := resetDir(outDir); err != nil {
		return err
	}
	var total, peak float64
	failed := false
	for _, step := range []struct {
		phase string
		files []string
	}{{"rewrite LOAD files", ds.loadFiles}, {"rewrite CDC files", ds.cdcFiles}} {
		debug.FreeOSMemory()
		resetPeakRSS()
		t0 := time.Now()
		err := rewriteAll(ctx, step.files, outDir, par)
		res := Result{Contender: "floor", Phase: step.phase, Seconds: elapsed(t0), PeakRSSMiB: peakRSSMiB(), Process: true,
			Note: fmt.Sprintf("pqarrow read+write zstd, %d files, %d in parallel, in-process", len(step.files), par)}
		if err != nil {
			res.Error = err.Error()
			failed = true
		}
		total += res.Seconds
		peak = max(peak, res.PeakRSSMiB)
		rep.Results = append(rep.Results, res)
	}
	tot := Result{Contender: "floor", Phase: "total", Seconds: total, PeakRSSMiB: peak, Note: "both phases"}
	if failed {
		tot.Error = "a phase failed"
	}
	rep.Results = append(rep.Results, tot)
	return nil
}

func rewriteAll(ctx context.Context, files []string, outDir string, par int) error {
	jobs := make(chan string)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				errs <- rewrite(ctx, f, filepath.Join(outDir, filepath.Base(f)))
			}
		}()
	}
	for _, f := range files {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rewrite reads src with pqarrow and writes its rows to dst with zstd.
func rewrite(ctx context.Context, src, dst string) error {
	mem := memory.DefaultAllocator
	pf, err := file.OpenParquetFile(src, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, mem)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem))
	w, err := pqarrow.NewFileWriter(rr.Schema(), out, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		out.Close()
		return err
	}
	for rr.Next() {
		if err := w.WriteBuffered(rr.RecordBatch()); err != nil {
			w.Close()
			return err
		}
	}
	if err := rr.Err(); err != nil {
		w.Close()
		return err
	}
	return w.Close() // closes out too
}

// resetPeakRSS resets this process's VmHWM (best effort, Linux only).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMiB reads this process's VmHWM, or 0 if unknown.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
