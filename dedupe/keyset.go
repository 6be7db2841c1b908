package dedupe

import (
	"bytes"
	"hash/maphash"
)

// KeySet is a set of encoded keys, each with a dense index (0, 1, 2, ... in
// insertion order). It holds no Go pointers per key: the keys live in one
// byte arena and the index maps a 64-bit hash to the first key with that
// hash, so millions of keys cost the garbage collector nothing to scan.
// Keys whose hash collides with a different key go to a small overflow map.
type KeySet struct {
	hash     func([]byte) uint64
	byHash   map[uint64]int32
	overflow map[string]int32
	arena    []byte
	ends     []uint32 // key i is arena[ends[i-1]:ends[i]]
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
func (s *KeySet) Len() int { return len(s.ends) }

// Key returns key i (valid until the next Add).
func (s *KeySet) Key(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.arena[start:s.ends[i]]
}

// Find returns the index of k, or -1.
func (s *KeySet) Find(k []byte) int32 {
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
