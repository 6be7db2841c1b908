package merge

import (
	"errors"
	"sort"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
	iceio "github.com/apache/iceberg-go/io"
)

// errNoIntScan: the file's column is not one scanIntColumn reads (not a
// flat INT32/INT64 column, or it may hold nulls); the caller reads the
// file through pqarrow instead.
var errNoIntScan = errors.New("key column not scannable as plain integers")

// intScanChunk is how many key values the integer key scan decodes at a
// time: 512 KiB of int64, reused for the whole file.
const intScanChunk = 1 << 16

// intScanBuf is one reader's buffers for scanIntKeys, reused across files.
type intScanBuf struct {
	vals  []int64
	vals4 []int32
	defs  []int16
}

// scanIntKeys finds the rows of the data file at path whose single integer
// key column (field id keyID) holds keys of the batch, skipping the
// positions in gone, and adds them to h. It is the merge-on-read plan's
// inner loop for the common DMS key (one integer column), and reads the
// column with scanIntColumn: values are decoded straight into a reused
// buffer (no Arrow arrays, no allocation per record), a row group whose
// min/max statistics hold none of the batch's keys is skipped without being
// read (monotonic keys, such as the ids of new rows, make the bounds
// tight), and where the values of a chunk ascend (files written from a load
// or a compaction) the batch's sorted keys are binary searched in the chunk
// rather than each row looked up among the keys: with 10k keys in a
// 5M-row table that is a few hundred searches per chunk instead of 65536
// probes, so what is left per row is decompressing the column. It returns
// errNoIntScan, before adding anything to h, when the column does not
// qualify.
func scanIntKeys(fs iceio.IO, path string, keyID int, p *keyProbe, gone []int64, cur *probeCursor, buf *intScanBuf, h *keyHits) error {
	return scanIntColumn(fs, path, keyID, buf, p.mayHoldRange, func(vals []int64, pos0 int64) {
		gone = p.matchInts(vals, pos0, gone, cur, h)
	})
}

// scanIntColumn calls fn with the values of the flat INT32/INT64 column of
// field id id of the Parquet file at path, a chunk at a time, with the
// position of the chunk's first row, skipping the row groups whose min/max
// statistics want (if not nil) rejects. It returns errNoIntScan, before
// calling fn, when the column is not such a column or may hold nulls.
func scanIntColumn(fs iceio.IO, path string, id int, buf *intScanBuf, want func(metadata.TypedStatistics) bool, fn func(vals []int64, pos0 int64)) error {
	return withParquetFile(fs, path, func(pr *file.Reader) error { return scanIntColumnOf(pr, id, buf, want, fn) })
}

func scanIntColumnOf(pr *file.Reader, id int, buf *intScanBuf, want func(metadata.TypedStatistics) bool, fn func(vals []int64, pos0 int64)) error {
	sc := pr.MetaData().Schema
	col := -1
	for i := 0; i < sc.NumColumns(); i++ {
		c := sc.Column(i)
		if c.SchemaNode().FieldID() == int32(id) && c.MaxRepetitionLevel() == 0 {
			col = i
		}
	}
	if col < 0 {
		return errNoIntScan
	}
	typ := sc.Column(col).PhysicalType()
	if typ != parquet.Types.Int64 && typ != parquet.Types.Int32 {
		return errNoIntScan
	}
	// Integers, dates, times and timestamps are keyed by their raw value
	// (dedupe's fixed-width keys); a decimal stored as an integer is not.
	if _, dec := sc.Column(col).LogicalType().(*schema.DecimalLogicalType); dec {
		return errNoIntScan
	}
	optional := sc.Column(col).MaxDefinitionLevel() > 0
	// A null would shift positions against values: a column whose
	// statistics do not rule nulls out is left to the pqarrow path.
	for rg := 0; rg < pr.NumRowGroups() && optional; rg++ {
		if st := rowGroupStats(pr, rg, col); st == nil || !st.HasNullCount() || st.NullCount() > 0 {
			return errNoIntScan
		}
	}
	if buf.vals == nil {
		buf.vals = make([]int64, intScanChunk)
		buf.vals4 = make([]int32, intScanChunk)
		buf.defs = make([]int16, intScanChunk)
	}
	var pos0 int64 // position of the row group's first row in the file
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		rgr := pr.RowGroup(rg)
		n := rgr.NumRows()
		if st := rowGroupStats(pr, rg, col); want != nil && st != nil && !want(st) {
			pos0 += n
			continue
		}
		cr, err := rgr.Column(col)
		if err != nil {
			return err
		}
		var defs []int16
		if optional {
			defs = buf.defs
		}
		for read := int64(0); read < n; {
			size := min(n-read, intScanChunk)
			var total int64
			var got int
			switch r := cr.(type) {
			case *file.Int64ColumnChunkReader:
				total, got, err = r.ReadBatch(size, buf.vals, defs, nil)
			case *file.Int32ColumnChunkReader:
				total, got, err = r.ReadBatch(size, buf.vals4, defs, nil)
				for i, v := range buf.vals4[:got] {
					buf.vals[i] = int64(v)
				}
			default:
				return errNoIntScan
			}
			if err != nil {
				return err
			}
			if total == 0 || int64(got) != total {
				return errors.New("the column holds fewer values than its row group has rows")
			}
			fn(buf.vals[:got], pos0+read)
			read += total
		}
		pos0 += n
	}
	return nil
}

// rowGroupStats returns the min/max statistics of column col in row group
// rg, or nil when the file has none.
func rowGroupStats(pr *file.Reader, rg, col int) metadata.TypedStatistics {
	cc, err := pr.MetaData().RowGroup(rg).ColumnChunk(col)
	if err != nil {
		return nil
	}
	if ok, err := cc.StatsSet(); !ok || err != nil {
		return nil
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		return nil
	}
	return st
}

// mayHoldRange reports whether some key of the batch lies within the
// min/max of st (INT32 or INT64 statistics).
func (p *keyProbe) mayHoldRange(st metadata.TypedStatistics) bool {
	var lo, hi int64
	switch s := st.(type) {
	case *metadata.Int64Statistics:
		lo, hi = s.Min(), s.Max()
	case *metadata.Int32Statistics:
		lo, hi = int64(s.Min()), int64(s.Max())
	default:
		return true
	}
	_, from, to := p.inRange(lo, hi)
	return from < to
}

// searchCost is about what a binary search in a chunk of intScanChunk
// values costs, in steps of a merge: matchInts searches for each batch key
// when there are fewer than len(vals)/searchCost of them in the chunk's
// range (small batches), else it merges.
const searchCost = 16

// inRange returns the batch's sorted keys and the range [from, to) of them
// that lie within lo..hi.
func (p *keyProbe) inRange(lo, hi int64) (ks []uint64, from, to int) {
	ks = p.sorted
	from = sort.Search(len(ks), func(i int) bool { return ks[i] >= sortKey(lo) })
	to = from + sort.Search(len(ks)-from, func(i int) bool { return ks[from+i] > sortKey(hi) })
	return ks, from, to
}

// sortKey is an integer key as the batch's sorted keys hold it (dedupe's
// order-preserving 8-byte encoding, read as a big-endian uint64).
func sortKey(v int64) uint64 { return uint64(v) ^ (1 << 63) }

// matchInts adds to h the rows among vals (keys of consecutive rows, the
// first at position pos0) whose key is in the batch, skipping positions in
// gone (sorted, increasing); it returns gone without the positions before
// the end of vals. When vals ascend, each batch key in their range is
// binary searched among them; otherwise each row takes a step of the
// sorted merge (keyProbe.step), as keyProbe.match does.
func (p *keyProbe) matchInts(vals []int64, pos0 int64, gone []int64, cur *probeCursor, h *keyHits) []int64 {
	if len(vals) == 0 {
		return gone
	}
	end := pos0 + int64(len(vals))
	isGone := func(pos int64) bool {
		for len(gone) > 0 && gone[0] < pos {
			gone = gone[1:]
		}
		return len(gone) > 0 && gone[0] == pos
	}
	ascending := true
	for i := 1; i < len(vals); i++ {
		if vals[i] < vals[i-1] {
			ascending = false
			break
		}
	}
	if !ascending {
		for i, v := range vals {
			pos := pos0 + int64(i)
			if isGone(pos) {
				continue
			}
			if k := p.step(cur, sortKey(v)); k >= 0 {
				h.keys = append(h.keys, k)
				h.pos = append(h.pos, pos)
			}
		}
	} else if ks, from, to := p.inRange(vals[0], vals[len(vals)-1]); (to-from)*searchCost > len(vals) {
		// Dense: as many batch keys as rows, give or take; a merge of the
		// two ascending lists costs less than a search per key.
		j := from
		for i, v := range vals {
			k := sortKey(v)
			for j < to && ks[j] < k {
				j++
			}
			if j < to && ks[j] == k && !isGone(pos0+int64(i)) {
				h.keys = append(h.keys, p.idx[j])
				h.pos = append(h.pos, pos0+int64(i))
			}
		}
	} else {
		at := 0 // vals before at are smaller than the key searched
		for j := from; j < to; j++ {
			k := ks[j]
			at += sort.Search(len(vals)-at, func(i int) bool { return sortKey(vals[at+i]) >= k })
			for ; at < len(vals) && sortKey(vals[at]) == k; at++ {
				pos := pos0 + int64(at)
				if !isGone(pos) {
					h.keys = append(h.keys, p.idx[j])
					h.pos = append(h.pos, pos)
				}
			}
		}
	}
	// Positions of this chunk that no hit consumed are of no further use.
	for len(gone) > 0 && gone[0] < end {
		gone = gone[1:]
	}
	return gone
}
