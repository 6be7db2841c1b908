package merge

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/reader"
)

// TestDictionaryProperties: a column of distinct values is written without
// a dictionary, a column of few values keeps it, booleans and small
// samples are left alone.
func TestDictionaryProperties(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "status", Type: arrow.BinaryTypes.String},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	build := func(n int) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, sc)
		defer b.Release()
		for i := 0; i < n; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append([]string{"new", "paid", "shipped"}[i%3])
			b.Field(2).(*array.BooleanBuilder).Append(i%2 == 0)
		}
		return b.NewRecordBatch()
	}
	big, small := build(5000), build(10)
	defer big.Release()
	defer small.Release()
	got := dictionaryProperties([]*reader.Decoded{{Record: small}, {Record: big}})
	want := map[string]string{dictionaryColumnProperty + "id": "false"}
	if len(got) != len(want) || got[dictionaryColumnProperty+"id"] != "false" {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := dictionaryProperties([]*reader.Decoded{{Record: small}}); len(got) != 0 {
		t.Fatalf("a 10-row sample chose %v", got)
	}
	// zstd level 1 unless the user chose another codec.
	if got := newTableProperties([]*reader.Decoded{{Record: big}}, nil); got[compressionLevelProperty] != "1" || got[dictionaryColumnProperty+"id"] != "false" {
		t.Fatalf("new table properties %v", got)
	}
	if got := newTableProperties(nil, map[string]string{compressionCodecProperty: "snappy"}); len(got) != 0 {
		t.Fatalf("with snappy: %v", got)
	}
}
