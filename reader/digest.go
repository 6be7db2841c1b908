package reader

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math/bits"
	"sync"
)

// A Digest identifies a file's content: a SHA-256-based hash (128 bits,
// hex) of the bytes the decoder read from it, and its size. It costs no
// extra read: DigestSource computes it from the reads the decoder makes
// anyway. Two byte-identical files get the same digest, because the
// decoder reads the same bytes from both (Parquet: the footer and every
// column chunk it names; CSV: the whole stream). Two files with different
// rows get different digests, because the rows are among the bytes read.
type Digest string

// valid reports whether d has the form digests are written in.
func (d Digest) valid() bool {
	b, err := hex.DecodeString(string(d))
	return err == nil && len(b) == 16 && string(d) == hex.EncodeToString(b)
}

// DigestSource wraps a Source so that every file opened through it gets a
// Digest when it is closed. Safe for concurrent use.
type DigestSource struct {
	Source
	mu      sync.Mutex
	digests map[string]Digest
}

// NewDigestSource wraps src.
func NewDigestSource(src Source) *DigestSource {
	return &DigestSource{Source: src, digests: map[string]Digest{}}
}

// Open implements Source.
func (d *DigestSource) Open(ctx context.Context, path string) (ReadAtCloser, int64, error) {
	r, size, err := d.Source.Open(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	return &digestReader{r: r, size: size, stream: sha256.New(), done: func(dg Digest) {
		d.mu.Lock()
		d.digests[path] = dg
		d.mu.Unlock()
	}}, size, nil
}

// Digest returns the digest of the file at path, once it was opened and
// closed through d.
func (d *DigestSource) Digest(path string) (Digest, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dg, ok := d.digests[path]
	return dg, ok
}

// digestReader hashes what is read through it. Sequential reads (Read)
// feed one running hash, so how the stream is cut into reads does not
// matter. Random reads (ReadAt) are hashed one by one with their offset and
// summed, so their order does not matter either (a Parquet decoder may read
// column chunks in any order); what they read is decided by the file's own
// metadata, so identical files give identical reads.
type digestReader struct {
	r      ReadAtCloser
	size   int64
	stream hash.Hash
	mu     sync.Mutex
	sumHi  uint64 // the sum of the ReadAt hashes, 128 bits
	sumLo  uint64
	done   func(Digest)
}

func (d *digestReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.r.ReadAt(p, off)
	if n > 0 {
		h := sha256.New()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], uint64(off))
		binary.LittleEndian.PutUint64(b[8:], uint64(n))
		h.Write(b[:])
		h.Write(p[:n])
		s := h.Sum(nil)
		var carry uint64
		d.mu.Lock()
		d.sumLo, carry = bits.Add64(d.sumLo, binary.LittleEndian.Uint64(s[:8]), 0)
		d.sumHi, _ = bits.Add64(d.sumHi, binary.LittleEndian.Uint64(s[8:16]), carry)
		d.mu.Unlock()
	}
	return n, err
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n > 0 {
		d.mu.Lock()
		d.stream.Write(p[:n])
		d.mu.Unlock()
	}
	return n, err
}

// Seek moves where the next Read starts; the bytes Read are hashed in the
// order they are read, so identical files read the same way hash the same.
func (d *digestReader) Seek(offset int64, whence int) (int64, error) {
	return d.r.Seek(offset, whence)
}

// Close records the digest and closes the file.
func (d *digestReader) Close() error {
	d.mu.Lock()
	h := sha256.New()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(d.size))
	binary.LittleEndian.PutUint64(b[8:16], d.sumLo)
	binary.LittleEndian.PutUint64(b[16:], d.sumHi)
	h.Write(b[:])
	h.Write(d.stream.Sum(nil))
	d.mu.Unlock()
	d.done(Digest(hex.EncodeToString(h.Sum(nil)[:16])))
	return d.r.Close()
}
