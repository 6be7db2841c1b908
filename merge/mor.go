package merge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/writer"
)

// Write modes, as the Iceberg table properties write.merge.mode,
// write.update.mode and write.delete.mode spell them.
const (
	CopyOnWrite = "copy-on-write"
	MergeOnRead = "merge-on-read"
)

// WriteModeProperties are the table properties a write mode sets when
// cdcmerge creates a table.
func WriteModeProperties(mode string) map[string]string {
	return map[string]string{"write.merge.mode": mode, "write.update.mode": mode, "write.delete.mode": mode}
}

// writeMode is the mode of an existing table: merge-on-read when its merge
// mode (or, without one, its delete mode) says so.
func writeMode(tbl *table.Table) string {
	p := tbl.Properties()
	if m := p["write.merge.mode"]; m != "" {
		return m
	}
	if p["write.delete.mode"] == MergeOnRead {
		return MergeOnRead
	}
	return CopyOnWrite
}

// Field IDs of the position delete file columns, fixed by the spec.
const (
	posDeletePathID = 2147483546
	posDeletePosID  = 2147483545
)

// planMergeOnRead finds the rows of tbl that hold keys of res, as
// positions in their data files: the key columns of every data file whose
// bounds may hold a key are read straight from the file (positions are
// only meaningful in the file as written), skipping rows that earlier
// position deletes or deletion vectors already removed.
func planMergeOnRead(ctx context.Context, tbl *table.Table, key []string, res *dedupe.Result, mem memory.Allocator) (*matches, error) {
	m := &matches{found: make([]bool, res.Keys.Len()), deletes: map[string][]int64{}, touched: map[string]touchedFile{}}
	if tbl.CurrentSnapshot() == nil || res.Keys.Len() == 0 {
		return m, nil
	}
	tasks, err := planWholeFiles(ctx, tbl.Scan(table.WithSelectedFields(key...)))
	if err != nil {
		return nil, fmt.Errorf("planning the scan: %w", err)
	}
	m.files = len(tasks)
	sc := tbl.Schema()
	first, _ := sc.FindFieldByNameCaseInsensitive(key[0])
	keyIDs := make([]int, len(key))
	for i, k := range key {
		f, ok := sc.FindFieldByNameCaseInsensitive(k)
		if !ok {
			return nil, fmt.Errorf("key column %q is not in the table", k)
		}
		keyIDs[i] = f.ID
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	deleted := map[string][]int64{} // data file -> positions already deleted
	readDeletes := map[string]bool{}
	var delFiles []iceberg.DataFile
	var cands []table.FileScanTask
	inPartition := keyPartitionFilter(tbl, key, res, tasks) // nil: the partition says nothing about keys
	for _, task := range tasks {
		if len(task.EqualityDeleteFiles) > 0 {
			return nil, fmt.Errorf("data file %s has equality deletes, which the position delete strategy cannot see through; run cdcmerge compact on the table first", task.File.FilePath())
		}
		if !mayHold(task.File, first, res) || (inPartition != nil && !inPartition(task.File)) {
			continue
		}
		cands = append(cands, task)
		for _, dvf := range task.DeletionVectorFiles {
			if err := readDeletionVector(fs, dvf, deleted); err != nil {
				return nil, err
			}
		}
		for _, df := range task.DeleteFiles {
			if readDeletes[df.FilePath()] {
				continue
			}
			readDeletes[df.FilePath()] = true
			delFiles = append(delFiles, df)
		}
	}
	if err := readAllPositionDeletes(ctx, fs, delFiles, deleted, mem); err != nil {
		return nil, err
	}
	for p, pos := range deleted {
		slices.Sort(pos)
		deleted[p] = slices.Compact(pos)
	}
	m.candidates = len(cands)
	if len(cands) == 0 {
		return m, nil // and the batch's keys need no sorting
	}
	// Read the candidates' keys in parallel, one file per core; each worker
	// collects its own hits, merged below, so nothing is shared.
	probe := newKeyProbe(res)
	// Key indexes only for data files under the table's location, where
	// clean-orphans finds them once their data file is gone.
	indexed := useKeyIndex(tbl) && len(keyIDs) == 1 && probe.sorted != nil
	within := strings.TrimSuffix(tbl.Location(), "/") + "/"
	out := make([]keyHits, len(cands))
	parallel(len(cands), runtime.GOMAXPROCS(0), func() func(int) {
		var cur probeCursor
		var buf intScanBuf
		return func(c int) {
			path := cands[c].File.FilePath()
			gone := deleted[path]
			h := &out[c]
			switch {
			case indexed && strings.HasPrefix(path, within):
				if x, err := readKeyIndex(fs, cands[c].File, keyIDs[0]); err == nil {
					probe.matchIndex(x, gone, h)
					h.indexed = true
					return
				}
				if h.err = indexIntKeys(fs, cands[c].File, keyIDs[0], probe, gone, &cur, &buf, h); !errors.Is(h.err, errNoIntScan) {
					return
				}
				h.err, h.pos, h.keys = nil, h.pos[:0], h.keys[:0]
			case len(keyIDs) == 1 && probe.sorted != nil:
				if h.err = scanIntKeys(fs, path, keyIDs[0], probe, gone, &cur, &buf, h); !errors.Is(h.err, errNoIntScan) {
					return
				}
				h.err, h.pos, h.keys = nil, h.pos[:0], h.keys[:0]
			}
			var pos int64
			h.err = readColumnsByID(ctx, fs, path, keyIDs, mem, func(rec arrow.RecordBatch) error {
				var err error
				gone, err = probe.match(rec, pos, gone, &cur, h)
				pos += rec.NumRows()
				return err
			})
		}
	})
	for c, h := range out {
		if h.err != nil {
			return nil, fmt.Errorf("reading keys of %s: %w", cands[c].File.FilePath(), h.err)
		}
		for _, k := range h.keys {
			m.found[k] = true
		}
		if h.indexed {
			m.indexed++
		}
		if len(h.pos) > 0 {
			path := cands[c].File.FilePath()
			m.deletes[path] = h.pos
			m.touched[path] = touchedFile{file: cands[c].File, gone: deleted[path], dvs: cands[c].DeletionVectorFiles}
		}
	}
	return m, nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// readColumnsByID reads the columns with the given Iceberg field IDs (in
// that order) of a Parquet data file, record by record, in file order.
func readColumnsByID(ctx context.Context, fs iceio.IO, path string, ids []int, mem memory.Allocator, fn func(arrow.RecordBatch) error) error {
	return withParquetFile(fs, path, func(pr *file.Reader) error { return readColumnsOf(ctx, pr, ids, mem, fn) })
}

// withParquetFile opens the Parquet file at path for fn and closes it.
func withParquetFile(fs iceio.IO, path string, fn func(*file.Reader) error) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, err := file.NewParquetReader(f)
	if err != nil {
		return err
	}
	defer pr.Close()
	return fn(pr)
}

func readColumnsOf(ctx context.Context, pr *file.Reader, ids []int, mem memory.Allocator, fn func(arrow.RecordBatch) error) error {
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, mem)
	if err != nil {
		return err
	}
	leaves := make([]int, len(ids))
	for j, id := range ids {
		leaves[j] = -1
		for _, sf := range fr.Manifest.Fields {
			if sf.IsLeaf() && fieldID(*sf.Field) == id {
				leaves[j] = sf.ColIndex
			}
		}
		if leaves[j] < 0 {
			return fmt.Errorf("the file has no column with field id %d", id)
		}
	}
	rr, err := fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		// GetRecordReader returns columns in file order; put them in ids order.
		cols := make([]arrow.Array, len(ids))
		for j, id := range ids {
			for c, fld := range rec.Schema().Fields() {
				if fieldID(fld) == id {
					cols[j] = rec.Column(c)
				}
			}
		}
		fields := make([]arrow.Field, len(ids))
		for j := range ids {
			fields[j] = arrow.Field{Name: strconv.Itoa(ids[j]), Type: cols[j].DataType(), Nullable: true}
		}
		view := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
		err := fn(view)
		view.Release()
		if err != nil {
			return err
		}
	}
	return rr.Err()
}

func fieldID(f arrow.Field) int {
	if v, ok := f.Metadata.GetValue("PARQUET:field_id"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return -1
}

// readAllPositionDeletes adds the positions of the position delete files
// to deleted (unsorted), reading the files in parallel, one per core: a
// merge-on-read table collects a delete file per touched data file per
// batch until it is compacted (230 files after 20 10k-change batches at
// M), and the plan reads them all every batch.
func readAllPositionDeletes(ctx context.Context, fs iceio.IO, files []iceberg.DataFile, deleted map[string][]int64, mem memory.Allocator) error {
	workers := min(runtime.GOMAXPROCS(0), len(files))
	parts := make([]map[string][]int64, workers)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = map[string][]int64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf intScanBuf
			for i := int(next.Add(1) - 1); i < len(files) && errs[w] == nil; i = int(next.Add(1) - 1) {
				errs[w] = readPositionDeletes(ctx, fs, files[i], parts[w], mem, &buf)
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		if errs[w] != nil {
			return errs[w]
		}
		for p, pos := range parts[w] {
			deleted[p] = append(deleted[p], pos...)
		}
	}
	return nil
}

// referencedDataFile is the data file every row of the position delete
// file df references, or "" when its metadata does not say: its
// referenced_data_file (iceberg-go v0.7.0 does not keep it in a v2
// manifest), or else its file_path bounds when the lower equals the upper
// (bounds hold every value, even truncated ones, so equal bounds mean one
// value; cdcmerge writes them so).
func referencedDataFile(df iceberg.DataFile) string {
	if ref := df.ReferencedDataFile(); ref != nil && *ref != "" {
		return *ref
	}
	lo, hi := df.LowerBoundValues()[posDeletePathID], df.UpperBoundValues()[posDeletePathID]
	if len(lo) > 0 && string(lo) == string(hi) {
		return string(lo)
	}
	return ""
}

// readPositionDeletes adds the (file_path, pos) rows of the position delete
// file df to deleted (unsorted: the caller sorts once all are read). A
// file that names the one data file all its rows reference (as cdcmerge's
// do) has only its pos column read, with scanIntColumn: a table collects
// one such file per touched data file per batch until it is compacted, and
// the plan reads them all every batch.
func readPositionDeletes(ctx context.Context, fs iceio.IO, df iceberg.DataFile, deleted map[string][]int64, mem memory.Allocator, buf *intScanBuf) error {
	path := df.FilePath()
	if ref := referencedDataFile(df); ref != "" {
		err := scanIntColumn(fs, path, posDeletePosID, buf, nil, func(vals []int64, _ int64) {
			deleted[ref] = append(deleted[ref], vals...)
		})
		if !errors.Is(err, errNoIntScan) {
			if err != nil {
				return fmt.Errorf("reading position delete file %s: %w", path, err)
			}
			return nil
		}
	}
	err := readColumnsByID(ctx, fs, path, []int{posDeletePathID, posDeletePosID}, mem, func(rec arrow.RecordBatch) error {
		paths, ok1 := rec.Column(0).(*array.String)
		poss, ok2 := rec.Column(1).(*array.Int64)
		if !ok1 || !ok2 {
			return fmt.Errorf("unexpected column types %s, %s", rec.Column(0).DataType(), rec.Column(1).DataType())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			p := paths.Value(i)
			deleted[p] = append(deleted[p], poss.Value(i))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading position delete file %s: %w", path, err)
	}
	return nil
}

// posDeleteArrowSchema is the spec's position delete file schema.
var posDeleteArrowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "file_path", Type: arrow.BinaryTypes.String, Metadata: arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{strconv.Itoa(posDeletePathID)})},
	{Name: "pos", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{strconv.Itoa(posDeletePosID)})},
}, nil)

// writePositionDeletes writes one position delete file per data file with
// deleted rows, each naming the data file it references (so readers apply
// it to that file alone), sorted by position as the spec requires, in the
// partition of that data file (touched). The files are written in
// parallel, one per core.
func writePositionDeletes(ctx context.Context, tbl *table.Table, deletes map[string][]int64, touched map[string]touchedFile, mem memory.Allocator) ([]iceberg.DataFile, error) {
	if len(deletes) == 0 {
		return nil, nil
	}
	wfs, locs, err := writer.Target(ctx, tbl)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(deletes))
	for p := range deletes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := make([]iceberg.DataFile, len(paths))
	errs := make([]error, len(paths))
	parallel(len(paths), runtime.GOMAXPROCS(0), func() func(int) {
		return func(i int) {
			loc := locs.NewDataLocation(uuid.NewString() + "-deletes.parquet")
			out[i], errs[i] = writePositionDeleteFile(tbl, wfs, loc, touched[paths[i]].file, deletes[paths[i]], mem)
		}
	})
	var done []iceberg.DataFile
	for i, df := range out {
		if errs[i] != nil {
			return done, errs[i]
		}
		done = append(done, df)
	}
	return done, nil
}

// posDeletePathDictType and posDeleteWriteSchema are how a position
// delete file's records are given to the Parquet writer: file_path as a
// dictionary of strings (the files hold plain strings, and carry no Arrow
// schema that would say otherwise).
var (
	posDeletePathDictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	posDeleteWriteSchema  = arrow.NewSchema([]arrow.Field{
		{Name: "file_path", Type: posDeletePathDictType, Metadata: posDeleteArrowSchema.Field(0).Metadata},
		posDeleteArrowSchema.Field(1),
	}, nil)
)

// posDeleteWriterProps: the file_path column holds one value, a dictionary
// of one entry; pos is all distinct and ascending, where delta encoding
// stores about a byte a row and dictionary encoding only costs time.
var posDeleteWriterProps = []parquet.WriterProperty{
	parquet.WithCompression(compress.Codecs.Zstd),
	parquet.WithDictionaryFor("pos", false),
	parquet.WithEncodingFor("pos", parquet.Encodings.DeltaBinaryPacked),
}

// writePositionDeleteFile writes the position delete file at loc for the
// positions pos of the data file data, in its partition.
func writePositionDeleteFile(tbl *table.Table, wfs iceio.WriteFileIO, loc string, data iceberg.DataFile, pos []int64, mem memory.Allocator) (iceberg.DataFile, error) {
	dataPath := data.FilePath()
	slices.Sort(pos)
	// The file_path column is the same string in every row: it is given
	// as a dictionary of that one value, whose indices arrow-go writes as
	// they are (no copy of the path per row, no hashing of each one).
	n := len(pos)
	paths := array.NewStringBuilder(mem)
	paths.Append(dataPath)
	dict := paths.NewArray()
	paths.Release()
	zeros := make([]int32, n)
	idxData := array.NewData(arrow.PrimitiveTypes.Int32, n, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(zeros))}, nil, 0, 0)
	indices := array.MakeFromData(idxData)
	idxData.Release()
	posData := array.NewData(arrow.PrimitiveTypes.Int64, n, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(pos))}, nil, 0, 0)
	cols := []arrow.Array{array.NewDictionaryArray(posDeletePathDictType, indices, dict), array.MakeFromData(posData)}
	indices.Release()
	dict.Release()
	posData.Release()
	rec := array.NewRecordBatch(posDeleteWriteSchema, cols, int64(n))
	cols[0].Release()
	cols[1].Release()
	size, err := writeParquetRecord(wfs, loc, rec, mem, posDeleteWriterProps...)
	rec.Release()
	if err != nil {
		return nil, fmt.Errorf("writing position delete file %s: %w", loc, err)
	}
	lo := make([]byte, 8)
	hi := make([]byte, 8)
	binary.LittleEndian.PutUint64(lo, uint64(pos[0]))
	binary.LittleEndian.PutUint64(hi, uint64(pos[n-1]))
	spec, part := partitionOf(tbl, data)
	b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentPosDeletes, loc, iceberg.ParquetFile,
		part, nil, nil, int64(n), size)
	if err != nil {
		return nil, err
	}
	return b.ReferencedDataFile(dataPath).
		ValueCounts(map[int]int64{posDeletePathID: int64(n), posDeletePosID: int64(n)}).
		NullValueCounts(map[int]int64{posDeletePathID: 0, posDeletePosID: 0}).
		LowerBoundValues(map[int][]byte{posDeletePathID: []byte(dataPath), posDeletePosID: lo}).
		UpperBoundValues(map[int][]byte{posDeletePathID: []byte(dataPath), posDeletePosID: hi}).
		Build(), nil
}

// writeParquetRecord writes rec as one Parquet file (zstd unless props say
// otherwise) and returns its size.
func writeParquetRecord(fs iceio.WriteFileIO, path string, rec arrow.RecordBatch, mem memory.Allocator, props ...parquet.WriterProperty) (int64, error) {
	w, err := fs.Create(path)
	if err != nil {
		return 0, err
	}
	cw := &writer.CountingWriter{W: w}
	wp := parquet.NewWriterProperties(append([]parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem)}, props...)...)
	pw, err := pqarrow.NewFileWriter(rec.Schema(), cw, wp, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		w.Close()
		return 0, err
	}
	if err := pw.Write(rec); err != nil {
		pw.Close()
		return 0, err
	}
	if err := pw.Close(); err != nil { // closes w too
		return 0, err
	}
	return cw.N, nil
}
