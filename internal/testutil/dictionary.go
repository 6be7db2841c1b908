package testutil

import (
	"math/rand"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// AsDictionary returns a string or binary column as a dictionary array
// (int32 indices) of the same values and nulls, as the reader keeps DMS's
// dictionary-encoded columns: its dictionary lists the distinct values in
// an order drawn from r, plus two values no row uses (a whole file's
// dictionary seen through a slice of it). Other columns come back as they
// are (a new reference).
func AsDictionary(col arrow.Array, r *rand.Rand) arrow.Array {
	var value func(i int) string
	switch c := col.(type) {
	case *array.String:
		value = c.Value
	case *array.Binary:
		value = func(i int) string { return string(c.Value(i)) }
	default:
		col.Retain()
		return col
	}
	index := map[string]int32{}
	var distinct []string
	for i := 0; i < col.Len(); i++ {
		if _, seen := index[value(i)]; col.IsValid(i) && !seen {
			index[value(i)] = 0
			distinct = append(distinct, value(i))
		}
	}
	distinct = append(distinct, "unused-1", "unused-2")
	r.Shuffle(len(distinct), func(a, b int) { distinct[a], distinct[b] = distinct[b], distinct[a] })
	values := array.NewBinaryBuilder(memory.DefaultAllocator, col.DataType().(arrow.BinaryDataType))
	defer values.Release()
	for k, v := range distinct {
		index[v] = int32(k)
		values.Append([]byte(v))
	}
	idx := array.NewInt32Builder(memory.DefaultAllocator)
	defer idx.Release()
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			idx.AppendNull()
			continue
		}
		idx.Append(index[value(i)])
	}
	built, indices := values.NewArray(), idx.NewArray()
	defer built.Release()
	defer indices.Release()
	dict := array.MakeFromData(built.Data()) // a *array.String for strings
	defer dict.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: col.DataType()}, indices, dict)
}
