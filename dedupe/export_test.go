package dedupe

// SetHash replaces the key hash, so tests can force collisions.
func (s *KeySet) SetHash(h func([]byte) uint64) { s.hash = h }
