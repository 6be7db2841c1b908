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

	"github.com/cdcmerge/cdcmerge/reader"
)

// Floor contenders: arrow-go with its defaults, and arrow-go with the
// choices a fast writer of DMS data makes (floorSettings.tuned).
const (
	floorDefault = "floor"
	floorTuned   = "floor tuned"
)

// floorSettings say how the floor reads and writes.
type floorSettings struct {
	// tuned: string columns whose pages are all dictionary encoded are
	// read as dictionaries and written from them (their indices as they
	// are); every other column is written plain; zstd level 1; decimals
	// of up to 18 digits as INT32/INT64. Without it: arrow-go's defaults
	// (a dictionary for every column, zstd's default level).
	tuned bool
}

// runFloor reads every input file with arrow-go and writes an equal file
// with the same codec, par files at a time: the LOAD files as the floor
// of the initial load, the CDC files as the floor of the incremental
// merge. It runs once with arrow-go's defaults (contender "floor") and
// once tuned ("floor tuned": the I/O and codec work left once the write
// settings are chosen well, which is what a tuned engine is measured
// against). It runs in this process; its peak RSS is the process
// high-water mark, reset before each phase (Linux /proc/self/clear_refs),
// so it includes the harness's own resident memory.
func runFloor(ctx context.Context, work string, ds *dataset, par int, rep *Report) error {
	for _, fs := range []floorSettings{{}, {tuned: true}} {
		if err := runFloorWith(ctx, work, ds, par, fs, rep); err != nil {
			return err
		}
	}
	return nil
}

func runFloorWith(ctx context.Context, work string, ds *dataset, par int, fs floorSettings, rep *Report) error {
	contender, note := floorDefault, "pqarrow read+write zstd, arrow-go defaults"
	if fs.tuned {
		contender, note = floorTuned, "pqarrow read+write zstd level 1, dictionary strings kept, other columns plain, decimals as integers"
	}
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
		err := rewriteAll(ctx, step.files, outDir, par, fs)
		res := Result{Contender: contender, Phase: step.phase, Seconds: elapsed(t0), PeakRSSMiB: peakRSSMiB(), Process: true,
			Note: fmt.Sprintf("%s, %d files, %d in parallel, in-process", note, len(step.files), par)}
		if err != nil {
			res.Error = err.Error()
			failed = true
		}
		total += res.Seconds
		peak = max(peak, res.PeakRSSMiB)
		rep.Results = append(rep.Results, res)
	}
	tot := Result{Contender: contender, Phase: "total", Seconds: total, PeakRSSMiB: peak, Note: "both phases"}
	if failed {
		tot.Error = "a phase failed"
	}
	rep.Results = append(rep.Results, tot)
	return nil
}

func rewriteAll(ctx context.Context, files []string, outDir string, par int, fs floorSettings) error {
	jobs := make(chan string)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				errs <- rewrite(ctx, f, filepath.Join(outDir, filepath.Base(f)), fs)
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
func rewrite(ctx context.Context, src, dst string, fs floorSettings) error {
	mem := memory.DefaultAllocator
	pf, err := file.OpenParquetFile(src, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	readProps := pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}
	wprops := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem)}
	if fs.tuned {
		wprops = append(wprops, parquet.WithCompressionLevel(1), parquet.WithDictionaryDefault(false), parquet.WithStoreDecimalAsInteger(true))
		// The columns cdcmerge's reader keeps as dictionaries (all of
		// them here: the floor has no key to read plain).
		for i := range reader.DictionaryColumns(pf.MetaData(), reader.RowGroups{}, nil) {
			readProps.SetReadDict(i, true)
			wprops = append(wprops, parquet.WithDictionaryFor(pf.MetaData().Schema.Column(i).Name(), true))
		}
	}
	fr, err := pqarrow.NewFileReader(pf, readProps, mem)
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
	props := parquet.NewWriterProperties(wprops...)
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
