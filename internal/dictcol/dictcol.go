package dictcol

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Is reports whether dt is a dictionary of strings or binary values with
// int32 indices: the form this package handles.
func Is(dt arrow.DataType) bool {
	d, ok := dt.(*arrow.DictionaryType)
	if !ok || d.IndexType.ID() != arrow.INT32 {
		return false
	}
	switch d.ValueType.ID() {
	case arrow.STRING, arrow.BINARY:
		return true
	}
	return false
}

// ValueType is the type a column of type dt stands for: its value type for
// a dictionary Is accepts, dt itself otherwise.
func ValueType(dt arrow.DataType) arrow.DataType {
	if Is(dt) {
		return dt.(*arrow.DictionaryType).ValueType
	}
	return dt
}

// Decode returns col as a plain column of its value type: a new reference
// to col itself when it is not a dictionary Is accepts.
func Decode(col arrow.Array, mem memory.Allocator) arrow.Array {
	d, ok := col.(*array.Dictionary)
	if !ok || !Is(col.DataType()) {
		col.Retain()
		return col
	}
	values := d.Dictionary().(interface {
		arrow.Array
		ValueOffsets() []int32
		ValueBytes() []byte
	})
	offsets, data := values.ValueOffsets(), values.ValueBytes()
	base := offsets[0]
	indices := d.Indices().(*array.Int32).Int32Values()
	n := d.Len()
	size := 0
	nulls := d.NullN() > 0
	for i, j := range indices {
		if !nulls || d.IsValid(i) {
			size += int(offsets[j+1] - offsets[j])
		}
	}
	b := array.NewBinaryBuilder(mem, values.DataType().(arrow.BinaryDataType))
	defer b.Release()
	b.Reserve(n)
	b.ReserveData(size)
	for i, j := range indices {
		if nulls && d.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(data[offsets[j]-base : offsets[j+1]-base])
	}
	// A BinaryBuilder's NewArray is a *array.Binary even for strings;
	// consumers switch on *array.String.
	built := b.NewArray()
	defer built.Release()
	return array.MakeFromData(built.Data())
}

// Plain returns rec with every dictionary column decoded and the schema
// sc, which must name rec's columns in order with their value types (the
// table's schema, field IDs and all); a nil sc is rec's own schema with
// value types. It returns a new reference to rec when nothing needs
// decoding and the schemas are equal.
func Plain(rec arrow.RecordBatch, sc *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	if sc == nil {
		fields := make([]arrow.Field, rec.NumCols())
		for i, f := range rec.Schema().Fields() {
			f.Type = ValueType(f.Type)
			fields[i] = f
		}
		md := rec.Schema().Metadata()
		sc = arrow.NewSchema(fields, &md)
	}
	if int(rec.NumCols()) != sc.NumFields() {
		return nil, fmt.Errorf("record has %d columns, the schema %d", rec.NumCols(), sc.NumFields())
	}
	any := false
	for _, c := range rec.Columns() {
		if Is(c.DataType()) {
			any = true
			break
		}
	}
	if !any && rec.Schema().Equal(sc) {
		rec.Retain()
		return rec, nil
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		cols[i] = Decode(c, mem)
		if !arrow.TypeEqual(cols[i].DataType(), sc.Field(i).Type) {
			for _, c := range cols[:i+1] {
				c.Release()
			}
			return nil, fmt.Errorf("column %s is %s, the schema says %s", sc.Field(i).Name, rec.Column(i).DataType(), sc.Field(i).Type)
		}
	}
	out := array.NewRecordBatch(sc, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}
