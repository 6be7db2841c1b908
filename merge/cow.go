package merge

import (
	"context"
	"fmt"
	"iter"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// rewrite is one data file that holds keys of the batch: it is replaced by
// a copy without the rows in drop.
type rewrite struct {
	task table.FileScanTask
	drop []bool
}

// matches is what the copy-on-write plan found in the table.
type matches struct {
	rewrites []rewrite
	// found marks, by key index of the batch, the keys the table held.
	found []bool
	// deletes holds, for merge-on-read, the positions to delete per data
	// file (copy-on-write uses rewrites instead).
	deletes map[string][]int64
	// candidates counts files whose bounds could hold a key (read), and
	// files counts all data files of the snapshot.
	candidates, files int
	// touched describes, for merge-on-read, each data file in deletes: what
	// a deletion vector for it must carry over.
	touched map[string]touchedFile
	// memory is the run's memory budget (0: none): rewrites read their
	// files in record batches sized from it (readBatchRows).
	memory int64
	// indexed counts the candidates whose rows a key index gave.
	indexed int
}

// planCopyOnWrite finds the data files of tbl that hold keys of res.
func planCopyOnWrite(ctx context.Context, tbl *table.Table, key []string, res *dedupe.Result) (*matches, error) {
	m := &matches{found: make([]bool, res.Keys.Len())}
	if tbl.CurrentSnapshot() == nil || res.Keys.Len() == 0 {
		return m, nil
	}
	scan := tbl.Scan(table.WithSelectedFields(key...))
	tasks, err := planWholeFiles(ctx, scan)
	if err != nil {
		return nil, fmt.Errorf("planning the scan: %w", err)
	}
	m.files = len(tasks)
	first, ok := tbl.Schema().FindFieldByNameCaseInsensitive(key[0])
	if !ok {
		return nil, fmt.Errorf("key column %q is not in the table", key[0])
	}
	inPartition := keyPartitionFilter(tbl, key, res, tasks) // nil: the partition says nothing about keys
	var buf []byte
	for _, task := range tasks {
		if len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
			return nil, fmt.Errorf("data file %s has delete files; this table is copy-on-write and cdcmerge does not mix write modes on one table", task.File.FilePath())
		}
		if !mayHold(task.File, first, res) || (inPartition != nil && !inPartition(task.File)) {
			continue
		}
		m.candidates++
		_, recs, err := scan.ReadTasks(ctx, []table.FileScanTask{task})
		if err != nil {
			return nil, fmt.Errorf("reading keys of %s: %w", task.File.FilePath(), err)
		}
		var drop []bool
		hit := false
		for rec, err := range recs {
			if err != nil {
				return nil, fmt.Errorf("reading keys of %s: %w", task.File.FilePath(), err)
			}
			idx := make([]int, len(key))
			for j, k := range key {
				is := rec.Schema().FieldIndices(k)
				if len(is) == 0 {
					rec.Release()
					return nil, fmt.Errorf("key column %q missing from scan of %s", k, task.File.FilePath())
				}
				idx[j] = is[0]
			}
			enc, err := dedupe.NewKeyEncoder(rec, idx)
			if err != nil {
				rec.Release()
				return nil, err
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				buf, _ = enc.Append(buf[:0], i)
				k := res.Keys.Find(buf)
				drop = append(drop, k >= 0)
				if k >= 0 {
					hit = true
					m.found[k] = true
				}
			}
			rec.Release()
		}
		if hit {
			m.rewrites = append(m.rewrites, rewrite{task: task, drop: drop})
		}
	}
	return m, nil
}

// mayHold reports whether the file's bounds on the first key column cover
// any key of the batch: first against the batch's key range, then, only
// for files that overlap it, against the sorted keys. Missing or unreadable
// bounds mean yes.
func mayHold(df iceberg.DataFile, field iceberg.NestedField, res *dedupe.Result) bool {
	lo, okl := df.LowerBoundValues()[field.ID]
	hi, okh := df.UpperBoundValues()[field.ID]
	if !okl || !okh {
		return true
	}
	l, ok1 := boundKey(field.Type, lo)
	h, ok2 := boundKey(field.Type, hi)
	if !ok1 || !ok2 {
		return true
	}
	if lo, hi := res.FirstKeyRange(); h < lo || l > hi {
		return false
	}
	keys := res.FirstKeys()
	i := sort.SearchStrings(keys, l)
	return i < len(keys) && keys[i] <= h
}

// boundKey converts a serialized Iceberg bound into the key encoding of
// package dedupe.
func boundKey(t iceberg.Type, b []byte) (string, bool) {
	lit, err := iceberg.LiteralFromBytes(t, b)
	if err != nil {
		return "", false
	}
	switch v := lit.(type) {
	case iceberg.Int32Literal:
		return string(dedupe.AppendInt(nil, int64(v))), true
	case iceberg.Int64Literal:
		return string(dedupe.AppendInt(nil, int64(v))), true
	case iceberg.DateLiteral:
		return string(dedupe.AppendInt(nil, int64(v))), true
	case iceberg.TimeLiteral:
		return string(dedupe.AppendInt(nil, int64(v))), true
	case iceberg.TimestampLiteral:
		return string(dedupe.AppendInt(nil, int64(v))), true
	case iceberg.StringLiteral:
		return string(dedupe.AppendBytes(nil, []byte(v))), true
	case iceberg.BinaryLiteral:
		return string(dedupe.AppendBytes(nil, []byte(v))), true
	}
	return "", false
}

// rewrittenRows yields the rows of the rewritten files that stay, conformed
// to target, then the upserts.
func rewrittenRows(ctx context.Context, tbl *table.Table, m *matches, upserts []arrow.RecordBatch, target *arrow.Schema, mem memory.Allocator) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for _, rw := range m.rewrites {
			scan := tbl.Scan(table.WithArrowBatchSize(readBatchRows(rw.task.File, m.memory)))
			_, recs, err := scan.ReadTasks(ctx, []table.FileScanTask{rw.task})
			if err != nil {
				yield(nil, fmt.Errorf("reading %s: %w", rw.task.File.FilePath(), err))
				return
			}
			off := 0
			for rec, err := range recs {
				if err != nil {
					yield(nil, fmt.Errorf("reading %s: %w", rw.task.File.FilePath(), err))
					return
				}
				n := int(rec.NumRows())
				if off+n > len(rw.drop) {
					rec.Release()
					yield(nil, fmt.Errorf("data file %s changed while it was being rewritten", rw.task.File.FilePath()))
					return
				}
				kept, err := filterRows(ctx, rec, rw.drop[off:off+n], mem)
				rec.Release()
				off += n
				if err != nil {
					yield(nil, err)
					return
				}
				if kept == nil {
					continue
				}
				conf, err := reader.Conform(kept, target, mem)
				kept.Release()
				if err != nil {
					yield(nil, fmt.Errorf("rewriting %s: %w", rw.task.File.FilePath(), err))
					return
				}
				if !yield(conf, nil) {
					return
				}
			}
		}
		for _, u := range upserts {
			u.Retain()
			if !yield(u, nil) {
				return
			}
		}
	}
}

// readBatchRows is how many rows of df a rewrite decodes at a time under a
// memory budget (0: iceberg-go's default, 131072 rows). A batch is read,
// filtered (a copy) and queued for a writer, so a few are alive at once:
// each gets a 64th of the budget, its rows estimated at 8 times their
// compressed size in the file.
func readBatchRows(df iceberg.DataFile, budget int64) int {
	if budget <= 0 || df.Count() <= 0 {
		return 0
	}
	rowBytes := max(8*df.FileSizeBytes()/df.Count(), 1)
	return int(min(max(budget/64/rowBytes, minReadBatchRows), maxReadBatchRows))
}

// Bounds of readBatchRows: below the lower one the per-batch overhead
// dominates; the upper one is iceberg-go's default.
const (
	minReadBatchRows = 1024
	maxReadBatchRows = 1 << 17
)

// filterRows returns rec without the rows marked in drop (nil if none stay).
func filterRows(ctx context.Context, rec arrow.RecordBatch, drop []bool, mem memory.Allocator) (arrow.RecordBatch, error) {
	keep := 0
	for _, d := range drop {
		if !d {
			keep++
		}
	}
	switch keep {
	case 0:
		return nil, nil
	case len(drop):
		rec.Retain()
		return rec, nil
	}
	b := array.NewBooleanBuilder(mem)
	b.Reserve(len(drop))
	for _, d := range drop {
		b.UnsafeAppend(!d)
	}
	mask := b.NewArray()
	b.Release()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, mem), rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, err
	}
	return out, nil
}
