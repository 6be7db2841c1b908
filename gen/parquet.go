package gen

import (
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// WriteOption configures WriteParquet.
type WriteOption func(*writeOptions)

type writeOptions struct {
	compression  string
	rowGroupSize int64
	dataPageV2   bool
	dictionary   bool
	createdBy    string
	int96        bool
	decimalAsInt bool
}

// WithCompression selects the codec: "snappy" (the default), "zstd",
// "gzip" or "none" ("" means the default).
func WithCompression(name string) WriteOption {
	return func(o *writeOptions) { o.compression = name }
}

// WithRowGroupSize caps the number of rows per row group (default: all rows
// in one row group), so tests can make multi-row-group files.
func WithRowGroupSize(rows int64) WriteOption {
	return func(o *writeOptions) { o.rowGroupSize = rows }
}

// WithDataPageV2 writes data pages in the version 2 format (default v1).
func WithDataPageV2() WriteOption {
	return func(o *writeOptions) { o.dataPageV2 = true }
}

// WithInt96Timestamps writes timestamps as deprecated INT96 values, as older
// pipelines did.
func WithInt96Timestamps() WriteOption {
	return func(o *writeOptions) { o.int96 = true }
}

// WithDecimalAsInteger writes decimals of precision up to 9 as INT32 and up
// to 18 as INT64 (otherwise FIXED_LEN_BYTE_ARRAY), as some writers do.
func WithDecimalAsInteger() WriteOption {
	return func(o *writeOptions) { o.decimalAsInt = true }
}

// WithDictionary turns dictionary encoding on or off (default on).
func WithDictionary(on bool) WriteOption {
	return func(o *writeOptions) { o.dictionary = on }
}

// createdBy is written in every file's footer; it is fixed so that output
// is byte-for-byte reproducible.
const createdBy = "cdcmerge gen (synthetic AWS DMS output)"

func compressionOf(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return compress.Codecs.Snappy, nil
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("gen: unknown compression %q (want snappy, zstd, gzip or none)", name)
}

// WriteParquet writes rows to w as one Parquet file with the given arrow schema (field order = column order).
// Values are Go values matching the arrow types: int8/int16/int32/int64/uint8..uint64, float32/float64, bool, string, []byte,
// Decimal (for Decimal128 columns), Date (date32), Time (time32 ms or time64 us), Timestamp (timestamp with any unit), nil for null.
//
// A plain int is also accepted for any integer column, and a time.Time is not:
// convert it with TimestampOf. Nulls in a non-nullable field are an error.
// The file is written with arrow-go's pqarrow, so timestamps without a time
// zone get isAdjustedToUTC=false and those with one get true.
func WriteParquet(w io.Writer, schema *arrow.Schema, rows [][]any, opts ...WriteOption) error {
	o := writeOptions{dictionary: true}
	for _, opt := range opts {
		opt(&o)
	}
	codec, err := compressionOf(o.compression)
	if err != nil {
		return err
	}
	rec, err := buildRecord(schema, rows)
	if err != nil {
		return err
	}
	defer rec.Release()

	props := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithCreatedBy(createdBy),
		parquet.WithDictionaryDefault(o.dictionary),
	}
	if o.rowGroupSize > 0 {
		props = append(props, parquet.WithMaxRowGroupLength(o.rowGroupSize))
	}
	if o.dataPageV2 {
		props = append(props, parquet.WithDataPageVersion(parquet.DataPageV2))
	}
	if o.decimalAsInt {
		props = append(props, parquet.WithStoreDecimalAsInteger(true))
	}
	var arrowProps []pqarrow.WriterOption
	if o.int96 {
		// INT96 holds nanoseconds: pqarrow writes it for nanosecond
		// timestamps only.
		arrowProps = append(arrowProps, pqarrow.WithDeprecatedInt96Timestamps(true), pqarrow.WithCoerceTimestamps(arrow.Nanosecond))
	}
	fw, err := pqarrow.NewFileWriter(schema, w, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(arrowProps...))
	if err != nil {
		return fmt.Errorf("gen: parquet writer: %w", err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("gen: write parquet: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("gen: close parquet: %w", err)
	}
	return nil
}

func buildRecord(schema *arrow.Schema, rows [][]any) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	nf := schema.NumFields()
	for r, row := range rows {
		if len(row) != nf {
			return nil, fmt.Errorf("gen: row %d has %d values, schema has %d fields", r, len(row), nf)
		}
		for c, v := range row {
			f := schema.Field(c)
			if v == nil {
				if !f.Nullable {
					return nil, fmt.Errorf("gen: row %d: null in non-nullable column %q", r, f.Name)
				}
				b.Field(c).AppendNull()
				continue
			}
			if err := appendValue(b.Field(c), f.Type, v); err != nil {
				return nil, fmt.Errorf("gen: row %d column %q: %w", r, f.Name, err)
			}
		}
	}
	return b.NewRecordBatch(), nil
}

func mismatch(v any, t arrow.DataType) error {
	return fmt.Errorf("value %v of Go type %T does not fit arrow type %s", v, v, t)
}

// asInt64 converts any Go integer to int64 (ok=false if v is not one, or a
// uint64 above MaxInt64).
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= 1<<63-1
	}
	return 0, false
}

// intFits converts v to int64 if v is a Go integer in [lo, hi].
func intFits(v any, lo, hi int64) (int64, bool) {
	n, ok := asInt64(v)
	return n, ok && n >= lo && n <= hi
}

func appendValue(bld array.Builder, t arrow.DataType, v any) error {
	switch b := bld.(type) {
	case *array.Int8Builder:
		n, ok := intFits(v, -1<<7, 1<<7-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(int8(n))
	case *array.Int16Builder:
		n, ok := intFits(v, -1<<15, 1<<15-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(int16(n))
	case *array.Int32Builder:
		n, ok := intFits(v, -1<<31, 1<<31-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(int32(n))
	case *array.Int64Builder:
		n, ok := asInt64(v)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(n)
	case *array.Uint8Builder:
		n, ok := intFits(v, 0, 1<<8-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(uint8(n))
	case *array.Uint16Builder:
		n, ok := intFits(v, 0, 1<<16-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(uint16(n))
	case *array.Uint32Builder:
		n, ok := intFits(v, 0, 1<<32-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(uint32(n))
	case *array.Uint64Builder:
		if u, ok := v.(uint64); ok {
			b.Append(u)
			return nil
		}
		n, ok := intFits(v, 0, 1<<63-1)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(uint64(n))
	case *array.Float32Builder:
		x, ok := v.(float32)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(x)
	case *array.Float64Builder:
		switch x := v.(type) {
		case float64:
			b.Append(x)
		case float32:
			b.Append(float64(x))
		default:
			return mismatch(v, t)
		}
	case *array.BooleanBuilder:
		x, ok := v.(bool)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(x)
	case *array.StringBuilder:
		x, ok := v.(string)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(x)
	case *array.LargeStringBuilder:
		x, ok := v.(string)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(x)
	case *array.BinaryBuilder:
		switch x := v.(type) {
		case []byte:
			b.Append(x)
		case string:
			b.AppendString(x)
		default:
			return mismatch(v, t)
		}
	case *array.Decimal128Builder:
		d, ok := v.(Decimal)
		if !ok {
			return mismatch(v, t)
		}
		dt := t.(*arrow.Decimal128Type)
		if d.Scale != dt.Scale {
			return fmt.Errorf("decimal %s has scale %d, column %s wants %d", d, d.Scale, t, dt.Scale)
		}
		u := d.Unscaled
		if u == nil {
			u = new(big.Int)
		}
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dt.Precision)), nil)
		if new(big.Int).Abs(u).Cmp(limit) >= 0 {
			return fmt.Errorf("decimal %s does not fit %s", d, t)
		}
		b.Append(decimal128.FromBigInt(u))
	case *array.Date32Builder:
		x, ok := v.(Date)
		if !ok {
			return mismatch(v, t)
		}
		b.Append(arrow.Date32(x))
	case *array.Time32Builder:
		x, ok := v.(Time)
		if !ok {
			return mismatch(v, t)
		}
		switch t.(*arrow.Time32Type).Unit {
		case arrow.Second:
			b.Append(arrow.Time32(int64(x) / 1e6))
		default: // milliseconds
			b.Append(arrow.Time32(int64(x) / 1e3))
		}
	case *array.Time64Builder:
		x, ok := v.(Time)
		if !ok {
			return mismatch(v, t)
		}
		switch t.(*arrow.Time64Type).Unit {
		case arrow.Nanosecond:
			b.Append(arrow.Time64(int64(x) * 1e3))
		default: // microseconds
			b.Append(arrow.Time64(x))
		}
	case *array.TimestampBuilder:
		x, ok := v.(Timestamp)
		if !ok {
			return mismatch(v, t)
		}
		us := int64(x)
		switch t.(*arrow.TimestampType).Unit {
		case arrow.Second:
			b.Append(arrow.Timestamp(floorDiv(us, 1e6)))
		case arrow.Millisecond:
			b.Append(arrow.Timestamp(floorDiv(us, 1e3)))
		case arrow.Microsecond:
			b.Append(arrow.Timestamp(us))
		case arrow.Nanosecond:
			b.Append(arrow.Timestamp(us * 1e3))
		}
	default:
		return fmt.Errorf("unsupported arrow type %s", t)
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
