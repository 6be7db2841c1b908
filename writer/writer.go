package writer

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// Options tune how data files are written.
type Options struct {
	// TargetFileSize overrides the table's write.target-file-size-bytes.
	TargetFileSize int64
	// Parallel is the number of files written at once: 0 means one per
	// core (at most 4), 1 means one. The records are dealt out round robin,
	// so each writer gets an equal share and encodes and compresses on its
	// own core: the Parquet encoder, not I/O, is what limits a merge
	// (measured at 2M rows on 2 cores: initial load 2.05 s -> 1.36 s).
	Parallel int
	// Memory is what the writers may hold at once (0: no bound, iceberg-go's
	// defaults). A Parquet writer keeps the row group it is building in
	// memory, compressed pages and dictionaries, until the row group is
	// full (write.parquet.row-group-size-bytes, 128 MiB by default), and
	// each writer queues up to 64 record batches: under a budget the row
	// groups, the queue and the number of parallel writers are sized from
	// Memory instead (see Budget).
	Memory int64
	// Ordered keeps the records' row order in the files: one file at a
	// time, and on a partitioned table iceberg-go's clustered writer
	// instead of its fanout writer (whose workers take batches in any
	// order). The records must then come partition by partition.
	Ordered bool
}

// Budget returns the settings Memory implies: how many files are written
// at once, the row group size in bytes (which also bounds what a reader of
// the files holds per column chunk), and how many record batches each
// writer queues. With Memory 0 it returns Parallel and zeros (the table's
// and iceberg-go's defaults).
func (o Options) Budget() (parallel int, rowGroupBytes int64, queued int) {
	parallel = o.Parallel
	if parallel == 0 {
		parallel = min(runtime.GOMAXPROCS(0), 4)
	}
	if o.Memory <= 0 {
		return parallel, 0, 0
	}
	// A writer building a row group of n compressed bytes holds about
	// twice that with its encoders' buffers and dictionaries; the
	// writers together get a quarter of the budget, the rest being
	// the rows read, decoded and filtered on their way in. Below 8 MiB
	// of row group per writer, writers are dropped instead: fewer
	// cores encode, but the row groups stay worth reading.
	share := o.Memory / 8
	for parallel > 1 && share/int64(parallel) < minRowGroupBytes {
		parallel--
	}
	rowGroupBytes = min(max(share/int64(parallel), minRowGroupBytes/4), maxRowGroupBytes)
	return parallel, rowGroupBytes, 2
}

// Row group bounds under a memory budget: the upper one is iceberg-go's
// default (what a table without a budget gets).
const (
	minRowGroupBytes = 8 << 20
	maxRowGroupBytes = 128 << 20
)

// DataFiles writes records, which must have sc (the table's Arrow schema
// with field IDs), as data files of tbl. It checks that the files hold
// every row it was given: iceberg-go v0.7.0's partitioned fanout writer
// can drop a partition whose file failed to write without reporting the
// error (seen with a partition path the file system refuses).
func DataFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], opt Options) ([]iceberg.DataFile, error) {
	var in int64
	counted := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range records {
			if err == nil {
				in += rec.NumRows()
			}
			if !yield(rec, err) {
				return
			}
		}
	}
	out, err := dataFiles(ctx, tbl, sc, counted, opt)
	if err != nil {
		return out, err
	}
	var written int64
	for _, df := range out {
		written += df.Count()
	}
	if written != in {
		return out, fmt.Errorf("writing data files: the files written hold %d rows but %d were given; nothing was committed", written, in)
	}
	return out, nil
}

func dataFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], opt Options) ([]iceberg.DataFile, error) {
	var opts []table.WriteRecordOption
	if opt.TargetFileSize > 0 {
		opts = append(opts, table.WithTargetFileSize(opt.TargetFileSize))
	}
	var rowGroupBytes int64
	var queued int
	opt.Parallel, rowGroupBytes, queued = opt.Budget()
	if queued > 0 {
		opts = append(opts, table.WithRecordBatchBufferSize(queued))
	}
	if opt.Ordered {
		opt.Parallel = 1
		if !tbl.Spec().IsUnpartitioned() {
			opts = append(opts, table.WithClusteredWrite())
		}
	}
	if rowGroupBytes > 0 {
		var err error
		if tbl, err = WithRowGroupBytes(tbl, rowGroupBytes); err != nil {
			return nil, err
		}
	}
	// A partitioned table goes through one WriteRecords: its fanout
	// writer already spreads partitions over workers, and splitting the
	// rows first would write a file per partition per writer.
	var direct *directWriter
	if directSupported(tbl, sc) {
		var err error
		if direct, err = newDirectWriter(ctx, tbl, opt); err != nil {
			return nil, fmt.Errorf("writing data files: %w", err)
		}
	}
	if direct == nil {
		// iceberg-go's writer takes records of the table's schema only:
		// columns read as dictionaries (internal/dictcol) are decoded.
		records = plainRecords(records, sc)
	}
	if direct == nil && (opt.Parallel <= 1 || !tbl.Spec().IsUnpartitioned()) {
		return collect(table.WriteRecords(ctx, tbl, sc, records, opts...))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := make([]chan arrow.RecordBatch, opt.Parallel)
	results := make([][]iceberg.DataFile, opt.Parallel)
	errs := make([]error, opt.Parallel)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan arrow.RecordBatch, 2)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := chans[i]
			seq := func(yield func(arrow.RecordBatch, error) bool) {
				for rec := range in {
					if !yield(rec, nil) {
						break
					}
				}
			}
			if direct != nil {
				results[i], errs[i] = direct.write(ctx, i, func(yield func(arrow.RecordBatch) bool) {
					for rec := range in {
						if !yield(rec) {
							break
						}
					}
				})
				if errs[i] != nil {
					errs[i] = fmt.Errorf("writing data files: %w", errs[i])
				}
			} else {
				results[i], errs[i] = collect(table.WriteRecords(ctx, tbl, sc, seq, opts...))
			}
			if errs[i] != nil {
				cancel()
			}
			// Drain so the producer never blocks on a writer that stopped.
			for rec := range in {
				rec.Release()
			}
		}(i)
	}
	var srcErr error
	n := 0
	for rec, err := range records {
		if err != nil {
			srcErr = err
			break
		}
		select {
		case chans[n%len(chans)] <- rec:
		case <-ctx.Done():
			rec.Release()
		}
		n++
		if ctx.Err() != nil {
			break
		}
	}
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	var out []iceberg.DataFile
	for i := range results {
		out = append(out, results[i]...)
	}
	if srcErr != nil {
		return out, fmt.Errorf("writing data files: %w", srcErr)
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, ctx.Err()
}

// plainRecords yields records with their dictionary columns decoded and
// the schema sc.
func plainRecords(records iter.Seq2[arrow.RecordBatch, error], sc *arrow.Schema) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range records {
			if err != nil {
				yield(nil, err)
				return
			}
			plain, err := dictcol.Plain(rec, sc, memory.DefaultAllocator)
			rec.Release()
			if !yield(plain, err) || err != nil {
				return
			}
		}
	}
}

// WithRowGroupBytes returns a copy of tbl whose Parquet writers close a
// row group at n compressed bytes (write.parquet.row-group-size-bytes):
// iceberg-go takes the row group size only from the table's properties.
// The copy is only written through, never committed, so the table itself
// keeps its properties. A table whose own row groups are no larger is
// returned as it is.
func WithRowGroupBytes(tbl *table.Table, n int64) (*table.Table, error) {
	if own := tbl.Properties().GetInt(table.ParquetRowGroupSizeBytesKey, 0); own > 0 && int64(own) <= n {
		return tbl, nil
	}
	b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
	if err != nil {
		return nil, fmt.Errorf("writing data files: %w", err)
	}
	if err := b.SetProperties(iceberg.Properties{table.ParquetRowGroupSizeBytesKey: strconv.FormatInt(n, 10)}); err != nil {
		return nil, fmt.Errorf("writing data files: %w", err)
	}
	meta, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("writing data files: %w", err)
	}
	return table.New(tbl.Identifier(), meta, tbl.MetadataLocation(), tbl.FS, nil), nil
}

func collect(files iter.Seq2[iceberg.DataFile, error]) ([]iceberg.DataFile, error) {
	var out []iceberg.DataFile
	for df, err := range files {
		if err != nil {
			return out, fmt.Errorf("writing data files: %w", err)
		}
		out = append(out, df)
	}
	return out, nil
}
