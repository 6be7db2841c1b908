package reader

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// Uint64Type is the Iceberg-compatible type unsigned 64-bit integers widen
// to: Iceberg has no unsigned types, and decimal(20,0) holds every value.
var Uint64Type = &arrow.Decimal128Type{Precision: 20, Scale: 0}

// NormalType returns the Iceberg-compatible Arrow type a decoded column of
// type dt is converted to. int96 marks a column stored as Parquet INT96.
func NormalType(dt arrow.DataType, int96 bool) (arrow.DataType, error) {
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Uint8Type, *arrow.Uint16Type:
		return arrow.PrimitiveTypes.Int32, nil
	case *arrow.Uint32Type:
		return arrow.PrimitiveTypes.Int64, nil
	case *arrow.Uint64Type:
		return Uint64Type, nil
	case *arrow.Float16Type:
		return arrow.PrimitiveTypes.Float32, nil
	case *arrow.Date64Type:
		return arrow.FixedWidthTypes.Date32, nil
	case *arrow.Time32Type:
		return arrow.FixedWidthTypes.Time64us, nil
	case *arrow.Time64Type:
		return arrow.FixedWidthTypes.Time64us, nil
	case *arrow.TimestampType:
		tz := ""
		if t.TimeZone != "" && !int96 {
			// Iceberg keeps instants in UTC; the zone name itself is not data.
			tz = "UTC"
		}
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: tz}, nil
	case *arrow.LargeStringType:
		return arrow.BinaryTypes.String, nil
	case *arrow.LargeBinaryType:
		return arrow.BinaryTypes.Binary, nil
	case *arrow.DictionaryType:
		return NormalType(t.ValueType, int96)
	case *arrow.Decimal256Type:
		return nil, fmt.Errorf("%w: decimal(%d,%d) is wider than the 38 digits Iceberg allows", errUnsupported, t.Precision, t.Scale)
	case *arrow.Decimal32Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}, nil
	case *arrow.Decimal64Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}, nil
	case *arrow.NullType:
		// A column that is null in every row of a file whose writer kept no
		// type: string is the least surprising holder.
		return arrow.BinaryTypes.String, nil
	case *arrow.Int32Type, *arrow.Int64Type, *arrow.Float32Type, *arrow.Float64Type,
		*arrow.BooleanType, *arrow.StringType, *arrow.BinaryType, *arrow.Date32Type,
		*arrow.Decimal128Type, *arrow.FixedSizeBinaryType:
		return dt, nil
	case *arrow.StructType, *arrow.ListType, *arrow.MapType:
		return dt, nil
	}
	return nil, fmt.Errorf("%w: %s", errUnsupported, dt)
}

// Normalize converts a decoded column to its NormalType.
func Normalize(col arrow.Array, int96 bool, mem memory.Allocator) (arrow.Array, error) {
	to, err := NormalType(col.DataType(), int96)
	if err != nil {
		return nil, err
	}
	return Convert(col, to, mem)
}

// Convert converts col to type to, for the lossless conversions the engine
// makes: integer widening, unsigned to signed or decimal, float widening,
// time and timestamp unit changes, decimal precision widening, large to
// regular strings, dictionary decoding, and a null column to anything.
func Convert(col arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	from := col.DataType()
	if arrow.TypeEqual(from, to) {
		col.Retain()
		return col, nil
	}
	n := col.Len()
	if from.ID() == arrow.NULL {
		return array.MakeArrayOfNull(mem, to, n), nil
	}
	if d, ok := col.(*array.Dictionary); ok {
		dense, err := decodeDictionary(d, mem)
		if err != nil {
			return nil, err
		}
		defer dense.Release()
		return Convert(dense, to, mem)
	}
	b := array.NewBuilder(mem, to)
	defer b.Release()
	b.Reserve(n)
	switch tb := b.(type) {
	case *array.Int32Builder:
		if get, ok := intGetter(col); ok {
			return convertEach(tb, col, func(i int) int32 { return int32(get(i)) }), nil
		}
	case *array.Int64Builder:
		if get, ok := intGetter(col); ok {
			return convertEach(tb, col, get), nil
		}
	case *array.Float32Builder:
		if c, ok := col.(*array.Float16); ok {
			return convertEach(tb, col, func(i int) float32 { return c.Value(i).Float32() }), nil
		}
	case *array.Float64Builder:
		if c, ok := col.(*array.Float32); ok {
			return convertEach(tb, col, func(i int) float64 { return float64(c.Value(i)) }), nil
		}
	case *array.Decimal128Builder:
		tt := to.(*arrow.Decimal128Type)
		switch c := col.(type) {
		case *array.Uint64:
			return convertEach(tb, col, func(i int) decimal128.Num { return decimal128.FromU64(c.Value(i)) }), nil
		case *array.Decimal128:
			ft := from.(*arrow.Decimal128Type)
			if ft.Scale > tt.Scale || tt.Precision-tt.Scale < ft.Precision-ft.Scale {
				break
			}
			return convertEach(tb, col, func(i int) decimal128.Num { return c.Value(i).IncreaseScaleBy(tt.Scale - ft.Scale) }), nil
		case *array.Decimal32:
			ft := from.(*arrow.Decimal32Type)
			return convertEach(tb, col, func(i int) decimal128.Num {
				return decimal128.FromI64(int64(c.Value(i))).IncreaseScaleBy(tt.Scale - ft.Scale)
			}), nil
		case *array.Decimal64:
			ft := from.(*arrow.Decimal64Type)
			return convertEach(tb, col, func(i int) decimal128.Num {
				return decimal128.FromI64(int64(c.Value(i))).IncreaseScaleBy(tt.Scale - ft.Scale)
			}), nil
		}
	case *array.Date32Builder:
		if c, ok := col.(*array.Date64); ok {
			return convertEach(tb, col, func(i int) arrow.Date32 { return arrow.Date32(int64(c.Value(i)) / 86400000) }), nil
		}
	case *array.Time64Builder:
		switch c := col.(type) {
		case *array.Time32:
			mul := int64(1000)
			if from.(*arrow.Time32Type).Unit == arrow.Second {
				mul = 1000000
			}
			return convertEach(tb, col, func(i int) arrow.Time64 { return arrow.Time64(int64(c.Value(i)) * mul) }), nil
		case *array.Time64:
			if from.(*arrow.Time64Type).Unit == arrow.Nanosecond {
				return convertEach(tb, col, func(i int) arrow.Time64 { return arrow.Time64(int64(c.Value(i)) / 1000) }), nil
			}
		}
	case *array.TimestampBuilder:
		if c, ok := col.(*array.Timestamp); ok {
			conv := unitConverter(from.(*arrow.TimestampType).Unit, to.(*arrow.TimestampType).Unit)
			return convertEach(tb, col, func(i int) arrow.Timestamp { return arrow.Timestamp(conv(int64(c.Value(i)))) }), nil
		}
	case *array.StringBuilder:
		if c, ok := col.(*array.LargeString); ok {
			return convertEach(tb, col, c.Value), nil
		}
	case *array.BinaryBuilder:
		if c, ok := col.(*array.LargeBinary); ok {
			return convertEach(tb, col, c.Value), nil
		}
	}
	return nil, fmt.Errorf("%w: cannot convert %s to %s", errUnsupported, from, to)
}

// appender is the part of an arrow builder of T values that Convert uses.
type appender[T any] interface {
	Append(T)
	AppendNull()
	NewArray() arrow.Array
}

// convertEach builds the converted column: value(i) for each row of col
// that is not null, null for each one that is.
func convertEach[T any](b appender[T], col arrow.Array, value func(i int) T) arrow.Array {
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(value(i))
		}
	}
	return b.NewArray()
}

func unitConverter(from, to arrow.TimeUnit) func(int64) int64 {
	mul := map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}
	f, t := mul[from], mul[to]
	switch {
	case f == t:
		return func(v int64) int64 { return v }
	case f < t:
		k := t / f
		return func(v int64) int64 { return v * k }
	default:
		k := f / t
		return func(v int64) int64 { return floorDiv(v, k) }
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// intGetter reads any integer array as int64; uint64 only when it fits.
func intGetter(col arrow.Array) (func(int) int64, bool) {
	switch c := col.(type) {
	case *array.Int8:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	case *array.Int16:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	case *array.Int32:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	case *array.Int64:
		return func(i int) int64 { return c.Value(i) }, true
	case *array.Uint8:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	case *array.Uint16:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	case *array.Uint32:
		return func(i int) int64 { return int64(c.Value(i)) }, true
	}
	return nil, false
}

func decodeDictionary(d *array.Dictionary, mem memory.Allocator) (arrow.Array, error) {
	if dictcol.Is(d.DataType()) {
		return dictcol.Decode(d, mem), nil // strings and binary, without a string per row
	}
	dict := d.Dictionary()
	b := array.NewBuilder(mem, dict.DataType())
	defer b.Release()
	for i := 0; i < d.Len(); i++ {
		if d.IsNull(i) {
			b.AppendNull()
			continue
		}
		if err := b.AppendValueFromString(dict.ValueStr(d.GetValueIndex(i))); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// Conform returns rec reshaped to target: columns matched by name
// (case-insensitively), converted to the target types, missing ones null,
// in target order. A dictionary column of the target's string or binary
// type is kept as it is (internal/dictcol), the record's field then having
// its dictionary type. Columns of rec that target lacks are an error: the
// table's schema must have been evolved first.
func Conform(rec arrow.RecordBatch, target *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	byName := map[string]int{}
	for i, f := range rec.Schema().Fields() {
		byName[lowerASCII(f.Name)] = i
	}
	used := 0
	cols := make([]arrow.Array, 0, target.NumFields())
	var fields []arrow.Field // target's, with dictionary types where kept
	release := func() {
		for _, c := range cols {
			c.Release()
		}
	}
	for _, f := range target.Fields() {
		i, ok := byName[lowerASCII(f.Name)]
		if !ok {
			cols = append(cols, array.MakeArrayOfNull(mem, f.Type, int(rec.NumRows())))
			continue
		}
		used++
		col := rec.Column(i)
		if dictcol.Is(col.DataType()) && arrow.TypeEqual(dictcol.ValueType(col.DataType()), f.Type) {
			// A string column read as a dictionary stays one (see
			// ReadOptions.Dictionaries); its field says so.
			col.Retain()
			cols = append(cols, col)
			if fields == nil {
				fields = append([]arrow.Field(nil), target.Fields()...)
			}
			fields[len(cols)-1].Type = col.DataType()
			continue
		}
		c, err := Convert(col, f.Type, mem)
		if err != nil {
			release()
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols = append(cols, c)
	}
	if used != int(rec.NumCols()) {
		release()
		return nil, fmt.Errorf("record has columns the table lacks")
	}
	sc := target
	if fields != nil {
		md := target.Metadata()
		sc = arrow.NewSchema(fields, &md)
	}
	out := array.NewRecordBatch(sc, cols, rec.NumRows())
	release()
	return out, nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// ColumnIndex finds a column by name, case-insensitively (DMS keeps the
// source's case in column names; lookups here ignore it), or returns -1.
func ColumnIndex(sc *arrow.Schema, name string) int {
	for i, f := range sc.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}
