package dedupe_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cdcmerge/cdcmerge/dedupe"
)

func TestFixedKeySet(t *testing.T) {
	s := dedupe.NewFixedKeySet(0)
	for i := int64(-500); i < 500; i++ {
		if _, added := s.Add(dedupe.AppendInt(nil, i)); !added {
			t.Fatalf("%d not added", i)
		}
	}
	for i := int64(-500); i < 500; i++ {
		k := dedupe.AppendInt(nil, i)
		idx := s.Find(k)
		if idx != int32(i+500) || string(s.Key(idx)) != string(k) {
			t.Fatalf("find %d: %d", i, idx)
		}
		if _, added := s.Add(k); added {
			t.Fatalf("%d added twice", i)
		}
	}
	if s.Find(dedupe.AppendInt(nil, 1000)) != -1 || s.Len() != 1000 {
		t.Fatal("absent key found or wrong length")
	}
}

func TestKeySet(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprintf("collide=%v", collide), func(t *testing.T) {
			s := dedupe.NewKeySet(0)
			if collide {
				// Every key has the same hash: the overflow path must keep
				// them apart.
				s.SetHash(func([]byte) uint64 { return 42 })
			}
			for i := 0; i < 1000; i++ {
				k := []byte(fmt.Sprintf("key-%d", i))
				idx, added := s.Add(k)
				if !added || idx != int32(i) {
					t.Fatalf("add %s: %d %v", k, idx, added)
				}
			}
			for i := 0; i < 1000; i++ {
				k := []byte(fmt.Sprintf("key-%d", i))
				if idx, added := s.Add(k); added || idx != int32(i) {
					t.Fatalf("re-add %s: %d %v", k, idx, added)
				}
				if s.Find(k) != int32(i) || string(s.Key(int32(i))) != string(k) {
					t.Fatalf("find %s", k)
				}
			}
			if s.Find([]byte("absent")) != -1 || s.Len() != 1000 {
				t.Fatal("absent key found or wrong length")
			}
		})
	}
}

// TestFixedKeySetZeroAndGrowth covers the key whose 8 bytes are all zero
// (math.MinInt64, kept outside the table's slots) and growth far past the
// size hint.
func TestFixedKeySetZeroAndGrowth(t *testing.T) {
	s := dedupe.NewFixedKeySet(1)
	zero := make([]byte, 8)
	if s.Find(zero) != -1 {
		t.Fatal("zero key found in an empty set")
	}
	vals := []int64{math.MinInt64, 0, 1, math.MaxInt64}
	for i := int64(0); i < 100000; i++ {
		vals = append(vals, i*7919+2)
	}
	for i, v := range vals {
		idx, added := s.Add(dedupe.AppendInt(nil, v))
		if !added || idx != int32(i) {
			t.Fatalf("add %d: %d %v", v, idx, added)
		}
	}
	for i, v := range vals {
		if idx := s.Find(dedupe.AppendInt(nil, v)); idx != int32(i) {
			t.Fatalf("find %d: %d, want %d", v, idx, i)
		}
	}
	if string(s.Key(0)) != string(zero) || s.Find(dedupe.AppendInt(nil, 3)) != -1 || s.Len() != len(vals) {
		t.Fatal("zero key, absent key or length wrong")
	}
}

// BenchmarkFixedKeySetFind probes a 1M-key set with 5M keys of which a
// fifth are present: the merge-on-read plan of size L.
func BenchmarkFixedKeySetFind(b *testing.B) {
	s := dedupe.NewFixedKeySet(1 << 20)
	for i := int64(0); i < 1<<20; i++ {
		s.Add(dedupe.AppendInt(nil, i*5))
	}
	buf := make([]byte, 0, 8)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		hits := 0
		for i := int64(0); i < 5<<20; i++ {
			buf = dedupe.AppendInt(buf[:0], i)
			if s.Find(buf) >= 0 {
				hits++
			}
		}
		if hits != 1<<20 {
			b.Fatal(hits)
		}
	}
}

// TestFixedKeySetSorted checks Sorted against a comparison sort, with keys
// that differ in every 16-bit digit and keys that share their high digits,
// and that an Add after Sorted is seen by the next call.
func TestFixedKeySetSorted(t *testing.T) {
	s := dedupe.NewFixedKeySet(0)
	rng := rand.New(rand.NewPCG(1, 2))
	var want []int64
	for i := 0; i < 20000; i++ {
		v := rng.Int64()
		if i%2 == 0 {
			v = rng.Int64N(1000) - 500
		}
		if _, added := s.Add(dedupe.AppendInt(nil, v)); added {
			want = append(want, v)
		}
	}
	check := func() {
		t.Helper()
		keys, idx, ok := s.Sorted()
		if !ok || len(keys) != len(want) || len(idx) != len(want) {
			t.Fatalf("Sorted: ok=%v %d keys, want %d", ok, len(keys), len(want))
		}
		sorted := slices.Clone(want)
		slices.Sort(sorted)
		for i, v := range sorted {
			enc := dedupe.AppendInt(nil, v)
			if binary.BigEndian.Uint64(enc) != keys[i] || string(s.Key(idx[i])) != string(enc) {
				t.Fatalf("position %d: got key %x index %d, want %d", i, keys[i], idx[i], v)
			}
		}
	}
	check()
	s.Add(dedupe.AppendInt(nil, math.MinInt64))
	want = append(want, math.MinInt64)
	check()
	if _, _, ok := dedupe.NewKeySet(0).Sorted(); ok {
		t.Fatal("Sorted of a variable-width key set")
	}
}

// BenchmarkFixedKeySetAdd adds 5M ascending keys (a full load in key
// order) to a set sized for them.
func BenchmarkFixedKeySetAdd(b *testing.B) {
	buf := make([]byte, 0, 8)
	for n := 0; n < b.N; n++ {
		s := dedupe.NewFixedKeySet(5 << 20)
		for i := int64(0); i < 5<<20; i++ {
			buf = dedupe.AppendInt(buf[:0], i)
			s.Add(buf)
		}
	}
}

// TestFixedKeySetInOrder: keys added in increasing order, then again
// (duplicates), then out of order, then more in order, behave as a map
// would at every step: Add's index and added flag, Find, Key, Len and
// Sorted.
func TestFixedKeySetInOrder(t *testing.T) {
	s := dedupe.NewFixedKeySet(4)
	ref := map[int64]int32{}
	var order []int64
	add := func(v int64) {
		t.Helper()
		idx, added := s.Add(dedupe.AppendInt(nil, v))
		want, had := ref[v]
		if !had {
			want = int32(len(order))
			ref[v] = want
			order = append(order, v)
		}
		if idx != want || added == had {
			t.Fatalf("Add(%d) = %d, %v; want %d, %v", v, idx, added, want, !had)
		}
	}
	check := func() {
		t.Helper()
		if s.Len() != len(order) {
			t.Fatalf("Len %d, want %d", s.Len(), len(order))
		}
		for v, i := range ref {
			if got := s.Find(dedupe.AppendInt(nil, v)); got != i || string(s.Key(i)) != string(dedupe.AppendInt(nil, v)) {
				t.Fatalf("Find(%d) = %d, want %d", v, got, i)
			}
		}
		for _, v := range []int64{-1000, 7, 5000, math.MaxInt64} {
			if _, ok := ref[v]; !ok && s.Find(dedupe.AppendInt(nil, v)) != -1 {
				t.Fatalf("Find(%d) found an absent key", v)
			}
		}
		keys, idx, ok := s.Sorted()
		sorted := slices.Clone(order)
		slices.Sort(sorted)
		if !ok || len(keys) != len(sorted) {
			t.Fatalf("Sorted: %d keys, want %d", len(keys), len(sorted))
		}
		for i, v := range sorted {
			if keys[i] != binary.BigEndian.Uint64(dedupe.AppendInt(nil, v)) || idx[i] != ref[v] {
				t.Fatalf("Sorted position %d: key %x index %d, want %d index %d", i, keys[i], idx[i], v, ref[v])
			}
		}
	}
	for v := int64(-500); v < 1000; v += 3 {
		add(v)
	}
	check()
	add(997) // the last key again: not increasing, so the table is built
	check()
	add(-500) // a duplicate out of order
	add(2)    // a new key out of order
	check()
	for v := int64(2000); v < 3000; v++ {
		add(v)
		add(v - 1000)
	}
	check()
}
