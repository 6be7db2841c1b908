package merge

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// keySorter sorts the rows of one compaction group by key within a memory
// budget (an external merge sort). Rows are gathered into runs of at most
// runBytes decoded bytes. A group that fits one run is sorted in memory.
// A larger one has each run sorted and spilled to a file of a private
// temporary directory (spillDir; Arrow IPC, LZ4), and the runs are then
// merged, sortFanIn at a time, so the rows come out in one global key
// order whatever the group's size: the files written from them have
// disjoint key ranges. While merging, each run holds one batch of about
// runBytes/sortFanIn bytes, so the merge holds about one run's worth.
//
// Spill files never go to the table's location: nothing temporary can be
// referenced by the table. Close removes them, on error too; what a
// crash leaves is removed by the next sorted compaction (sweepSpillDirs).
type keySorter struct {
	sc       *arrow.Schema
	idx      []int // the key columns in sc
	runBytes int64
	tempDir  string
	mem      memory.Allocator

	chunks []arrow.RecordBatch // the run being gathered
	size   int64               // its decoded bytes
	rows   int64               // rows added in all
	dir    *spillDir           // made at the first spill
	runs   []string            // spilled runs, each sorted
	// batchRows is the rows per batch of a spill file and of the merged
	// output, set at the first spill: a run's rows / sortFanIn.
	batchRows int
}

// sortFanIn is how many runs are merged at once. Each holds one batch
// while merging, so the batches of a spill file are sized to 1/sortFanIn
// of a run; more runs than that are merged in passes.
const sortFanIn = 16

// newKeySorter sorts rows of schema sc by the columns named key, in runs
// of runBytes, spilling under tempDir ("": os.TempDir()).
func newKeySorter(sc *arrow.Schema, key []string, runBytes int64, tempDir string) (*keySorter, error) {
	s := &keySorter{sc: sc, runBytes: runBytes, tempDir: tempDir, mem: memory.DefaultAllocator}
	for _, k := range key {
		i := reader.ColumnIndex(sc, k)
		if i < 0 {
			return nil, fmt.Errorf("key column %q is not in the table", k)
		}
		s.idx = append(s.idx, i)
	}
	return s, nil
}

// Add takes rec (and its reference) into the sorter.
func (s *keySorter) Add(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		rec.Release()
		return nil
	}
	s.chunks = append(s.chunks, rec)
	s.rows += rec.NumRows()
	if s.size += reader.RecordBytes(rec); s.size >= s.runBytes {
		return s.spill(ctx)
	}
	return nil
}

// Sorted yields every row added, in key order, in batches the consumer
// owns (as table.WriteRecords expects). Call it once, after the last Add.
func (s *keySorter) Sorted(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		stopped := false
		emit := func(rec arrow.RecordBatch) error {
			if !yield(rec, nil) {
				stopped = true
				return errStopped
			}
			return nil
		}
		if err := s.sorted(ctx, emit); err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// errStopped ends a merge whose consumer stopped reading.
var errStopped = errors.New("stopped")

func (s *keySorter) sorted(ctx context.Context, emit func(arrow.RecordBatch) error) error {
	if len(s.runs) == 0 {
		// One run: sorted in memory, nothing spilled.
		if len(s.chunks) == 0 {
			return nil
		}
		rec, err := s.sortRun(ctx)
		if err != nil {
			return err
		}
		defer rec.Release()
		n := rec.NumRows()
		step := max(n/sortFanIn, 1)
		for off := int64(0); off < n; off += step {
			if err := emit(rec.NewSlice(off, min(off+step, n))); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.chunks) > 0 {
		if err := s.spill(ctx); err != nil {
			return err
		}
	}
	// Merge passes until one merge can take every run.
	for len(s.runs) > sortFanIn {
		if err := s.mergePass(ctx); err != nil {
			return err
		}
	}
	return s.merge(ctx, s.runs, emit)
}

// sortRun sorts the gathered chunks into one record (releasing them).
func (s *keySorter) sortRun(ctx context.Context) (arrow.RecordBatch, error) {
	all, err := concatRecords(s.sc, s.chunks, s.mem)
	for _, c := range s.chunks {
		c.Release()
	}
	s.chunks, s.size = s.chunks[:0], 0
	if err != nil {
		return nil, err
	}
	defer all.Release()
	keys, err := encodeKeys(all, s.idx)
	if err != nil {
		return nil, err
	}
	order := make([]int32, all.NumRows())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := bytes.Compare(keys.at(int(a)), keys.at(int(b))); c != 0 {
			return c
		}
		return int(a - b) // stable: equal keys keep their order
	})
	rec, err := dedupe.Take(ctx, all, order, s.mem)
	if err != nil {
		return nil, fmt.Errorf("sorting by key: %w", err)
	}
	return rec, nil
}

// spill sorts the gathered chunks and writes them as a run file.
func (s *keySorter) spill(ctx context.Context) error {
	rec, err := s.sortRun(ctx)
	if err != nil {
		return err
	}
	defer rec.Release()
	if s.dir == nil {
		if s.dir, err = newSpillDir(s.tempDir); err != nil {
			return err
		}
		s.batchRows = int(max(rec.NumRows()/sortFanIn, 1))
	}
	w, err := s.dir.create()
	if err != nil {
		return err
	}
	n := rec.NumRows()
	for off := int64(0); off < n && err == nil; off += int64(s.batchRows) {
		part := rec.NewSlice(off, min(off+int64(s.batchRows), n))
		err = w.write(part)
		part.Release()
	}
	if err = errors.Join(err, w.close()); err != nil {
		return err
	}
	s.runs = append(s.runs, w.path)
	return nil
}

// mergePass merges the first sortFanIn runs into one new run at the end.
func (s *keySorter) mergePass(ctx context.Context) error {
	w, err := s.dir.create()
	if err != nil {
		return err
	}
	err = s.merge(ctx, s.runs[:sortFanIn], func(rec arrow.RecordBatch) error {
		defer rec.Release()
		return w.write(rec)
	})
	if err = errors.Join(err, w.close()); err != nil {
		return err
	}
	for _, p := range s.runs[:sortFanIn] {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("sorting by key: removing a merged spill file: %w", err)
		}
	}
	s.runs = append(s.runs[sortFanIn:], w.path)
	return nil
}

// Close releases what the sorter holds and removes its spill files.
func (s *keySorter) Close() error {
	for _, c := range s.chunks {
		c.Release()
	}
	s.chunks = nil
	if s.dir == nil {
		return nil
	}
	return s.dir.remove()
}

// merge merges the sorted runs in files, emitting batches of at most
// batchRows rows in key order (emit owns them).
func (s *keySorter) merge(ctx context.Context, files []string, emit func(arrow.RecordBatch) error) error {
	m := &runMerger{sc: s.sc, idx: s.idx, mem: s.mem}
	defer m.close()
	for _, p := range files {
		c, err := openRunCursor(p, len(m.cursors))
		if err != nil {
			return err
		}
		m.cursors = append(m.cursors, c)
		ok, err := c.next(s.sc, s.idx)
		if err != nil {
			return err
		}
		if ok {
			m.heap = append(m.heap, c)
		}
	}
	heap.Init(&m.heap)
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := m.flush(ctx)
		if err != nil || rec == nil {
			return err
		}
		return emit(rec)
	}
	for len(m.heap) > 0 {
		c := m.heap[0]
		m.picks = append(m.picks, c.slot)
		c.pos++
		if c.pos < int(c.rec.NumRows()) {
			heap.Fix(&m.heap, 0)
			if len(m.picks) >= s.batchRows {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		// c's batch is used up: what was picked from it goes out before
		// its next batch replaces it.
		if err := flush(); err != nil {
			return err
		}
		ok, err := c.next(s.sc, s.idx)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&m.heap, 0)
		} else {
			heap.Pop(&m.heap)
		}
	}
	return flush()
}

// runMerger is the state of one k-way merge.
type runMerger struct {
	sc      *arrow.Schema
	idx     []int
	mem     memory.Allocator
	cursors []*runCursor // by slot
	heap    cursorHeap
	picks   []int // the slot of each row picked since the last flush, in order
}

// flush returns the rows picked since the last flush, in pick order: the
// rows picked from each run form one slice of its batch; the slices are
// concatenated and the picks taken from them (nil if nothing was picked).
func (m *runMerger) flush(ctx context.Context) (arrow.RecordBatch, error) {
	if len(m.picks) == 0 {
		return nil, nil
	}
	base := make([]int, len(m.cursors))
	var parts []arrow.RecordBatch
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	total := 0
	for _, c := range m.cursors {
		if c.pos > c.start {
			base[c.slot] = total
			total += c.pos - c.start
			parts = append(parts, c.rec.NewSlice(int64(c.start), int64(c.pos)))
			c.start = c.pos
		}
	}
	picks := m.picks
	m.picks = m.picks[:0]
	if len(parts) == 1 {
		parts[0].Retain() // runs that do not interleave: no copy
		return parts[0], nil
	}
	all, err := concatRecords(m.sc, parts, m.mem)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	rows := make([]int32, len(picks))
	for i, slot := range picks {
		rows[i] = int32(base[slot])
		base[slot]++
	}
	return dedupe.Take(ctx, all, rows, m.mem)
}

func (m *runMerger) close() {
	for _, c := range m.cursors {
		c.close()
	}
}

// runCursor reads one spilled run a batch at a time.
type runCursor struct {
	slot       int
	f          *os.File
	rd         *ipc.Reader
	rec        arrow.RecordBatch // the current batch (nil: none)
	keys       encodedKeys       // its rows' keys
	pos, start int               // next row to pick; first row not yet flushed
}

func openRunCursor(path string, slot int) (*runCursor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sorting by key: opening a spill file: %w", err)
	}
	rd, err := ipc.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sorting by key: reading spill file %s: %w", path, err)
	}
	return &runCursor{slot: slot, f: f, rd: rd}, nil
}

// next loads the next non-empty batch, as a record of sc; false at the end.
func (c *runCursor) next(sc *arrow.Schema, idx []int) (bool, error) {
	if c.rec != nil {
		c.rec.Release()
		c.rec = nil
	}
	c.pos, c.start = 0, 0
	for c.rd.Next() {
		r := c.rd.RecordBatch()
		if r.NumRows() == 0 {
			continue
		}
		// The spill file's schema is sc; rebuilding on sc itself keeps
		// its field IDs for the writer whatever IPC round-trips.
		c.rec = array.NewRecordBatch(sc, r.Columns(), r.NumRows())
		var err error
		c.keys, err = encodeKeysInto(c.keys, c.rec, idx)
		return err == nil, err
	}
	if err := c.rd.Err(); err != nil {
		return false, fmt.Errorf("sorting by key: reading spill file %s: %w", c.f.Name(), err)
	}
	return false, nil
}

func (c *runCursor) key() []byte { return c.keys.at(c.pos) }

func (c *runCursor) close() {
	if c.rec != nil {
		c.rec.Release()
		c.rec = nil
	}
	c.rd.Release()
	c.f.Close()
}

// cursorHeap orders runs by their next row's key (then by slot, so that
// equal keys keep the order of the runs).
type cursorHeap []*runCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key(), h[j].key()); c != 0 {
		return c < 0
	}
	return h[i].slot < h[j].slot
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// encodedKeys are the order-preserving encodings (dedupe.KeyEncoder) of
// the keys of a record's rows, back to back.
type encodedKeys struct {
	buf  []byte
	ends []int // end of row i's key in buf
}

func (k encodedKeys) at(i int) []byte {
	start := 0
	if i > 0 {
		start = k.ends[i-1]
	}
	return k.buf[start:k.ends[i]]
}

func encodeKeys(rec arrow.RecordBatch, idx []int) (encodedKeys, error) {
	return encodeKeysInto(encodedKeys{}, rec, idx)
}

// encodeKeysInto encodes rec's keys reusing k's buffers.
func encodeKeysInto(k encodedKeys, rec arrow.RecordBatch, idx []int) (encodedKeys, error) {
	enc, err := dedupe.NewKeyEncoder(rec, idx)
	if err != nil {
		return k, err
	}
	k.buf, k.ends = k.buf[:0], k.ends[:0]
	for i := 0; i < int(rec.NumRows()); i++ {
		k.buf, _ = enc.Append(k.buf, i)
		k.ends = append(k.ends, len(k.buf))
	}
	return k, nil
}

// concatRecords concatenates recs (of schema sc) into one record.
func concatRecords(sc *arrow.Schema, recs []arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, sc.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	parts := make([]arrow.Array, len(recs))
	for i := range cols {
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		var err error
		if cols[i], err = array.Concatenate(parts, mem); err != nil {
			return nil, fmt.Errorf("sorting by key: %w", err)
		}
	}
	return array.NewRecordBatch(sc, cols, rows), nil
}

// onePerPartition joins the compaction groups of each partition into one,
// so that a sorted compaction writes the rewritten rows of a partition in
// one key order (the planner bin-packs a partition's files into groups of
// about the target size, which would each be sorted on their own and
// overlap in keys). The output files still roll at the target size.
func onePerPartition(groups []compaction.Group) []compaction.Group {
	var out []compaction.Group
	at := map[string]int{}
	for _, g := range groups {
		i, ok := at[g.PartitionKey]
		if !ok {
			at[g.PartitionKey] = len(out)
			g.Tasks = slices.Clone(g.Tasks)
			out = append(out, g)
			continue
		}
		out[i].Tasks = append(out[i].Tasks, g.Tasks...)
		out[i].TotalSizeBytes += g.TotalSizeBytes
		out[i].DeleteFileCount += g.DeleteFileCount
	}
	return out
}
