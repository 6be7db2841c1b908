package reader

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// dictionaryFile writes a Parquet file of 3 row groups of 2000 rows: k, a
// string key of few values; status, few values with nulls; uniq, a
// distinct value per row (its dictionary overflows the 4 KiB page limit
// and the writer falls back to plain pages); blob, binary of few values;
// id, an integer.
func dictionaryFile(t *testing.T) ([]byte, arrow.RecordBatch) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "K", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "uniq", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 0; i < 6000; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("key-%d", i%7))
		if i%5 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append([]string{"new", "paid", "côté", ""}[i%4])
		}
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("distinct value number %d", i))
		b.Field(3).(*array.BinaryBuilder).Append([]byte{byte(i % 3), 0})
		b.Field(4).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(true), parquet.WithDictionaryPageSizeLimit(4<<10),
		parquet.WithMaxRowGroupLength(2000), parquet.WithDataPageSize(1<<10))
	if err := pqarrow.WriteTable(array.NewTableFromRecords(sc, []arrow.RecordBatch{rec}), &buf, 2000, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), rec
}

// TestReadDictionaries: with ReadOptions.Dictionaries, string and binary
// columns whose pages are all dictionary encoded come as dictionary arrays;
// the key named in Plain (in another case), the column whose dictionary
// overflowed, and integers come plain; every column holds the same values
// as a plain read, for the whole file and for some of its row groups.
func TestReadDictionaries(t *testing.T) {
	data, want := dictionaryFile(t)
	defer want.Release()
	src := memSource{data}
	f := File{Object: Object{Path: "s/t/LOAD00000001.parquet", Size: int64(len(data))}, Name: "LOAD00000001.parquet", Kind: Load}
	for _, rg := range []RowGroups{{}, {From: 1, To: 3}} {
		d, err := ReadParquet(context.Background(), src, f, ReadOptions{RowGroups: rg, Dictionaries: true, Plain: []string{"k"}}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := ReadRowGroups(context.Background(), src, f, rg, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		dict := map[string]bool{"K": false, "status": true, "uniq": false, "blob": true, "id": false}
		for i, fld := range d.Record.Schema().Fields() {
			if got := dictcol.Is(fld.Type); got != dict[fld.Name] || got != dictcol.Is(d.Record.Column(i).DataType()) {
				t.Errorf("row groups %v, column %s: type %s, want a dictionary: %v", rg, fld.Name, fld.Type, dict[fld.Name])
			}
			got := dictcol.Decode(d.Record.Column(i), memory.DefaultAllocator)
			if !array.Equal(got, plain.Record.Column(i)) {
				t.Errorf("row groups %v, column %s: values differ from a plain read", rg, fld.Name)
			}
			if fld.Name == "status" && got.(*array.String).Value(1) != "paid" {
				t.Errorf("status row 1 = %q", got.(*array.String).Value(1))
			}
			got.Release()
		}
		if d.Record.NumRows() != plain.Record.NumRows() || d.Record.NumRows() != int64(2000*(3-rg.From)) {
			t.Errorf("row groups %v: %d rows, plain read %d", rg, d.Record.NumRows(), plain.Record.NumRows())
		}
		d.Release()
		plain.Release()
	}
}

// TestCheckIndices: a dictionary index outside the dictionary (a corrupt
// file) is an error; nulls may hold any index.
func TestCheckIndices(t *testing.T) {
	mk := func(idx []int32, valid []bool) *array.Dictionary {
		vb := array.NewStringBuilder(memory.DefaultAllocator)
		vb.AppendValues([]string{"a", "b"}, nil)
		ib := array.NewInt32Builder(memory.DefaultAllocator)
		ib.AppendValues(idx, valid)
		v, i := vb.NewArray(), ib.NewArray()
		return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, i, v)
	}
	if err := checkIndices(mk([]int32{0, 1, 1}, nil)); err != nil {
		t.Fatal(err)
	}
	if err := checkIndices(mk([]int32{0, 9, 1}, []bool{true, false, true})); err != nil {
		t.Fatalf("a null's index was checked: %v", err)
	}
	for _, bad := range [][]int32{{0, 2}, {-1, 0}} {
		err := checkIndices(mk(bad, nil))
		if err == nil || !strings.Contains(err.Error(), "dictionary index") {
			t.Errorf("indices %v: %v", bad, err)
		}
	}
}
