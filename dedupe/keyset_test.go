package dedupe_test

import (
	"fmt"
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
