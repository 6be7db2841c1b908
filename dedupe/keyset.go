package dedupe

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// KeySet is a set of encoded keys, each with a dense index (0, 1, 2, ... in
// insertion order). It holds no Go pointers per key: the keys live in one
// byte arena and the index maps a 64-bit hash to the first key with that
// hash, so millions of keys cost the garbage collector nothing to scan.
// Keys whose hash collides with a different key go to a small overflow map.
//
// Keys of exactly 8 bytes (a single integer, date or timestamp key column)
// take a faster path: the key itself is the key of a flat open-addressing
// table (u64Table), so there is nothing to hash twice and no collision to
// check.
//
// A set of 8-byte keys that were added in increasing order (the ids of a
// full load, read in key order) is kept as that sorted list alone, found
// by binary search, until a key arrives out of order: only then is the
// table built. Adding 5M keys in order costs an append and a comparison
// each instead of a probe of a 96 MB table.
type KeySet struct {
	fixed    *u64Table
	fixedKey []uint64
	// inOrder says fixedKey is increasing and fixed is still empty.
	inOrder  bool
	sizeFor  int // the table is sized for at least this many keys
	hash     func([]byte) uint64
	byHash   map[uint64]int32
	overflow map[string]int32
	arena    []byte
	ends     []uint32 // key i is arena[ends[i-1]:ends[i]]
	// sorted caches Sorted's result until the next Add.
	sorted *sortedKeys
}

type sortedKeys struct {
	keys []uint64
	idx  []int32
}

// NewFixedKeySet returns an empty set for keys of exactly 8 bytes.
func NewFixedKeySet(n int) *KeySet {
	return &KeySet{fixed: &u64Table{}, fixedKey: make([]uint64, 0, n), inOrder: true, sizeFor: n}
}

// indexFixed leaves the in-order mode: it builds the table from the keys
// added so far.
func (s *KeySet) indexFixed() {
	s.inOrder = false
	s.fixed.alloc(max(s.sizeFor, len(s.fixedKey)))
	for i, k := range s.fixedKey {
		s.fixed.put(k, int32(i))
	}
}

// NewKeySet returns an empty set sized for about n keys.
func NewKeySet(n int) *KeySet {
	seed := maphash.MakeSeed()
	return &KeySet{
		hash:   func(b []byte) uint64 { return maphash.Bytes(seed, b) },
		byHash: make(map[uint64]int32, n),
		ends:   make([]uint32, 0, n),
	}
}

// Len is the number of keys.
func (s *KeySet) Len() int {
	if s.fixed != nil {
		return len(s.fixedKey)
	}
	return len(s.ends)
}

// Key returns key i (valid until the next Add).
func (s *KeySet) Key(i int32) []byte {
	if s.fixed != nil {
		return binary.BigEndian.AppendUint64(nil, s.fixedKey[i])
	}
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.arena[start:s.ends[i]]
}

// Find returns the index of k, or -1.
func (s *KeySet) Find(k []byte) int32 {
	if s.fixed != nil {
		if len(k) != 8 {
			return -1
		}
		if s.inOrder {
			if i, ok := slices.BinarySearch(s.fixedKey, binary.BigEndian.Uint64(k)); ok {
				return int32(i)
			}
			return -1
		}
		if i, ok := s.fixed.get(binary.BigEndian.Uint64(k)); ok {
			return i
		}
		return -1
	}
	h := s.hash(k)
	i, ok := s.byHash[h]
	if !ok {
		return -1
	}
	if bytes.Equal(s.Key(i), k) {
		return i
	}
	if j, ok := s.overflow[string(k)]; ok {
		return j
	}
	return -1
}

// Add returns the index of k, adding it if absent; added says which.
func (s *KeySet) Add(k []byte) (idx int32, added bool) {
	if s.fixed != nil {
		v := binary.BigEndian.Uint64(k) // callers guarantee 8 bytes
		if s.inOrder {
			if n := len(s.fixedKey); n == 0 || v > s.fixedKey[n-1] {
				s.sorted = nil
				s.fixedKey = append(s.fixedKey, v)
				return int32(n), true
			}
			s.indexFixed()
		}
		if i, ok := s.fixed.get(v); ok {
			return i, false
		}
		idx = int32(len(s.fixedKey))
		s.sorted = nil
		s.fixed.put(v, idx)
		s.fixedKey = append(s.fixedKey, v)
		return idx, true
	}
	h := s.hash(k)
	i, ok := s.byHash[h]
	if ok {
		if bytes.Equal(s.Key(i), k) {
			return i, false
		}
		if j, ok := s.overflow[string(k)]; ok {
			return j, false
		}
	}
	idx = int32(len(s.ends))
	s.arena = append(s.arena, k...)
	s.ends = append(s.ends, uint32(len(s.arena)))
	if ok {
		if s.overflow == nil {
			s.overflow = map[string]int32{}
		}
		s.overflow[string(k)] = idx
	} else {
		s.byHash[h] = idx
	}
	return idx, true
}

// Sorted returns the keys of a set of 8-byte keys as big-endian uint64
// values (so they order like the encodings), increasing, each with its
// index; ok is false for a set of other keys. It is computed on first use
// by a radix sort and kept until the next Add. Callers must not modify the
// slices.
func (s *KeySet) Sorted() (keys []uint64, idx []int32, ok bool) {
	if s.fixed == nil {
		return nil, nil, false
	}
	if s.sorted == nil && s.inOrder {
		idx := make([]int32, len(s.fixedKey))
		for i := range idx {
			idx[i] = int32(i)
		}
		s.sorted = &sortedKeys{s.fixedKey, idx}
	}
	if s.sorted == nil {
		keys := slices.Clone(s.fixedKey)
		idx := make([]int32, len(keys))
		for i := range idx {
			idx[i] = int32(i)
		}
		radixSort(keys, idx)
		s.sorted = &sortedKeys{keys, idx}
	}
	return s.sorted.keys, s.sorted.idx, true
}

// SortKeys sorts keys increasing, moving idx along (stable: equal keys
// keep their order), by the radix sort Sorted uses.
func SortKeys(keys []uint64, idx []int32) { radixSort(keys, idx) }

// radixSort sorts keys increasing, moving idx along, by a least
// significant digit radix sort on 16-bit digits; a digit that is the same
// in every key (the high digits of ids) costs one counting pass and no
// move. About 10x faster than a comparison sort of 1M keys.
func radixSort(keys []uint64, idx []int32) {
	n := len(keys)
	if n < 2 {
		return
	}
	tk := make([]uint64, n)
	ti := make([]int32, n)
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, k := range keys {
			count[(k>>shift)&0xFFFF]++
		}
		if count[(keys[0]>>shift)&0xFFFF] == n {
			continue
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i, k := range keys {
			d := (k >> shift) & 0xFFFF
			tk[count[d]], ti[count[d]] = k, idx[i]
			count[d]++
		}
		copy(keys, tk)
		copy(idx, ti)
	}
}
