package dictcol

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func dictionary(values []string, idx []int32, valid []bool) *array.Dictionary {
	vb := array.NewStringBuilder(memory.DefaultAllocator)
	defer vb.Release()
	vb.AppendValues(values, nil)
	ib := array.NewInt32Builder(memory.DefaultAllocator)
	defer ib.Release()
	ib.AppendValues(idx, valid)
	v, i := vb.NewArray(), ib.NewArray()
	defer v.Release()
	defer i.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, i, v)
}

// TestDecode: a dictionary of strings decodes to a *array.String (what
// consumers switch on) with its values and nulls, slices included; other
// columns come back as they are.
func TestDecode(t *testing.T) {
	d := dictionary([]string{"x", "", "côté"}, []int32{2, 0, 7, 1, 0}, []bool{true, true, false, true, true})
	defer d.Release()
	for _, tc := range []struct {
		col  arrow.Array
		want []string // "<null>" for a null
	}{
		{d, []string{"côté", "x", "<null>", "", "x"}},
		{array.NewSlice(d, 1, 4), []string{"x", "<null>", ""}},
	} {
		got := Decode(tc.col, memory.DefaultAllocator)
		s, ok := got.(*array.String)
		if !ok {
			t.Fatalf("decoded to %T", got)
		}
		if s.Len() != len(tc.want) {
			t.Fatalf("%d rows, want %d", s.Len(), len(tc.want))
		}
		for i, w := range tc.want {
			v := s.Value(i)
			if s.IsNull(i) {
				v = "<null>"
			}
			if v != w {
				t.Errorf("row %d = %q, want %q", i, v, w)
			}
		}
		got.Release()
	}
	ints := array.NewInt64Builder(memory.DefaultAllocator)
	ints.Append(3)
	plain := ints.NewArray()
	if got := Decode(plain, memory.DefaultAllocator); got != plain {
		t.Fatal("a plain column was rebuilt")
	}
	if Is(plain.DataType()) || !Is(d.DataType()) || !arrow.TypeEqual(ValueType(d.DataType()), arrow.BinaryTypes.String) {
		t.Fatal("Is or ValueType wrong")
	}
}

// TestPlain: a record's dictionary columns are decoded under the schema
// given (or its own with value types), and a record without any is the
// same record.
func TestPlain(t *testing.T) {
	d := dictionary([]string{"a", "b"}, []int32{1, 0}, nil)
	defer d.Release()
	md := arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{"4"})
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: d.DataType(), Nullable: true, Metadata: md}}, nil), []arrow.Array{d}, 2)
	defer rec.Release()
	out, err := Plain(rec, nil, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	f := out.Schema().Field(0)
	if !arrow.TypeEqual(f.Type, arrow.BinaryTypes.String) || !f.Metadata.Equal(md) || out.Column(0).(*array.String).Value(0) != "b" {
		t.Fatalf("plain record: %v", out)
	}
	again, err := Plain(out, out.Schema(), memory.DefaultAllocator)
	if err != nil || again != out {
		t.Fatalf("a plain record was rebuilt: %v", err)
	}
	again.Release()
	wrong := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if _, err := Plain(rec, wrong, memory.DefaultAllocator); err == nil {
		t.Fatal("a schema of another type was accepted")
	}
}
