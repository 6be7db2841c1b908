package merge

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cdcmerge/cdcmerge/dedupe"
)

// keyHits are the rows of one data file that hold keys of the batch: their
// positions in the file and the keys' indexes in the batch.
type keyHits struct {
	pos  []int64
	keys []int32
	err  error
	// indexed: found through the file's key index (keyindex.go).
	indexed bool
}

// keyProbe looks up the keys of a data file's rows among the batch's keys.
// The merge-on-read plan reads every row of every candidate file, so this
// is its inner loop. For a key of one integer column it merges the rows
// with the batch's sorted keys when a record's keys ascend (files written
// from a full load are in key order: a lookup is then a step forward in an
// array the CPU prefetches, instead of a cache miss in a hash table) and
// falls back to the hash lookup for records that do not.
type keyProbe struct {
	res    *dedupe.Result
	sorted []uint64 // the batch's keys, increasing; nil: hash lookups only
	idx    []int32  // idx[i] is sorted[i]'s index in res.Keys
}

func newKeyProbe(res *dedupe.Result) *keyProbe {
	p := &keyProbe{res: res}
	p.sorted, p.idx, _ = res.Keys.Sorted()
	return p
}

// probeCursor is one reader's state: where the last merge stopped.
type probeCursor struct {
	at  int
	buf []byte
}

// match adds to h the rows of rec (record of the key columns, in key
// order, whose first row is at position pos0 of its file) whose key is in
// the batch, skipping the positions in gone (sorted, increasing). It
// returns gone without the positions before the end of rec.
func (p *keyProbe) match(rec arrow.RecordBatch, pos0 int64, gone []int64, cur *probeCursor, h *keyHits) ([]int64, error) {
	n := int(rec.NumRows())
	if vals, ok := p.ascending(rec); ok {
		for i, v := range vals {
			pos := pos0 + int64(i)
			for len(gone) > 0 && gone[0] < pos {
				gone = gone[1:]
			}
			if len(gone) > 0 && gone[0] == pos {
				continue
			}
			if k := p.step(cur, uint64(v)^(1<<63)); k >= 0 {
				h.keys = append(h.keys, k)
				h.pos = append(h.pos, pos)
			}
		}
		return gone, nil
	}
	enc, err := dedupe.NewKeyEncoder(rec, seq(int(rec.NumCols())))
	if err != nil {
		return gone, err
	}
	for i := 0; i < n; i++ {
		pos := pos0 + int64(i)
		for len(gone) > 0 && gone[0] < pos {
			gone = gone[1:]
		}
		if len(gone) > 0 && gone[0] == pos {
			continue
		}
		cur.buf, _ = enc.Append(cur.buf[:0], i)
		if k := p.res.Keys.Find(cur.buf); k >= 0 {
			h.keys = append(h.keys, k)
			h.pos = append(h.pos, pos)
		}
	}
	return gone, nil
}

// ascending returns rec's single key column as int64 values when the
// merge applies: one integer key column, no nulls, values not decreasing.
func (p *keyProbe) ascending(rec arrow.RecordBatch) ([]int64, bool) {
	if p.sorted == nil || rec.NumCols() != 1 || rec.Column(0).NullN() > 0 {
		return nil, false
	}
	var vals []int64
	switch c := rec.Column(0).(type) {
	case *array.Int64:
		vals = c.Int64Values()
	case *array.Int32:
		vals = make([]int64, c.Len())
		for i, v := range c.Int32Values() {
			vals[i] = int64(v)
		}
	default:
		return nil, false
	}
	for i := 1; i < len(vals); i++ {
		if vals[i] < vals[i-1] {
			return nil, false
		}
	}
	return vals, true
}

// step finds key k (its encoding as a big-endian uint64) among the sorted
// keys from the cursor on: galloping forward when k is not smaller than
// the key before the cursor, else a binary search below it. It returns the
// key's index in the batch or -1.
func (p *keyProbe) step(cur *probeCursor, k uint64) int32 {
	ks := p.sorted
	c := min(cur.at, len(ks))
	if c > 0 && ks[c-1] >= k {
		c = sort.Search(c, func(i int) bool { return ks[i] >= k })
	} else {
		lo, hi, stride := c, c, 1
		for hi < len(ks) && ks[hi] < k {
			lo = hi + 1
			hi += stride
			stride <<= 1
		}
		hi = min(hi, len(ks))
		c = lo + sort.Search(hi-lo, func(i int) bool { return ks[lo+i] >= k })
	}
	cur.at = c
	if c < len(ks) && ks[c] == k {
		return p.idx[c]
	}
	return -1
}
