package merge

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestScanIntKeys compares scanIntKeys with a plain set lookup over a
// Parquet file whose key column has row groups that ascend (with repeated
// keys), descend, are shuffled and lie outside the batch's keys (pruned by
// statistics), across chunk boundaries, for int64 and int32, required and
// optional columns, sparse and dense batches, with deleted positions; and checks that a column
// holding a null is left to the pqarrow path (errNoIntScan, no hits).
func TestScanIntKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	var vals []int64
	for i := 0; i < 90000; i++ { // ascending, every third key twice
		vals = append(vals, int64(i)*2-90000)
		if i%3 == 0 {
			vals = append(vals, int64(i)*2-90000)
		}
	}
	desc := slices.Clone(vals[:30000])
	slices.Reverse(desc)
	shuf := slices.Clone(vals[:30000])
	rng.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
	outside := make([]int64, 25000) // exactly row group 7 (rows 150000-174999)
	for i := range outside {
		outside[i] = 500000 + int64(i)
	}
	vals = append(append(append(vals, desc...), outside...), shuf...)
	var gone []int64
	for p := int64(0); p < int64(len(vals)); p += 1 + rng.Int64N(40) {
		gone = append(gone, p)
	}
	// 5000 batch keys are sparse in the file's chunks (binary searches),
	// 80000 dense (a merge).
	for i, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32} {
		batch := map[int64]bool{}
		var bkeys []int64
		for len(bkeys) < []int{5000, 80000}[i/2] {
			v := rng.Int64N(200001) - 100000
			if !batch[v] {
				batch[v] = true
				bkeys = append(bkeys, v)
			}
		}
		res, want := intBatch(t, mem, typ, bkeys, vals, gone)
		probe := newKeyProbe(res)
		for _, nullable := range []bool{false, true} {
			path := filepath.Join(dir, typ.String()+map[bool]string{false: "-req", true: "-opt"}[nullable]+".parquet")
			writeKeyFile(t, mem, path, typ, nullable, vals, -1)
			var h keyHits
			var cur probeCursor
			var buf intScanBuf
			if err := scanIntKeys(iceio.LocalFS{}, path, 7, probe, gone, &cur, &buf, &h); err != nil {
				t.Fatalf("%s nullable=%v: %v", typ, nullable, err)
			}
			if len(want.pos) == 0 || !slices.Equal(h.pos, want.pos) || !slices.Equal(h.keys, want.keys) {
				t.Fatalf("%s nullable=%v: %d hits, want %d (positions equal: %v, keys equal: %v)", typ, nullable, len(h.pos), len(want.pos),
					slices.Equal(h.pos, want.pos), slices.Equal(h.keys, want.keys))
			}
		}
		path := filepath.Join(dir, typ.String()+"-null.parquet")
		writeKeyFile(t, mem, path, typ, true, vals, 40000)
		var h keyHits
		var cur probeCursor
		var buf intScanBuf
		if err := scanIntKeys(iceio.LocalFS{}, path, 7, probe, gone, &cur, &buf, &h); !errors.Is(err, errNoIntScan) || len(h.pos) > 0 {
			t.Fatalf("%s with a null key: err %v, %d hits; want errNoIntScan and none", typ, err, len(h.pos))
		}
		res.Release()
	}
}

// intBatch returns the dedupe result of a batch of updates to the keys
// bkeys (a column of type typ), and the hits a plan must find for it in a
// data file whose key column holds vals: the rows holding a batch key,
// without the positions in gone.
func intBatch(t *testing.T, mem memory.Allocator, typ arrow.DataType, bkeys, vals, gone []int64) (*dedupe.Result, keyHits) {
	t.Helper()
	brec := intRecord(mem, typ, bkeys)
	res, err := dedupe.Latest(context.Background(), []dedupe.Part{{Path: "b", Record: brec, Ops: slices.Repeat([]byte{reader.OpUpdate}, len(bkeys))}},
		dedupe.Options{Key: []string{"k"}}, mem)
	brec.Release()
	if err != nil {
		t.Fatal(err)
	}
	batch := make(map[int64]bool, len(bkeys))
	for _, v := range bkeys {
		batch[v] = true
	}
	var want keyHits
	for p, v := range vals {
		if _, del := slices.BinarySearch(gone, int64(p)); del || !batch[v] {
			continue
		}
		want.pos = append(want.pos, int64(p))
		want.keys = append(want.keys, res.Keys.Find(dedupe.AppendInt(nil, v)))
	}
	return res, want
}

// writeKeyFile writes vals as the key column (field id 7) of a Parquet
// file in row groups of 25000 rows, with a null at row null (if >= 0).
func writeKeyFile(t *testing.T, mem memory.Allocator, path string, typ arrow.DataType, nullable bool, vals []int64, null int) {
	t.Helper()
	rec := intRecord(mem, typ, vals)
	defer rec.Release()
	col := rec.Column(0)
	if null >= 0 {
		var b array.Builder
		if typ == arrow.PrimitiveTypes.Int32 {
			b = array.NewInt32Builder(mem)
		} else {
			b = array.NewInt64Builder(mem)
		}
		defer b.Release()
		for i, v := range vals {
			switch {
			case i == null:
				b.AppendNull()
			case typ == arrow.PrimitiveTypes.Int32:
				b.(*array.Int32Builder).Append(int32(v))
			default:
				b.(*array.Int64Builder).Append(v)
			}
		}
		col = b.NewArray()
		defer col.Release()
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: "k", Type: typ, Nullable: nullable,
		Metadata: arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{"7"})}}, nil)
	out := array.NewRecordBatch(sc, []arrow.Array{col}, int64(len(vals)))
	defer out.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(25000), parquet.WithAllocator(mem)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReferencedDataFile: a position delete file's one data file comes
// from referenced_data_file, else from equal file_path bounds; unequal or
// missing bounds name none (the file is then read with its file_path
// column).
func TestReferencedDataFile(t *testing.T) {
	build := func(ref string, lo, hi string) iceberg.DataFile {
		b, err := iceberg.NewDataFileBuilder(*iceberg.UnpartitionedSpec, iceberg.EntryContentPosDeletes, "d.parquet", iceberg.ParquetFile, nil, nil, nil, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ref != "" {
			b = b.ReferencedDataFile(ref)
		}
		if lo != "" {
			b = b.LowerBoundValues(map[int][]byte{posDeletePathID: []byte(lo)}).UpperBoundValues(map[int][]byte{posDeletePathID: []byte(hi)})
		}
		return b.Build()
	}
	for _, c := range []struct{ ref, lo, hi, want string }{
		{"s3://b/a.parquet", "", "", "s3://b/a.parquet"},
		{"", "s3://b/a.parquet", "s3://b/a.parquet", "s3://b/a.parquet"},
		{"", "s3://b/a.parquet", "s3://b/b.parquet", ""},
		{"", "", "", ""},
	} {
		if got := referencedDataFile(build(c.ref, c.lo, c.hi)); got != c.want {
			t.Errorf("ref %q bounds %q..%q: got %q, want %q", c.ref, c.lo, c.hi, got, c.want)
		}
	}
}
