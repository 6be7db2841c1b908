package reader

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// OpColumn is the name of the DMS operation column.
const OpColumn = "Op"

// Operation codes, as DMS writes them in the Op column.
const (
	OpInsert byte = 'I'
	OpUpdate byte = 'U'
	OpDelete byte = 'D'
)

// Decoded is one DMS file read into memory.
type Decoded struct {
	File File
	// Record holds every column but Op, with Iceberg-compatible types.
	Record arrow.RecordBatch
	// Ops has one operation per row. Files without an Op column (full load,
	// CdcInsertsOnly) get OpInsert: every row is an upsert.
	Ops []byte
	// Digest identifies the file's content when it was read through a
	// DigestSource ("" otherwise).
	Digest Digest
	// FirstRow is the file's row number of the record's first row (not 0
	// when only some row groups were read).
	FirstRow int64
}

// Release frees the record.
func (d *Decoded) Release() {
	if d.Record != nil {
		d.Record.Release()
		d.Record = nil
	}
}

// FileError is a problem with one input file. Path, and Row or Column where
// known, say where; Hint says what the user can do.
type FileError struct {
	Path   string
	Row    int64 // -1 if not about one row
	Column string
	Msg    string
	Hint   string
	Err    error
}

func (e *FileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "file %s", e.Path)
	if e.Row >= 0 {
		fmt.Fprintf(&b, ", row %d", e.Row)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// ReadFile decodes one Parquet file of src.
func ReadFile(ctx context.Context, src Source, f File, mem memory.Allocator) (*Decoded, error) {
	return ReadRowGroups(ctx, src, f, RowGroups{}, mem)
}

// maxPageExpansion bounds how much larger than the whole file one page
// may claim to be once decompressed. Page headers say how large a buffer
// to allocate; in a corrupt file that claim can be anything up to 2 GiB,
// and arrow-go would allocate it (up to its own 256 MiB cap) before
// finding the data does not match. Real ratios stay far below: DMS writes
// pages of about 1 MiB, and even gzip or zstd of repeated values does not
// turn a whole file into 4096 times its size in one page.
const maxPageExpansion = 4096

// readProps are the decoder settings for a file of size bytes: no page may
// claim more compressed bytes than the file has, nor expand beyond
// maxPageExpansion times the file (at least 1 MiB, at most arrow-go's
// default).
func readProps(size int64, mem memory.Allocator) *parquet.ReaderProperties {
	p := parquet.NewReaderProperties(mem)
	p.MaxCompressedPageSize = size
	p.MaxUncompressedPageSize = min(max(size*maxPageExpansion, 1<<20), parquet.DefaultMaxUncompressedPageSize)
	return p
}

// RowGroups selects the row groups [From, To) of a Parquet file; the zero
// value selects them all. A file too large for one batch is applied a few
// row groups at a time, so memory is bounded by the row groups a batch
// holds rather than by the file.
type RowGroups struct{ From, To int }

// All reports whether rg selects the whole file.
func (rg RowGroups) All() bool { return rg == RowGroups{} }

// RowGroupSizes reads only the footer of a Parquet file and returns the
// compressed size of each of its row groups.
func RowGroupSizes(ctx context.Context, src Source, f File) ([]int64, error) {
	r, _, err := src.Open(ctx, f.Path)
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot open", Err: err}
	}
	defer r.Close()
	pr, err := file.NewParquetReader(r)
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "not a readable Parquet file (truncated or another format)", Err: err}
	}
	defer pr.Close()
	md := pr.MetaData()
	sizes := make([]int64, md.NumRowGroups())
	for i := range sizes {
		rg := md.RowGroup(i)
		for c := 0; c < rg.NumColumns(); c++ {
			if cc, err := rg.ColumnChunk(c); err == nil {
				sizes[i] += cc.TotalCompressedSize()
			}
		}
	}
	return sizes, nil
}

// checkFooter refuses a footer whose column chunks lie outside the file:
// arrow-go trusts those offsets and sizes (a negative size makes it panic,
// a huge one makes it allocate), so they are checked against the file size
// before any chunk is read.
func checkFooter(md *metadata.FileMetaData, size int64) error {
	for i := 0; i < md.NumRowGroups(); i++ {
		rg := md.RowGroup(i)
		if rg.NumRows() < 0 {
			return fmt.Errorf("row group %d claims %d rows", i, rg.NumRows())
		}
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("row group %d, column chunk %d: %w", i, c, err)
			}
			start, n := cc.DataPageOffset(), cc.TotalCompressedSize()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
				start = cc.DictionaryPageOffset()
			}
			if start < 0 || n < 0 || start > size || n > size-start || cc.NumValues() < 0 {
				return fmt.Errorf("row group %d, column chunk %d claims %d bytes at offset %d (and %d values) in a file of %d bytes", i, c, n, start, cc.NumValues(), size)
			}
		}
	}
	return nil
}

// ReadRowGroups decodes the row groups rg of one Parquet file of src.
func ReadRowGroups(ctx context.Context, src Source, f File, rg RowGroups, mem memory.Allocator) (*Decoded, error) {
	return ReadParquet(ctx, src, f, ReadOptions{RowGroups: rg}, mem)
}

// ReadOptions say what ReadParquet reads and in which form.
type ReadOptions struct {
	RowGroups RowGroups // the zero value: all
	// Dictionaries returns a string or binary column as a dictionary
	// array (int32 indices, see internal/dictcol) when every data page of
	// it in the row groups read is dictionary encoded, as DMS writes
	// low-cardinality columns: its values are then never copied one by
	// one. A column with plain pages (its dictionary overflowed) is read
	// plain: a dictionary of it would have to hash every value.
	Dictionaries bool
	// Plain names the columns (case-insensitively) always read plain:
	// those hashed or compared value by value (the key).
	Plain []string
}

// ReadParquet decodes the row groups opt selects of one Parquet file of src.
func ReadParquet(ctx context.Context, src Source, f File, opt ReadOptions, mem memory.Allocator) (d *Decoded, err error) {
	rg := opt.RowGroups
	defer func() {
		// The last line of defence against a corrupt file the checks above
		// do not catch: arrow-go decodes in this goroutine, and a panic in
		// it is about this file, not a bug to crash the run on.
		if p := recover(); p != nil {
			if d != nil {
				d.Release()
			}
			d, err = nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot decode (corrupt Parquet data)", Err: fmt.Errorf("decoder panic: %v", p),
				Hint: "re-upload the file from DMS"}
		}
	}()
	r, size, err := src.Open(ctx, f.Path)
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot open", Err: err}
	}
	defer r.Close()
	if size == 0 {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "file is empty (0 bytes)",
			Hint: "DMS never writes empty files; the upload was probably interrupted: re-upload it or remove it"}
	}
	pr, err := file.NewParquetReader(r, file.WithReadProps(readProps(size, mem)))
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "not a readable Parquet file (truncated or another format)", Err: err,
			Hint: "re-upload the file from DMS, or remove it if it is not DMS output"}
	}
	defer pr.Close()
	if err := checkFooter(pr.MetaData(), size); err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "corrupt Parquet footer", Err: err,
			Hint: "re-upload the file from DMS"}
	}
	props := pqarrow.ArrowReadProperties{BatchSize: 1 << 16}
	var dictCols map[int]bool
	if opt.Dictionaries {
		dictCols = DictionaryColumns(pr.MetaData(), rg, opt.Plain)
		for i := range dictCols {
			props.SetReadDict(i, true)
		}
	}
	fr, err := pqarrow.NewFileReader(pr, props, mem)
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot map the Parquet schema", Err: err}
	}
	var tbl arrow.Table
	if rg.All() {
		tbl, err = fr.ReadTable(ctx)
	} else {
		if rg.From < 0 || rg.To > pr.NumRowGroups() || rg.From >= rg.To {
			return nil, &FileError{Path: f.Path, Row: -1, Msg: fmt.Sprintf("row groups %d to %d asked for, the file has %d; it changed since it was planned", rg.From, rg.To, pr.NumRowGroups()),
				Hint: "DMS never rewrites a file: check what replaced it"}
		}
		cols := make([]int, pr.MetaData().Schema.NumColumns())
		for i := range cols {
			cols[i] = i
		}
		rgs := make([]int, 0, rg.To-rg.From)
		for i := rg.From; i < rg.To; i++ {
			rgs = append(rgs, i)
		}
		tbl, err = fr.ReadRowGroups(ctx, cols, rgs)
	}
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot decode (corrupt or truncated Parquet data)", Err: err,
			Hint: "re-upload the file from DMS"}
	}
	defer tbl.Release()

	sc := tbl.Schema()
	pqSchema := pr.MetaData().Schema
	nrows := tbl.NumRows()
	d = &Decoded{File: f}
	for i := 0; i < rg.From; i++ {
		d.FirstRow += pr.MetaData().RowGroup(i).NumRows()
	}
	var fields []arrow.Field
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	seen := map[string]string{}
	for i, fld := range sc.Fields() {
		lower := strings.ToLower(fld.Name)
		if prev, dup := seen[lower]; dup {
			return nil, &FileError{Path: f.Path, Row: -1, Column: fld.Name, Msg: fmt.Sprintf("column name clashes with %q (names are matched case-insensitively)", prev)}
		}
		seen[lower] = fld.Name
		col, err := concatChunks(tbl.Column(i).Data(), mem)
		if err != nil {
			return nil, &FileError{Path: f.Path, Row: -1, Column: fld.Name, Msg: "cannot assemble column", Err: err}
		}
		if strings.EqualFold(fld.Name, OpColumn) {
			if dc, ok := col.(*array.Dictionary); ok {
				if err := checkIndices(dc); err != nil {
					col.Release()
					return nil, &FileError{Path: f.Path, Row: -1, Column: fld.Name, Msg: "cannot decode (corrupt Parquet data)", Err: err,
						Hint: "re-upload the file from DMS"}
				}
			}
			ops, err := decodeOps(col, f.Path, fld.Name, d.FirstRow)
			col.Release()
			if err != nil {
				return nil, err
			}
			d.Ops = ops
			continue
		}
		int96 := false
		if lf := fr.Manifest.Fields[i]; lf.IsLeaf() && pqSchema.Column(lf.ColIndex).PhysicalType() == parquet.Types.Int96 {
			int96 = true
		}
		if lf := fr.Manifest.Fields[i]; lf.IsLeaf() && dictCols[lf.ColIndex] && dictcol.Is(col.DataType()) {
			// Kept as read; its indices are checked against its
			// dictionary here, where a bad one is still about this file.
			if err := checkIndices(col.(*array.Dictionary)); err != nil {
				col.Release()
				return nil, &FileError{Path: f.Path, Row: -1, Column: fld.Name, Msg: "cannot decode (corrupt Parquet data)", Err: err,
					Hint: "re-upload the file from DMS"}
			}
			cols = append(cols, col)
			fields = append(fields, arrow.Field{Name: fld.Name, Type: col.DataType(), Nullable: true})
			continue
		}
		norm, err := Normalize(col, int96, mem)
		col.Release()
		if err != nil {
			return nil, &FileError{Path: f.Path, Row: -1, Column: fld.Name, Msg: "unsupported column type", Err: err}
		}
		cols = append(cols, norm)
		fields = append(fields, arrow.Field{Name: fld.Name, Type: norm.DataType(), Nullable: true})
	}
	if d.Ops == nil {
		d.Ops = make([]byte, nrows)
		for i := range d.Ops {
			d.Ops[i] = OpInsert
		}
	}
	d.Record = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, nrows)
	return d, nil
}

// DictionaryColumns returns the leaf columns of md ReadOptions.Dictionaries
// reads as dictionaries: top-level string or binary columns not named in
// plain whose every data page in row groups rg is dictionary encoded.
// Without page encoding statistics (writers need not write them), a
// column chunk that has a dictionary page qualifies: the reader handles
// plain pages in a dictionary column too, only more slowly.
func DictionaryColumns(md *metadata.FileMetaData, rg RowGroups, plain []string) map[int]bool {
	from, to := rg.From, rg.To
	if rg.All() {
		from, to = 0, md.NumRowGroups()
	}
	out := map[int]bool{}
	sc := md.Schema
columns:
	for i := 0; i < sc.NumColumns(); i++ {
		c := sc.Column(i)
		if c.PhysicalType() != parquet.Types.ByteArray || c.MaxRepetitionLevel() != 0 || len(c.ColumnPath()) != 1 {
			continue
		}
		switch c.LogicalType().(type) {
		case schema.StringLogicalType, *schema.StringLogicalType, schema.NoLogicalType, *schema.NoLogicalType:
		default:
			continue // JSON, BSON, enums, decimals: read as they always are
		}
		name := c.Name()
		for _, p := range plain {
			if strings.EqualFold(name, p) {
				continue columns
			}
		}
		for r := from; r < to; r++ {
			cc, err := md.RowGroup(r).ColumnChunk(i)
			if err != nil || !cc.HasDictionaryPage() {
				continue columns
			}
			for _, st := range cc.EncodingStats() {
				if st.PageType == pageTypeData || st.PageType == pageTypeDataV2 {
					if st.Encoding != parquet.Encodings.RLEDict && st.Encoding != parquet.Encodings.PlainDict {
						continue columns
					}
				}
			}
		}
		out[i] = true
	}
	return out
}

// Parquet page types (the format's PageType values; arrow-go's enum is in
// an internal package).
const (
	pageTypeData   = 0
	pageTypeDataV2 = 3
)

// checkIndices makes sure every index of d points into its dictionary: a
// corrupt file's indices are not checked by the decoder when it keeps the
// dictionary.
func checkIndices(d *array.Dictionary) error {
	n := int32(d.Dictionary().Len())
	nulls := d.NullN() > 0
	for i, j := range d.Indices().(*array.Int32).Int32Values() {
		if (j < 0 || j >= n) && (!nulls || d.IsValid(i)) {
			return fmt.Errorf("row %d: dictionary index %d, the dictionary has %d values", i, j, n)
		}
	}
	return nil
}

func concatChunks(ch *arrow.Chunked, mem memory.Allocator) (arrow.Array, error) {
	chunks := ch.Chunks()
	switch len(chunks) {
	case 0:
		return array.MakeArrayOfNull(mem, ch.DataType(), 0), nil
	case 1:
		chunks[0].Retain()
		return chunks[0], nil
	}
	return array.Concatenate(chunks, mem)
}

// decodeOps reads the Op column; firstRow numbers its first row in errors.
func decodeOps(col arrow.Array, path, name string, firstRow int64) ([]byte, error) {
	var get func(i int) string
	switch c := col.(type) {
	case *array.String:
		get = c.Value
	case *array.LargeString:
		get = c.Value
	case *array.Binary:
		get = func(i int) string { return string(c.Value(i)) }
	case *array.Dictionary:
		switch dict := c.Dictionary().(type) {
		case *array.String:
			get = func(i int) string { return dict.Value(c.GetValueIndex(i)) }
		case *array.Binary:
			get = func(i int) string { return string(dict.Value(c.GetValueIndex(i))) }
		default:
			return nil, &FileError{Path: path, Row: -1, Column: name, Msg: fmt.Sprintf("Op column has type %s; DMS writes it as a string of I, U or D", col.DataType())}
		}
	default:
		return nil, &FileError{Path: path, Row: -1, Column: name, Msg: fmt.Sprintf("Op column has type %s; DMS writes it as a string of I, U or D", col.DataType()),
			Hint: "rename the column if it is not the DMS operation column"}
	}
	ops := make([]byte, col.Len())
	for i := range ops {
		if col.IsNull(i) {
			return nil, &FileError{Path: path, Row: firstRow + int64(i), Column: name, Msg: "Op is null; every CDC row must say I, U or D"}
		}
		v := get(i)
		switch v {
		case "I", "i":
			ops[i] = OpInsert
		case "U", "u":
			ops[i] = OpUpdate
		case "D", "d":
			ops[i] = OpDelete
		default:
			return nil, &FileError{Path: path, Row: firstRow + int64(i), Column: name, Msg: fmt.Sprintf("unknown Op value %q; DMS writes only I, U and D", v),
				Hint: "fix or remove the file; cdcmerge will not guess what the row means"}
		}
	}
	return ops, nil
}

var errUnsupported = errors.New("unsupported type")
