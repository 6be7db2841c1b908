package merge

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	stdfs "io/fs"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/cdcmerge/cdcmerge/dedupe"
)

// A key index is a side file next to a data file (its path plus
// ".k<field id>.keyidx") that lists the data file's keys in increasing
// order with their row positions, so that the merge-on-read plan finds
// the rows of a batch's keys without decompressing the file's key column:
// at 5M rows a 10k-key lookup decodes ~10k blocks of 128 keys instead of
// 5M keys. Only a single integer key column is indexed (the column
// scanIntColumn reads); other keys are always scanned. Only data files
// under the table's location get one, where CleanOrphans sees it.
//
// Data files never change, so an index's content is a function of its
// data file alone and can never be stale, only missing, unreadable or
// damaged: then the plan scans the key column as before and writes the
// index (lazily, on first scan; two runs writing the same index write the
// same bytes, each in one atomic step). An index is trusted only if its
// checksum holds and it names the data file's row count, size and the key
// field id; anything else is the same as no index.
//
// Layout (little-endian):
//
//	magic "CDCKEYX1" | kind u8 | 3 zero bytes | key field id u32 |
//	rows u64 | data file size u64 | blocks u32 | position width u8 |
//	3 zero bytes | largest key u64 | FNV-1a hash of the data file path u64 |
//	directory: per block its first key u64 and payload offset u32 |
//	payload: per block of keyIndexBlock entries (the last may be short):
//	  delta width u8, the n-1 deltas between consecutive keys bit-packed
//	  at that width (byte-aligned at the end), and for kind pairs the n
//	  positions bit-packed at the position width |
//	keyIndexPad zero bytes | CRC-32C of everything before, u32
//
// Keys are stored as sortKey gives them (an order-preserving uint64), so
// deltas are never negative. Kind ascending (the keys of the file ascend
// in row order: loads, sorted compactions) stores no positions: entry i is
// row i, about 30 bytes per 128 dense keys (~1 MB at 5M rows). Kind pairs
// (any other order: the upserts of a batch) stores the (key, position)
// pairs sorted by key, then position. Row count, size and path hash tie
// an index to its data file, so that an index copied or renamed to
// another file's name is refused.
const (
	keyIndexSuffix   = ".keyidx"
	keyIndexMagic    = "CDCKEYX1"
	keyIndexBlock    = 128
	keyIndexHeader   = 56
	keyIndexDirEntry = 12
	// keyIndexPad zero bytes after the payload let unpack load 8 bytes
	// from the byte of any packed value, and one more.
	keyIndexPad = 9

	keyIndexAscending = 1
	keyIndexPairs     = 2

	// maxUnsortedIndexRows bounds the data files whose keys do not ascend
	// that get an index: building it holds each key and position (12
	// bytes a row, twice while sorting). Ascending keys are encoded as
	// they are read and have no bound.
	maxUnsortedIndexRows = 1 << 23
)

// PropertyKeyIndex is the table property that turns key indexes off
// ("false"): the plan then neither reads nor writes them.
const PropertyKeyIndex = "cdcmerge.key-index"

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// keyIndexPath is the path of the index of data file data's key column
// of field id fieldID.
func keyIndexPath(data string, fieldID int) string {
	return data + ".k" + strconv.Itoa(fieldID) + keyIndexSuffix
}

// keyIndexDataFile is the data file whose index is at path, or "" when
// path is not a key index's.
func keyIndexDataFile(path string) string {
	s, ok := strings.CutSuffix(path, keyIndexSuffix)
	if !ok {
		return ""
	}
	i := strings.LastIndex(s, ".k")
	if i <= 0 {
		return ""
	}
	if _, err := strconv.ParseUint(s[i+2:], 10, 31); err != nil {
		return ""
	}
	return s[:i]
}

// keyIndexFor is what an index must describe: a data file (its path, row
// count and size) and the field id of its key column.
type keyIndexFor struct {
	path       string
	fieldID    int
	rows, size int64
}

func indexFor(df iceberg.DataFile, fieldID int) keyIndexFor {
	return keyIndexFor{path: df.FilePath(), fieldID: fieldID, rows: df.Count(), size: df.FileSizeBytes()}
}

// pathHash is the hash of a data file path an index holds.
func (f keyIndexFor) pathHash() uint64 {
	h := fnv.New64a()
	h.Write([]byte(f.path))
	return h.Sum64()
}

// keyIndex is a parsed, verified key index.
type keyIndex struct {
	kind     byte
	rows     int64
	posWidth uint
	maxKey   uint64
	first    []uint64 // first key of each block
	off      []uint32 // each block's offset in payload
	payload  []byte   // ends with keyIndexPad zero bytes
}

// readKeyIndex reads and verifies the index of data file df's key column
// fieldID. Any error means: no usable index (scan the file instead).
func readKeyIndex(fs iceio.IO, df iceberg.DataFile, fieldID int) (*keyIndex, error) {
	path := keyIndexPath(df.FilePath(), fieldID)
	var b []byte
	var err error
	if rf, ok := fs.(iceio.ReadFileIO); ok {
		b, err = rf.ReadFile(path)
	} else {
		var f iceio.File
		if f, err = fs.Open(path); err == nil {
			b, err = io.ReadAll(f)
			f.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	return parseKeyIndex(b, indexFor(df, fieldID))
}

// parseKeyIndex checks b (checksum, the data file it must describe, and
// that every block lies within the payload, so that decoding cannot go out
// of bounds) and returns the index it holds.
func parseKeyIndex(b []byte, of keyIndexFor) (*keyIndex, error) {
	rows := of.rows
	if len(b) < keyIndexHeader+keyIndexPad+4 {
		return nil, errors.New("key index too short")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crc32c) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("key index checksum mismatch")
	}
	if string(b[:8]) != keyIndexMagic {
		return nil, errors.New("not a key index")
	}
	x := &keyIndex{kind: b[8], rows: int64(binary.LittleEndian.Uint64(b[16:])), posWidth: uint(b[36]), maxKey: binary.LittleEndian.Uint64(b[40:])}
	switch {
	case x.kind != keyIndexAscending && x.kind != keyIndexPairs:
		return nil, fmt.Errorf("key index of unknown kind %d", x.kind)
	case int(binary.LittleEndian.Uint32(b[12:])) != of.fieldID:
		return nil, errors.New("key index of another column")
	case x.rows != rows || int64(binary.LittleEndian.Uint64(b[24:])) != of.size || binary.LittleEndian.Uint64(b[48:]) != of.pathHash():
		return nil, errors.New("key index of another file")
	case x.posWidth > 32:
		return nil, errors.New("key index position width out of range")
	}
	nb := int(binary.LittleEndian.Uint32(b[32:]))
	if int64(nb) != (rows+keyIndexBlock-1)/keyIndexBlock || keyIndexHeader+nb*keyIndexDirEntry > len(body)-keyIndexPad {
		return nil, errors.New("key index block count does not match")
	}
	dir := body[keyIndexHeader : keyIndexHeader+nb*keyIndexDirEntry]
	x.payload = body[keyIndexHeader+nb*keyIndexDirEntry:]
	x.first = make([]uint64, nb)
	x.off = make([]uint32, nb)
	end := len(x.payload) - keyIndexPad
	at := 0
	for i := range nb {
		x.first[i] = binary.LittleEndian.Uint64(dir[i*keyIndexDirEntry:])
		x.off[i] = binary.LittleEndian.Uint32(dir[i*keyIndexDirEntry+8:])
		if int(x.off[i]) != at || at >= end || (i > 0 && x.first[i] < x.first[i-1]) {
			return nil, errors.New("key index directory is inconsistent")
		}
		w := uint(x.payload[at])
		if w > 64 {
			return nil, errors.New("key index delta width out of range")
		}
		at += x.blockBytes(i, w)
	}
	if at != end || (nb > 0 && x.maxKey < x.first[nb-1]) {
		return nil, errors.New("key index payload does not match its directory")
	}
	return x, nil
}

// blockLen is the number of entries of block i.
func (x *keyIndex) blockLen(i int) int {
	return int(min(keyIndexBlock, x.rows-int64(i)*keyIndexBlock))
}

// blockBytes is the payload size of block i with delta width w.
func (x *keyIndex) blockBytes(i int, w uint) int {
	n := x.blockLen(i)
	size := 1 + packedBytes(n-1, w)
	if x.kind == keyIndexPairs {
		size += packedBytes(n, x.posWidth)
	}
	return size
}

func packedBytes(n int, w uint) int { return (n*int(w) + 7) / 8 }

// decode puts block i's keys and positions into keys and pos and returns
// how many there are.
func (x *keyIndex) decode(i int, keys []uint64, pos []int64) int {
	n := x.blockLen(i)
	at := int(x.off[i])
	w := uint(x.payload[at])
	keys[0] = x.first[i]
	unpack(x.payload[at+1:], w, keys[1:n])
	for j := 1; j < n; j++ {
		keys[j] += keys[j-1]
	}
	if x.kind == keyIndexAscending {
		for j := range n {
			pos[j] = int64(i)*keyIndexBlock + int64(j)
		}
		return n
	}
	var p [keyIndexBlock]uint64
	unpack(x.payload[at+1+packedBytes(n-1, w):], x.posWidth, p[:n])
	for j := range n {
		pos[j] = int64(p[j])
	}
	return n
}

// lookup calls fn(pos, j) for every entry whose key is ks[j], for ks
// increasing, in order of j (and of position for one key). Only the
// blocks that may hold a key of ks are decoded.
func (x *keyIndex) lookup(ks []uint64, fn func(pos int64, j int)) {
	if len(x.first) == 0 {
		return
	}
	var keys [keyIndexBlock]uint64
	var pos [keyIndexBlock]int64
	cached, n := -1, 0
	b := 0 // no block before b holds a key of ks not yet looked up
	for j, k := range ks {
		if k > x.maxKey {
			return
		}
		if k < x.first[0] {
			continue
		}
		if cached < 0 || k > keys[n-1] {
			// The last block starting below k: k's entries begin in it
			// or at the start of the next one.
			b += sort.Search(len(x.first)-b, func(i int) bool { return x.first[b+i] >= k })
			b = max(b-1, 0)
		} else {
			b = cached // k lies within the cached block, after its first key
		}
		for blk := b; blk < len(x.first) && x.first[blk] <= k; blk++ {
			if blk != cached {
				n, cached = x.decode(blk, keys[:], pos[:]), blk
			}
			i := sort.Search(n, func(i int) bool { return keys[i] >= k })
			for ; i < n && keys[i] == k; i++ {
				fn(pos[i], j)
			}
			if i < n {
				break // a greater key follows: no more entries of k
			}
		}
	}
}

// matchIndex adds to h the rows of the data file x indexes whose key is in
// the batch, in increasing position, skipping positions in gone (sorted,
// increasing): what scanIntKeys finds, without reading the data file.
func (p *keyProbe) matchIndex(x *keyIndex, gone []int64, h *keyHits) {
	if len(x.first) == 0 {
		return
	}
	ks := p.sorted
	from := sort.Search(len(ks), func(i int) bool { return ks[i] >= x.first[0] })
	to := from + sort.Search(len(ks)-from, func(i int) bool { return ks[from+i] > x.maxKey })
	type hit struct {
		pos int64
		key int32
	}
	var hits []hit
	x.lookup(ks[from:to], func(pos int64, j int) { hits = append(hits, hit{pos, p.idx[from+j]}) })
	if x.kind == keyIndexPairs {
		slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.pos, b.pos) })
	}
	for _, e := range hits {
		for len(gone) > 0 && gone[0] < e.pos {
			gone = gone[1:]
		}
		if len(gone) > 0 && gone[0] == e.pos {
			continue
		}
		h.pos = append(h.pos, e.pos)
		h.keys = append(h.keys, e.key)
	}
}

// keyIndexBuilder builds the index of a data file from its key column,
// given in row order: while the keys ascend, block by block as they come;
// once they do not, by collecting them all (up to maxUnsortedIndexRows)
// and sorting them with their positions at the end.
type keyIndexBuilder struct {
	n       int64
	failed  bool     // too many unordered keys: no index
	pending []uint64 // ascending keys not yet in a block
	last    uint64
	blocks  keyIndexBlocks
	all     []uint64 // every key in row order, once they stopped ascending
}

// keyIndexBlocks is the directory and payload being written.
type keyIndexBlocks struct {
	first   []uint64
	off     []uint32
	payload []byte
}

func (b *keyIndexBuilder) add(vals []int64) {
	if b.failed {
		return
	}
	for i, v := range vals {
		k := sortKey(v)
		if b.all == nil && (b.n == 0 || k >= b.last) {
			b.last = k
			b.pending = append(b.pending, k)
			if len(b.pending) == keyIndexBlock {
				b.blocks.add(b.pending, nil, 0)
				b.pending = b.pending[:0]
			}
			b.n++
			continue
		}
		if b.all == nil {
			b.unorder()
		}
		if b.n+int64(len(vals)-i) > maxUnsortedIndexRows {
			b.failed, b.all = true, nil
			return
		}
		for _, v := range vals[i:] {
			b.all = append(b.all, sortKey(v))
		}
		b.n += int64(len(vals) - i)
		return
	}
}

// unorder turns the ascending blocks built so far back into keys in row
// order, in b.all.
func (b *keyIndexBuilder) unorder() {
	b.all = make([]uint64, 0, b.n+keyIndexBlock)
	x := &keyIndex{kind: keyIndexAscending, rows: int64(len(b.blocks.first)) * keyIndexBlock, first: b.blocks.first, off: b.blocks.off,
		payload: append(b.blocks.payload, make([]byte, keyIndexPad)...)}
	var keys [keyIndexBlock]uint64
	var pos [keyIndexBlock]int64
	for i := range x.first {
		n := x.decode(i, keys[:], pos[:])
		b.all = append(b.all, keys[:n]...)
	}
	b.all = append(b.all, b.pending...)
	b.pending, b.blocks = nil, keyIndexBlocks{}
}

// add appends a block of keys (increasing) and, for kind pairs, their
// positions packed at width pw.
func (bl *keyIndexBlocks) add(keys []uint64, pos []int32, pw uint) {
	bl.first = append(bl.first, keys[0])
	bl.off = append(bl.off, uint32(min(len(bl.payload), math.MaxUint32)))
	var most uint64
	for i := 1; i < len(keys); i++ {
		most = max(most, keys[i]-keys[i-1])
	}
	w := uint(bits.Len64(most))
	bl.payload = append(bl.payload, byte(w))
	bw := bitWriter{buf: bl.payload}
	for i := 1; i < len(keys); i++ {
		bw.put(keys[i]-keys[i-1], w)
	}
	bw.flush()
	for _, p := range pos {
		bw.put(uint64(p), pw)
	}
	bw.flush()
	bl.payload = bw.buf
}

// finish returns the index of the data file whose keys were added, if it
// can have one: every key was added and the file is within the size
// limits.
func (b *keyIndexBuilder) finish(of keyIndexFor) ([]byte, bool) {
	rows := of.rows
	if b.failed || b.n != rows || rows >= math.MaxInt32 {
		return nil, false
	}
	kind := byte(keyIndexAscending)
	var pw uint
	var maxKey uint64
	if b.all == nil {
		if len(b.pending) > 0 {
			b.blocks.add(b.pending, nil, 0)
		}
		maxKey = b.last
	} else {
		kind, pw = keyIndexPairs, uint(bits.Len64(uint64(max(rows-1, 0))))
		idx := make([]int32, len(b.all))
		for i := range idx {
			idx[i] = int32(i)
		}
		dedupe.SortKeys(b.all, idx)
		for i := 0; i < len(b.all); i += keyIndexBlock {
			j := min(i+keyIndexBlock, len(b.all))
			b.blocks.add(b.all[i:j], idx[i:j], pw)
		}
		maxKey = b.all[len(b.all)-1]
	}
	if len(b.blocks.payload) >= math.MaxUint32 {
		return nil, false
	}
	nb := len(b.blocks.first)
	out := make([]byte, keyIndexHeader, keyIndexHeader+nb*keyIndexDirEntry+len(b.blocks.payload)+keyIndexPad+4)
	copy(out, keyIndexMagic)
	out[8] = kind
	binary.LittleEndian.PutUint32(out[12:], uint32(of.fieldID))
	binary.LittleEndian.PutUint64(out[16:], uint64(rows))
	binary.LittleEndian.PutUint64(out[24:], uint64(of.size))
	binary.LittleEndian.PutUint32(out[32:], uint32(nb))
	out[36] = byte(pw)
	binary.LittleEndian.PutUint64(out[40:], maxKey)
	binary.LittleEndian.PutUint64(out[48:], of.pathHash())
	for i := range nb {
		out = binary.LittleEndian.AppendUint64(out, b.blocks.first[i])
		out = binary.LittleEndian.AppendUint32(out, b.blocks.off[i])
	}
	out = append(out, b.blocks.payload...)
	out = append(out, make([]byte, keyIndexPad)...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32c)), true
}

// writeKeyIndex stores an index at path in one atomic step, so that a
// reader never sees part of one and two writers of the same index (equal
// bytes) cannot harm each other: on a local disk a temporary file renamed
// over path, on an object store one upload (a PUT is visible whole or not
// at all).
func writeKeyIndex(fs iceio.IO, path string, data []byte) error {
	wfs, ok := fs.(iceio.WriteFileIO)
	if !ok {
		return errors.New("the table's file IO cannot write")
	}
	if _, local := fs.(iceio.LocalFS); !local {
		return wfs.WriteFile(path, data)
	}
	tmp := path + ".tmp-" + uuid.NewString()
	if err := wfs.WriteFile(tmp, data); err != nil {
		return err
	}
	if err := fs.(iceio.LocalFS).Rename(tmp, path); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	return nil
}

// bitWriter appends values of a given bit width to buf, least significant
// bit first.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint // bits in acc, below 8 between calls
}

func (w *bitWriter) put(v uint64, width uint) {
	for width > 0 {
		take := min(width, 56)
		w.acc |= (v & (1<<take - 1)) << w.n
		w.n += take
		v >>= take
		width -= take
		for w.n >= 8 {
			w.buf = append(w.buf, byte(w.acc))
			w.acc >>= 8
			w.n -= 8
		}
	}
}

// flush ends the packed values at a byte boundary.
func (w *bitWriter) flush() {
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc, w.n = 0, 0
	}
}

// unpack reads len(out) values of width bits packed by bitWriter from
// src, which must hold keyIndexPad bytes past the last one.
func unpack(src []byte, width uint, out []uint64) {
	if width == 0 {
		clear(out)
		return
	}
	mask := ^uint64(0) >> (64 - width)
	var bit uint
	for j := range out {
		off, sh := bit>>3, bit&7
		v := binary.LittleEndian.Uint64(src[off:]) >> sh
		if sh+width > 64 {
			v |= uint64(src[off+8]) << (64 - sh)
		}
		out[j] = v & mask
		bit += width
	}
}

// useKeyIndex reports whether the plan of tbl reads and writes key
// indexes (table property cdcmerge.key-index, on unless "false").
func useKeyIndex(tbl *table.Table) bool {
	return tbl.Properties()[PropertyKeyIndex] != "false"
}

// indexIntKeys is scanIntKeys for a data file without a usable key index:
// it reads every row group (none is skipped by statistics, the index
// needs all keys), builds the index while matching and writes it. A
// failed write is of no consequence (the next plan scans again), so it is
// not reported.
func indexIntKeys(fs iceio.IO, df iceberg.DataFile, keyID int, p *keyProbe, gone []int64, cur *probeCursor, buf *intScanBuf, h *keyHits) error {
	var b keyIndexBuilder
	err := scanIntColumn(fs, df.FilePath(), keyID, buf, nil, func(vals []int64, pos0 int64) {
		b.add(vals)
		gone = p.matchInts(vals, pos0, gone, cur, h)
	})
	if err != nil {
		return err
	}
	if data, ok := b.finish(indexFor(df, keyID)); ok {
		_ = writeKeyIndex(fs, keyIndexPath(df.FilePath(), keyID), data)
	}
	return nil
}

// orphanKeyIndexes returns the orphans (files under a table's location no
// snapshot references) without the key indexes of live data files. An
// index is an orphan when its data file is one too, or is gone; a data
// file that exists and is not an orphan is referenced (an index is only
// written for a committed data file, after it, so when the index is old
// enough to be listed its data file is too). Where the file IO cannot
// tell whether a data file exists, its index is kept.
func orphanKeyIndexes(fs iceio.IO, orphans []string) []string {
	listed := make(map[string]bool, len(orphans))
	for _, o := range orphans {
		listed[o] = true
	}
	st, canStat := fs.(iceio.StatIO)
	out := make([]string, 0, len(orphans))
	for _, o := range orphans {
		data := keyIndexDataFile(o)
		if data == "" || listed[data] {
			out = append(out, o)
			continue
		}
		if !canStat {
			continue
		}
		if _, err := st.Stat(data); errors.Is(err, stdfs.ErrNotExist) {
			out = append(out, o)
		}
	}
	return out
}
