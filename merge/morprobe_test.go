package merge

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestKeyProbe compares keyProbe.match with a plain set lookup over
// records whose keys ascend (the merge path), descend and are shuffled
// (the hash path), for int64 and int32 keys, with deleted positions.
func TestKeyProbe(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32} {
		// The batch: 3000 distinct keys among -5000..5000.
		batch := map[int64]bool{}
		var bkeys []int64
		for len(bkeys) < 3000 {
			v := rng.Int64N(10001) - 5000
			if !batch[v] {
				batch[v] = true
				bkeys = append(bkeys, v)
			}
		}
		rec := intRecord(mem, typ, bkeys)
		res, err := dedupe.Latest(context.Background(), []dedupe.Part{{Path: "b", Record: rec, Ops: slices.Repeat([]byte{reader.OpUpdate}, len(bkeys))}},
			dedupe.Options{Key: []string{"k"}}, mem)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		probe := newKeyProbe(res)
		if probe.sorted == nil {
			t.Fatal("no sorted keys for an integer key")
		}
		// The data file: three records, ascending, descending, shuffled.
		var file [][]int64
		asc := make([]int64, 4000)
		for i := range asc {
			asc[i] = int64(i)*3 - 6000
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		shuf := slices.Clone(asc)
		rng.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
		file = append(file, asc, desc, shuf, asc)
		var gone []int64
		for p := int64(0); p < 16000; p += 1 + rng.Int64N(20) {
			gone = append(gone, p)
		}
		var h keyHits
		var cur probeCursor
		var want keyHits
		pos, rest := int64(0), gone
		for _, vals := range file {
			r := intRecord(mem, typ, vals)
			rest, err = probe.match(r, pos, rest, &cur, &h)
			r.Release()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				p := pos + int64(i)
				if _, del := slices.BinarySearch(gone, p); del || !batch[v] {
					continue
				}
				want.pos = append(want.pos, p)
				want.keys = append(want.keys, res.Keys.Find(dedupe.AppendInt(nil, v)))
			}
			pos += int64(len(vals))
		}
		res.Release()
		if len(want.pos) == 0 || !slices.Equal(h.pos, want.pos) || !slices.Equal(h.keys, want.keys) {
			t.Fatalf("%s: %d hits, want %d (positions equal: %v, keys equal: %v)", typ, len(h.pos), len(want.pos),
				slices.Equal(h.pos, want.pos), slices.Equal(h.keys, want.keys))
		}
	}
}

func intRecord(mem memory.Allocator, typ arrow.DataType, vals []int64) arrow.RecordBatch {
	var col arrow.Array
	if typ == arrow.PrimitiveTypes.Int32 {
		b := array.NewInt32Builder(mem)
		for _, v := range vals {
			b.Append(int32(v))
		}
		col = b.NewArray()
		b.Release()
	} else {
		b := array.NewInt64Builder(mem)
		b.AppendValues(vals, nil)
		col = b.NewArray()
		b.Release()
	}
	defer col.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "k", Type: typ}}, nil), []arrow.Array{col}, int64(len(vals)))
}
