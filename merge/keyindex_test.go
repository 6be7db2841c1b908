package merge

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
)

// testDataFile returns a DataFile for the Parquet file at path with
// rows rows, as a manifest would describe it.
func testDataFile(t *testing.T, path string, rows int) iceberg.DataFile {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := iceberg.NewDataFileBuilder(*iceberg.UnpartitionedSpec, iceberg.EntryContentData, path, iceberg.ParquetFile, nil, nil, nil, int64(rows), st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return b.Build()
}

// TestKeyIndex builds the index of data files whose keys ascend (with
// repeated keys, across blocks and chunks), are shuffled, ascend then
// turn (the builder switching kinds in mid-file), are negative and huge
// (deltas of 64 bits), for int64 and int32 columns, and checks that the
// plan's hits through the index equal those of the scan for sparse and
// dense batches with deleted positions; that the index is written on the
// first scan and read on the next; and the size of an ascending dense
// index.
func TestKeyIndex(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	asc := make([]int64, 0, 300000)
	for i := int64(0); len(asc) < 300000; i++ { // dense, runs of one key over block boundaries
		asc = append(asc, i*3-100000)
		if i%500 == 0 {
			for range 300 {
				asc = append(asc, i*3-100000)
			}
		}
	}
	shuf := slices.Clone(asc[:120000])
	rng.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
	turn := append(slices.Clone(asc[:70000]), asc[10000:50000]...)
	huge := []int64{-1 << 63, -5, 0, 7, 1<<63 - 1, 1<<63 - 1, 42}
	files := map[string][]int64{"asc": asc, "shuf": shuf, "turn": turn, "huge": huge, "one": {5}}
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32} {
		for name, vals := range files {
			if typ == arrow.PrimitiveTypes.Int32 && name == "huge" {
				continue
			}
			path := filepath.Join(dir, name+"-"+typ.String()+".parquet")
			writeKeyFile(t, mem, path, typ, false, vals, -1)
			df := testDataFile(t, path, len(vals))
			var gone []int64
			for p := int64(0); p < int64(len(vals)); p += 1 + rng.Int64N(30) {
				gone = append(gone, p)
			}
			for _, nkeys := range []int{3, 2000, 150000} {
				batch := map[int64]bool{}
				var bkeys []int64
				for _, v := range huge {
					batch[v] = true
					bkeys = append(bkeys, v)
				}
				for len(bkeys) < nkeys {
					v := rng.Int64N(1000000) - 110000
					if typ == arrow.PrimitiveTypes.Int32 {
						v = int64(int32(v))
					}
					if !batch[v] {
						batch[v] = true
						bkeys = append(bkeys, v)
					}
				}
				if typ == arrow.PrimitiveTypes.Int32 {
					bkeys = slices.DeleteFunc(bkeys, func(v int64) bool { return v != int64(int32(v)) })
				}
				res, want := intBatch(t, mem, arrow.PrimitiveTypes.Int64, bkeys, vals, gone)
				probe := newKeyProbe(res)
				idx := keyIndexPath(path, 7)
				os.Remove(idx)
				var cur probeCursor
				var buf intScanBuf
				var scanned keyHits
				if err := indexIntKeys(iceio.LocalFS{}, df, 7, probe, gone, &cur, &buf, &scanned); err != nil {
					t.Fatal(err)
				}
				x, err := readKeyIndex(iceio.LocalFS{}, df, 7)
				if err != nil {
					t.Fatalf("%s %s: the first scan wrote no usable index: %v", name, typ, err)
				}
				var got keyHits
				probe.matchIndex(x, gone, &got)
				for what, h := range map[string]keyHits{"scan": scanned, "index": got} {
					if !slices.Equal(h.pos, want.pos) || !slices.Equal(h.keys, want.keys) {
						t.Fatalf("%s %s, %d keys, %s: %d hits, want %d (positions equal: %v, keys equal: %v)", name, typ, nkeys, what,
							len(h.pos), len(want.pos), slices.Equal(h.pos, want.pos), slices.Equal(h.keys, want.keys))
					}
				}
				if nkeys > 100 && len(want.pos) == 0 && name != "one" {
					t.Fatalf("%s: a test with no hits", name)
				}
				wantKind := byte(keyIndexAscending)
				if name == "shuf" || name == "turn" || name == "huge" {
					wantKind = keyIndexPairs
				}
				if x.kind != wantKind {
					t.Fatalf("%s: index kind %d, want %d", name, x.kind, wantKind)
				}
				res.Release()
			}
			if name == "asc" {
				st, _ := os.Stat(keyIndexPath(path, 7))
				if perRow := float64(st.Size()) / float64(len(vals)); perRow > 0.3 {
					t.Fatalf("ascending dense index: %.2f bytes a row, want under 0.3", perRow)
				}
			}
		}
	}
}

// TestKeyIndexDamaged: an index that is cut, has any byte changed, or
// describes another file (path, size, row count) or column is refused (never a panic,
// never a lookup on it); so is one whose checksum was recomputed over a
// broken structure.
func TestKeyIndexDamaged(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 1000)
	for i := range vals {
		vals[i] = rng.Int64N(5000)
	}
	for _, sorted := range []bool{true, false} {
		if sorted {
			slices.Sort(vals)
		}
		var b keyIndexBuilder
		b.add(vals)
		of := keyIndexFor{path: "s3://b/t/data/a.parquet", fieldID: 7, rows: int64(len(vals)), size: 12345}
		data, ok := b.finish(of)
		if !ok {
			t.Fatal("no index built")
		}
		if _, err := parseKeyIndex(data, of); err != nil {
			t.Fatalf("a sound index refused: %v", err)
		}
		for _, c := range []keyIndexFor{{of.path, 8, 1000, 12345}, {of.path, 7, 999, 12345}, {of.path, 7, 1000, 12346}, {"s3://b/t/data/b.parquet", 7, 1000, 12345}} {
			if _, err := parseKeyIndex(data, c); err == nil {
				t.Fatalf("index of %+v accepted for %+v", of, c)
			}
		}
		for i := 0; i < len(data); i++ {
			bad := slices.Clone(data)
			bad[i] ^= 1 << rng.IntN(8)
			if _, err := parseKeyIndex(bad, of); err == nil {
				t.Fatalf("index with byte %d changed accepted", i)
			}
		}
		for n := 0; n < len(data); n += 1 + rng.IntN(50) {
			if _, err := parseKeyIndex(data[:n], of); err == nil {
				t.Fatalf("index cut to %d of %d bytes accepted", n, len(data))
			}
		}
		// Broken structure under a valid checksum: every directory offset
		// and width byte changed, the checksum recomputed.
		nb := int(binary.LittleEndian.Uint32(data[32:]))
		payload := keyIndexHeader + nb*keyIndexDirEntry
		for i := keyIndexHeader; i < len(data)-4; i++ {
			if i >= keyIndexHeader && i < payload && (i-keyIndexHeader)%keyIndexDirEntry < 8 {
				continue // first keys: any ascending value is a valid index
			}
			bad := slices.Clone(data)
			bad[i] += 1 + byte(rng.IntN(250))
			binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], crc32c))
			x, err := parseKeyIndex(bad, of)
			if err == nil { // packed deltas and positions: wrong answers, but in bounds
				x.lookup([]uint64{0, sortKey(3), sortKey(4999), ^uint64(0)}, func(int64, int) {})
			}
		}
	}
}

// TestKeyIndexPaths: an index path names its data file and field id, and
// nothing else parses as one.
func TestKeyIndexPaths(t *testing.T) {
	p := keyIndexPath("s3://b/wh/db/t/data/00000-0-x.parquet", 3)
	if p != "s3://b/wh/db/t/data/00000-0-x.parquet.k3.keyidx" || keyIndexDataFile(p) != "s3://b/wh/db/t/data/00000-0-x.parquet" {
		t.Fatalf("index path %q -> %q", p, keyIndexDataFile(p))
	}
	for _, s := range []string{"a.parquet", "a.parquet.k.keyidx", "a.parquet.kx.keyidx", ".k3.keyidx", p + ".tmp-1"} {
		if d := keyIndexDataFile(s); d != "" {
			t.Errorf("%q parsed as the index of %q", s, d)
		}
	}
}
