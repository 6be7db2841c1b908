package dedupe

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
)

// KeySet is a set of encoded keys, each with a dense index (0, 1, 2, ... in
// insertion order). It holds no Go pointers per key: the keys live in one
// byte arena and the index maps a 64-bit hash to the first key with that
// hash, so millions of keys cost the garbage collector nothing to scan.
// Keys whose hash collides with a different key go to a small overflow map.
//
// Keys of exactly 8 bytes (a single integer, date or timestamp key column)
// take a faster path: the key itself is the map key, so there is nothing to
// hash twice and no collision to check.
type KeySet struct {
	fixed    map[uint64]int32
	fixedKey []uint64
	hash     func([]byte) uint64
	byHash   map[uint64]int32
	overflow map[string]int32
	arena    []byte
	ends     []uint32 // key i is arena[ends[i-1]:ends[i]]
}

// NewFixedKeySet returns an empty set for keys of exactly 8 bytes.
func NewFixedKeySet(n int) *KeySet {
	return &KeySet{fixed: make(map[uint64]int32, n), fixedKey: make([]uint64, 0, n)}
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
		if i, ok := s.fixed[binary.BigEndian.Uint64(k)]; ok {
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
		if i, ok := s.fixed[v]; ok {
			return i, false
		}
		idx = int32(len(s.fixedKey))
		s.fixed[v] = idx
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
