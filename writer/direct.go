package writer

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// The direct writer writes an unpartitioned table's data files with
// arrow-go's Parquet writer itself instead of through iceberg-go's
// WriteRecords, and builds each file's metadata from the file's footer
// with iceberg-go's DataFileFromMetadata (the statistics code iceberg-go's
// own writer uses, so bounds, null and value counts and the metrics modes
// are the same). It honours the same table properties (codec and level,
// dictionary on or off per column, page size and row limits, row group
// size, target file size) and differs in three choices, measured at 2.5M
// rows of the bench's orders on one core (write CPU 2.1-2.2 s -> 1.4 s,
// files 39.7 MB -> 37.1 MB):
//
//   - String and binary columns whose dictionary is on are dictionary
//     encoded by cdcmerge, one dictionary per row group, and handed to
//     arrow-go as dictionary arrays. arrow-go's own dictionary encoder boxes
//     every value into an interface to hash it (an allocation per value:
//     a third of its write time for such columns); pqarrow writes a
//     dictionary array's indices as they are. A column with more distinct
//     values than dictionaryMaxEntries (or dictionaryMaxBytes of them) is
//     passed as it is, and arrow-go falls back to plain encoding as before.
//   - An integer column without a dictionary whose first values ascend (ids
//     of a full load, positions, sequence numbers) is delta encoded
//     (DELTA_BINARY_PACKED): about a byte a row instead of eight, which
//     also leaves zstd little to do.
//   - A decimal of up to 18 digits is stored as INT32 or INT64 (DECIMAL
//     annotated), as Iceberg Java writes it, instead of fixed-length
//     big-endian bytes: arrow-go converts each value to bytes through a
//     24-byte slice header of garbage per row, and compares statistics
//     byte-wise. The bench's 5M-row full load: 2.73-2.96 -> 2.62-2.90 CPU
//     s, files 0.3% larger.
//
// A table it cannot write this way (partitioned, sorted, bloom filters,
// variant shredding, nested or unusual column types) is written through
// iceberg-go as before; see directSupported.

// Bounds of a dictionary built by the direct writer for one column chunk.
const (
	dictionaryMaxEntries = 1 << 16
	dictionaryMaxBytes   = 1 << 20
)

// Table properties the direct writer reads that iceberg-go's table package
// does not export (its internal names, which are Iceberg Java's).
const (
	dictEnabledProperty      = "parquet.enable.dictionary"
	dictColumnEnabledPrefix  = "write.parquet.dict-encoding-enabled.column."
	bloomColumnEnabledPrefix = table.ParquetBloomFilterColumnEnabledKeyPrefix + "."
	shredVariantsProperty    = table.ParquetShredVariantsKey
)

// deltaSampleRows is how many first values of an integer column decide
// whether it is delta encoded.
const deltaSampleRows = 4096

// directSupported reports whether the direct writer can write tbl's data
// files for records of schema sc: the table's columns, in its order (the
// records' schema may lack the field IDs, which the files take from the
// table).
func directSupported(tbl *table.Table, sc *arrow.Schema) bool {
	if !tbl.Spec().IsUnpartitioned() {
		return false
	}
	if tbl.Metadata().DefaultSortOrder() != table.UnsortedSortOrderID {
		return false // iceberg-go sorts the rows of a sorted table
	}
	props := tbl.Properties()
	for k, v := range props {
		if strings.HasPrefix(k, bloomColumnEnabledPrefix) && strings.EqualFold(v, "true") {
			return false
		}
	}
	if props.GetBool(shredVariantsProperty, false) {
		return false
	}
	fileSchema, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil || len(sc.Fields()) != len(fileSchema.Fields()) {
		return false
	}
	for i, f := range sc.Fields() {
		if ff := fileSchema.Field(i); ff.Name != f.Name || !arrow.TypeEqual(ff.Type, f.Type) {
			return false
		}
		switch t := f.Type.(type) {
		case *arrow.BooleanType, *arrow.Int32Type, *arrow.Int64Type, *arrow.Float32Type, *arrow.Float64Type,
			*arrow.StringType, *arrow.BinaryType, *arrow.Date32Type, *arrow.Time64Type, *arrow.Decimal128Type:
		case *arrow.TimestampType:
			if t.Unit != arrow.Microsecond {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// directWriter holds what every file of one DataFiles call shares.
type directWriter struct {
	tbl      *table.Table
	sc       *arrow.Schema // the table's, with field IDs
	fs       iceio.WriteFileIO
	locs     table.LocationProvider
	base     []parquet.WriterProperty
	dict     []bool // dict[i]: column i is dictionary encoded
	target   int64  // close a file at this many bytes
	rgBytes  int64  // close a row group at this many uncompressed bytes
	rgRows   int64  // or at this many rows
	writeID  string
	mem      memory.Allocator
	fileName func(worker, n int) string
}

// Target returns where tbl's new files go: its file IO, which must be
// able to write, and its location provider, which names them.
func Target(ctx context.Context, tbl *table.Table) (iceio.WriteFileIO, table.LocationProvider, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, nil, err
	}
	wfs, ok := fs.(iceio.WriteFileIO)
	if !ok {
		return nil, nil, fmt.Errorf("the table's file IO cannot write")
	}
	locs, err := tbl.LocationProvider()
	if err != nil {
		return nil, nil, err
	}
	return wfs, locs, nil
}

func newDirectWriter(ctx context.Context, tbl *table.Table, opt Options) (*directWriter, error) {
	wfs, locs, err := Target(ctx, tbl)
	if err != nil {
		return nil, err
	}
	fileSchema, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return nil, err
	}
	props := tbl.Properties()
	w := &directWriter{tbl: tbl, sc: fileSchema, fs: wfs, locs: locs, mem: memory.DefaultAllocator, writeID: uuid.NewString()}
	w.target = opt.TargetFileSize
	if w.target <= 0 {
		w.target = int64(props.GetInt(table.WriteTargetFileSizeBytesKey, table.WriteTargetFileSizeBytesDefault))
	}
	// The row group closes at the size, in the records' buffers, that
	// iceberg-go's writer closes it at in compressed bytes: the rows of a
	// row group are held until it is written (iceberg-go holds its encoded
	// pages instead), so a budget bounds what is held either way.
	w.rgBytes = int64(props.GetInt(table.ParquetRowGroupSizeBytesKey, table.ParquetRowGroupSizeBytesDefault))
	w.rgRows = int64(props.GetInt(table.ParquetRowGroupLimitKey, table.ParquetRowGroupLimitDefault))
	codec, err := codecOf(props.Get(table.ParquetCompressionKey, table.ParquetCompressionDefault))
	if err != nil {
		return nil, err
	}
	dpVersion := parquet.DataPageV2
	if props.Get(table.ParquetPageVersionKey, table.ParquetPageVersionDefault) == "1" {
		dpVersion = parquet.DataPageV1
	}
	w.base = []parquet.WriterProperty{
		parquet.WithAllocator(w.mem),
		parquet.WithMaxRowGroupLength(w.rgRows),
		parquet.WithDataPageSize(int64(props.GetInt(table.ParquetPageSizeBytesKey, table.ParquetPageSizeBytesDefault))),
		parquet.WithDataPageVersion(dpVersion),
		parquet.WithBatchSize(int64(props.GetInt(table.ParquetPageRowLimitKey, table.ParquetPageRowLimitDefault))),
		parquet.WithDictionaryPageSizeLimit(int64(props.GetInt(table.ParquetDictSizeBytesKey, table.ParquetDictSizeBytesDefault))),
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(props.GetInt(table.ParquetCompressionLevelKey, table.ParquetCompressionLevelDefault)),
		parquet.WithStats(true),
		// Decimals of up to 18 digits as INT32 or INT64, as Iceberg Java
		// writes them, instead of big-endian fixed-length bytes (see the
		// package doc).
		parquet.WithStoreDecimalAsInteger(true),
		parquet.WithCreatedBy("cdcmerge (arrow-go parquet)"),
	}
	dictDefault := true
	if v, ok := props[dictEnabledProperty]; ok {
		dictDefault = strings.EqualFold(v, "true")
	}
	w.dict = make([]bool, len(fileSchema.Fields()))
	for i, f := range fileSchema.Fields() {
		on := dictDefault
		if v, ok := props[dictColumnEnabledPrefix+f.Name]; ok {
			on = strings.EqualFold(v, "true")
		}
		w.dict[i] = on
		// As iceberg-go does (Iceberg Java's parquet-mr behaviour): a
		// dictionary that does not pay is dropped for plain encoding.
		w.base = append(w.base, parquet.WithDictionaryFor(f.Name, on), parquet.WithDictionaryCostFallbackFor(f.Name, true))
	}
	w.fileName = func(worker, n int) string {
		return fmt.Sprintf("00000-%d-%s-%05d.parquet", worker, w.writeID, n)
	}
	return w, nil
}

func codecOf(name string) (compress.Compression, error) {
	switch name {
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "uncompressed", "none":
		return compress.Codecs.Uncompressed, nil
	case "brotli":
		return compress.Codecs.Brotli, nil
	case "lz4":
		return compress.Codecs.Lz4, nil
	case "lz4raw":
		return compress.Codecs.Lz4Raw, nil
	}
	return compress.Codecs.Uncompressed, fmt.Errorf("unknown Parquet codec %q (table property %s)", name, table.ParquetCompressionKey)
}

// write writes records as data files (worker numbers the file names of
// one of the parallel writers). As iceberg-go's writer, it holds its own
// reference to a record while it needs it and leaves the caller's alone.
func (w *directWriter) write(ctx context.Context, worker int, records iter.Seq[arrow.RecordBatch]) (out []iceberg.DataFile, err error) {
	var (
		pending []arrow.RecordBatch
		rows    int64
		bytes   int64
		f       *directFile
		files   int
	)
	defer func() {
		for _, r := range pending {
			r.Release()
		}
		if f != nil {
			f.abort()
		}
	}()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if f == nil {
			files++
			var err error
			if f, err = w.create(w.locs.NewDataLocation(w.fileName(worker, files)), pending[0]); err != nil {
				return err
			}
		}
		if err := f.writeRowGroup(pending); err != nil {
			return err
		}
		for _, r := range pending {
			r.Release()
		}
		pending, rows, bytes = pending[:0], 0, 0
		if f.size() < w.target {
			return nil
		}
		df, err := f.close()
		f = nil
		if err != nil {
			return err
		}
		out = append(out, df)
		return nil
	}
	for rec := range records {
		if rec.NumRows() == 0 {
			continue
		}
		rec.Retain()
		pending = append(pending, rec)
		rows += rec.NumRows()
		bytes += recordBytes(rec)
		if rows >= w.rgRows || bytes >= w.rgBytes {
			if err := flush(); err != nil {
				return out, err
			}
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	if err := flush(); err != nil {
		return out, err
	}
	if f != nil {
		df, err := f.close()
		f = nil
		if err != nil {
			return out, err
		}
		out = append(out, df)
	}
	return out, nil
}

// recordBytes is the size of rec's buffers (an estimate for slices).
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

// directFile is one data file being written.
type directFile struct {
	w    *directWriter
	loc  string
	out  *CountingWriter
	pw   *pqarrow.FileWriter
	done bool
}

func (w *directWriter) create(loc string, first arrow.RecordBatch) (*directFile, error) {
	props := append([]parquet.WriterProperty(nil), w.base...)
	for i, f := range w.sc.Fields() {
		if !w.dict[i] && ascendingInts(first.Column(i)) {
			props = append(props, parquet.WithEncodingFor(f.Name, parquet.Encodings.DeltaBinaryPacked))
		}
	}
	fh, err := w.fs.Create(loc)
	if err != nil {
		return nil, fmt.Errorf("writing data file %s: %w", loc, err)
	}
	out := &CountingWriter{W: fh}
	// No ARROW:schema in the file: the columns are written from
	// dictionary arrays, which readers must not take for the column type;
	// readers map columns by field ID, as for files of any other writer.
	pw, err := pqarrow.NewFileWriter(w.sc, out, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(w.mem)))
	if err != nil {
		fh.Close()
		w.fs.Remove(loc)
		return nil, fmt.Errorf("writing data file %s: %w", loc, err)
	}
	return &directFile{w: w, loc: loc, out: out, pw: pw}, nil
}

// ascendingInts reports whether col is an integer, timestamp, date or time
// column whose first values (nulls aside) never descend. Delta encoding
// of random values was measured too (every such column of the bench's
// orders, 1M rows): files 11% smaller, CPU the same within the noise; it
// is kept for ascending columns, where it is a clear gain.
func ascendingInts(col arrow.Array) bool {
	n := min(col.Len(), deltaSampleRows)
	if n < 2 {
		return false
	}
	var at func(int) int64
	switch c := col.(type) {
	case *array.Int64:
		at = func(i int) int64 { return c.Value(i) }
	case *array.Int32:
		at = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Timestamp:
		at = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Date32:
		at = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Time64:
		at = func(i int) int64 { return int64(c.Value(i)) }
	default:
		return false
	}

	var prev int64
	seen := false
	for i := 0; i < n; i++ {
		if col.IsNull(i) {
			continue
		}
		v := at(i)
		if seen && v < prev {
			return false
		}
		prev, seen = v, true
	}
	return seen
}

func (f *directFile) size() int64 { return f.out.N }

// writeRowGroup writes recs as one row group, column by column.
func (f *directFile) writeRowGroup(recs []arrow.RecordBatch) error {
	f.pw.NewRowGroup()
	chunks := make([]arrow.Array, len(recs))
	for c := range f.w.sc.Fields() {
		for i, r := range recs {
			chunks[i] = r.Column(c)
		}
		var col *arrow.Chunked
		if f.w.dict[c] {
			if d := dictionaryOf(chunks, f.w.mem); d != nil {
				col = arrow.NewChunked(d.DataType(), []arrow.Array{d})
				d.Release()
			}
		}
		if col == nil {
			// Chunks read as dictionaries (internal/dictcol) are written
			// plain here, like the column's other values.
			plain := make([]arrow.Array, len(chunks))
			for i, ch := range chunks {
				plain[i] = dictcol.Decode(ch, f.w.mem)
			}
			col = arrow.NewChunked(f.w.sc.Field(c).Type, plain)
			for _, p := range plain {
				p.Release()
			}
		}
		err := f.pw.WriteColumnChunked(col, 0, int64(col.Len()))
		col.Release()
		if err != nil {
			return fmt.Errorf("writing data file %s, column %s: %w", f.loc, f.w.sc.Field(c).Name, err)
		}
	}
	return nil
}

// dictionaryOf dictionary-encodes string or binary chunks into one
// dictionary array (int32 indices, values in order of first appearance);
// nil for other types or when the values are too many or too large for a
// dictionary to pay. A value equal to the one before it (a constant
// column, runs) skips the lookup. A chunk that already is a dictionary
// (internal/dictcol) is mapped one distinct value at a time: each of its
// dictionary's values is looked up once, on first use, and its rows only
// translate indices.
func dictionaryOf(chunks []arrow.Array, mem memory.Allocator) arrow.Array {
	var valueType arrow.BinaryDataType
	switch dictcol.ValueType(chunks[0].DataType()).ID() {
	case arrow.STRING:
		valueType = arrow.BinaryTypes.String
	case arrow.BINARY:
		valueType = arrow.BinaryTypes.Binary
	default:
		return nil
	}
	n := 0
	for _, c := range chunks {
		n += c.Len()
	}
	index := make(map[string]int32)
	values := array.NewBinaryBuilder(mem, valueType)
	defer values.Release()
	idx := array.NewInt32Builder(mem)
	defer idx.Release()
	idx.Reserve(n)
	var (
		valueBytes int
		last       []byte
		lastK      int32 = -1
	)
	lookup := func(v []byte) (int32, bool) {
		k, ok := index[string(v)]
		if !ok {
			if len(index) >= dictionaryMaxEntries || valueBytes+len(v) > dictionaryMaxBytes {
				return 0, false
			}
			k = int32(len(index))
			index[string(v)] = k
			values.Append(v)
			valueBytes += len(v)
		}
		return k, true
	}
	for _, c := range chunks {
		if !arrow.TypeEqual(dictcol.ValueType(c.DataType()), valueType) {
			return nil
		}
		if d, ok := c.(*array.Dictionary); ok {
			dv := d.Dictionary().(binaryLike)
			offsets, data := dv.ValueOffsets(), dv.ValueBytes()
			base := offsets[0]
			remap := make([]int32, dv.Len())
			for i := range remap {
				remap[i] = -1
			}
			nulls := d.NullN() > 0
			for i, j := range d.Indices().(*array.Int32).Int32Values() {
				if nulls && d.IsNull(i) {
					idx.UnsafeAppendBoolToBitmap(false)
					continue
				}
				k := remap[j]
				if k < 0 {
					if k, ok = lookup(data[offsets[j]-base : offsets[j+1]-base]); !ok {
						return nil
					}
					remap[j] = k
				}
				idx.UnsafeAppend(k)
			}
			lastK = -1
			continue
		}
		bl, ok := c.(binaryLike)
		if !ok {
			return nil
		}
		offsets, data := bl.ValueOffsets(), bl.ValueBytes()
		base := offsets[0]
		nulls := c.NullN() > 0
		for i := 0; i < c.Len(); i++ {
			if nulls && c.IsNull(i) {
				idx.UnsafeAppendBoolToBitmap(false)
				continue
			}
			v := data[offsets[i]-base : offsets[i+1]-base]
			if lastK >= 0 && string(v) == string(last) {
				idx.UnsafeAppend(lastK)
				continue
			}
			k, ok := lookup(v)
			if !ok {
				return nil
			}
			idx.UnsafeAppend(k)
			last, lastK = v, k
		}
	}
	dict := values.NewArray()
	defer dict.Release()
	indices := idx.NewArray()
	defer indices.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: valueType}, indices, dict)
}

// binaryLike is a string or binary array's raw form.
type binaryLike interface {
	arrow.Array
	ValueOffsets() []int32
	ValueBytes() []byte
}

// close finishes the file and returns its metadata.
func (f *directFile) close() (iceberg.DataFile, error) {
	f.done = true
	if err := f.pw.Close(); err != nil { // closes the file too
		f.w.fs.Remove(f.loc)
		return nil, fmt.Errorf("writing data file %s: %w", f.loc, err)
	}
	md, err := f.pw.FileMetadata()
	if err != nil {
		return nil, fmt.Errorf("writing data file %s: %w", f.loc, err)
	}
	tbl := f.w.tbl
	df, err := table.DataFileFromMetadata(table.DataFileArgs{
		Schema:        tbl.Schema(),
		Spec:          tbl.Spec(),
		Format:        iceberg.ParquetFile,
		Metadata:      md,
		FilePath:      f.loc,
		FileSize:      f.out.N,
		Content:       iceberg.EntryContentData,
		Properties:    tbl.Properties(),
		FormatVersion: tbl.Metadata().Version(),
	})
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", f.loc, err)
	}
	return df, nil
}

// abort closes and removes a file that will not be returned.
func (f *directFile) abort() {
	if f.done {
		return
	}
	f.done = true
	f.pw.Close()
	f.w.fs.Remove(f.loc)
}

// CountingWriter passes writes and Close to W and counts the bytes
// written (N): the size of a file being written, which its metadata
// needs, without asking the store afterwards.
type CountingWriter struct {
	W interface {
		Write([]byte) (int, error)
		Close() error
	}
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

func (c *CountingWriter) Close() error { return c.W.Close() }
