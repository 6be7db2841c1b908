package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/reader"
)

// change is one row of a test part: key, value, timestamp, change sequence
// ("" = null), operation.
type change struct {
	id  int64
	v   string
	ts  string
	seq string
	op  byte
}

func part(t *testing.T, path string, load, withSeq bool, rows ...change) dedupe.Part {
	t.Helper()
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	if withSeq {
		fields = append(fields, arrow.Field{Name: dedupe.ChangeSeqColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	ops := make([]byte, len(rows))
	for i, r := range rows {
		if r.id < 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(r.id)
		}
		b.Field(1).(*array.StringBuilder).Append(r.v)
		b.Field(2).(*array.StringBuilder).Append(r.ts)
		if withSeq {
			if r.seq == "" {
				b.Field(3).AppendNull()
			} else {
				b.Field(3).(*array.StringBuilder).Append(r.seq)
			}
		}
		ops[i] = r.op
	}
	return dedupe.Part{Path: path, Load: load, Record: b.NewRecordBatch(), Ops: ops}
}

// latest runs Latest and returns key -> value of the upserts and the number
// of delete winners.
func latest(t *testing.T, parts ...dedupe.Part) (map[int64]string, int64) {
	t.Helper()
	res, err := dedupe.Latest(context.Background(), parts, dedupe.Options{Key: []string{"id"}, TimestampColumn: "commit_ts"}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	out := map[int64]string{}
	for _, rec := range res.Upserts {
		ids := rec.Column(0).(*array.Int64)
		vs := rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if _, dup := out[ids.Value(i)]; dup {
				t.Fatalf("key %d upserted twice", ids.Value(i))
			}
			out[ids.Value(i)] = vs.Value(i)
		}
	}
	if int64(res.Keys.Len()) != int64(len(out))+res.Deletes {
		t.Fatalf("keys %d != upserts %d + deletes %d", res.Keys.Len(), len(out), res.Deletes)
	}
	return out, res.Deletes
}

const (
	I = reader.OpInsert
	U = reader.OpUpdate
	D = reader.OpDelete
)

func TestOrder(t *testing.T) {
	tests := []struct {
		name    string
		parts   func(t *testing.T) []dedupe.Part
		want    map[int64]string
		deletes int64
	}{
		{"load ranks below CDC even with a later timestamp", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "LOAD00000001.parquet", true, false, change{1, "load", "2026-05-10 12:00:00.000000", "", I}),
				part(t, "20260510-100000000.parquet", false, false, change{1, "cdc", "2026-05-10 10:00:00.000000", "", U}),
			}
		}, map[int64]string{1: "cdc"}, 0},
		{"timestamp beats file order", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false, change{1, "newer", "2026-05-10 10:00:05.000000", "", U}),
				part(t, "b", false, false, change{1, "older", "2026-05-10 10:00:01.000000", "", U}),
			}
		}, map[int64]string{1: "newer"}, 0},
		{"same timestamp: later file wins", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false, change{1, "first", "2026-05-10 10:00:00.000000", "", U}),
				part(t, "b", false, false, change{1, "second", "2026-05-10 10:00:00.000000", "", U}),
			}
		}, map[int64]string{1: "second"}, 0},
		{"same timestamp, same file: later row wins, delete then insert", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, false,
					change{1, "x", "2026-05-10 10:00:00.000000", "", I},
					change{1, "", "2026-05-10 10:00:00.000000", "", D},
					change{1, "back", "2026-05-10 10:00:00.000000", "", I},
					change{2, "y", "2026-05-10 10:00:00.000000", "", I},
					change{2, "", "2026-05-10 10:00:00.000000", "", D}),
			}
		}, map[int64]string{1: "back"}, 1},
		{"change sequence beats timestamp and position", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, true, change{1, "seq-high", "2026-05-10 10:00:00.000000", "20260510100000000000000000000000099", U}),
				part(t, "b", false, true, change{1, "seq-low", "2026-05-10 10:00:09.000000", "20260510100000000000000000000000010", U}),
			}
		}, map[int64]string{1: "seq-high"}, 0},
		{"change sequences of different length compare as numbers", func(t *testing.T) []dedupe.Part {
			return []dedupe.Part{
				part(t, "a", false, true, change{1, "ten", "2026-05-10 10:00:00.000000", "10", U}),
				part(t, "b", false, true, change{1, "nine", "2026-05-10 10:00:00.000000", "9", U}),
			}
		}, map[int64]string{1: "ten"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, dels := latest(t, tc.parts(t)...)
			if len(got) != len(tc.want) || dels != tc.deletes {
				t.Fatalf("got %v (%d deletes), want %v (%d deletes)", got, dels, tc.want, tc.deletes)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("key %d: got %q want %q (all %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestNullKeyNamesFileRowColumn(t *testing.T) {
	p := part(t, "shop/orders/20260510-100000000.parquet", false, false,
		change{1, "a", "2026-05-10 10:00:00.000000", "", I},
		change{-1, "b", "2026-05-10 10:00:00.000000", "", I})
	_, err := dedupe.Latest(context.Background(), []dedupe.Part{p}, dedupe.Options{Key: []string{"id"}}, memory.DefaultAllocator)
	var fe *reader.FileError
	if !errors.As(err, &fe) || fe.Row != 1 || fe.Column != "id" || !strings.Contains(err.Error(), "shop/orders/20260510-100000000.parquet") {
		t.Fatalf("want a FileError naming file, row 1 and column id, got %v", err)
	}
}

func TestKeyEncodingOrder(t *testing.T) {
	// Encodings must compare like the values, for pruning by bounds.
	ints := []int64{-1 << 62, -5, -1, 0, 1, 7, 1 << 40}
	for i := 1; i < len(ints); i++ {
		if string(dedupe.AppendInt(nil, ints[i-1])) >= string(dedupe.AppendInt(nil, ints[i])) {
			t.Fatalf("int %d does not sort before %d", ints[i-1], ints[i])
		}
	}
	strs := []string{"", "a", "a\x00", "a\x00b", "ab", "b"}
	for i := 1; i < len(strs); i++ {
		if string(dedupe.AppendBytes(nil, []byte(strs[i-1]))) >= string(dedupe.AppendBytes(nil, []byte(strs[i]))) {
			t.Fatalf("%q does not sort before %q", strs[i-1], strs[i])
		}
	}
	// Composite keys: ("a","b") and ("ab","") must differ.
	x := dedupe.AppendBytes(dedupe.AppendBytes(nil, []byte("a")), []byte("b"))
	y := dedupe.AppendBytes(dedupe.AppendBytes(nil, []byte("ab")), []byte(""))
	if string(x) == string(y) {
		t.Fatal("composite encodings collide")
	}
}

// TestOrderRandom compares Latest with a naive replay of the ordering
// rules on random streams: parts whose timestamps ascend or not, overlap
// or not, with and without change sequences (some null), ties, LOAD parts
// first. The winner of a key is the change with the greatest (CDC over
// LOAD, order value, part, row), the order value being the change sequence
// left-padded to 40 digits after "~" where the row has one, else the
// timestamp.
func TestOrderRandom(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewSource(seed))
		var parts []dedupe.Part
		type cand struct {
			load      bool
			order     string
			part, row int
			value     string
			op        byte
		}
		best := map[int64]cand{}
		better := func(a, b cand) bool { // a after b in stream order
			if a.load != b.load {
				return !a.load
			}
			return a.order >= b.order
		}
		nparts := 1 + r.Intn(6)
		loads := r.Intn(3)
		base := 1000
		for pi := 0; pi < nparts; pi++ {
			load := pi < loads
			withSeq := !load && r.Intn(3) == 0
			var rows []change
			n := 1 + r.Intn(30)
			ascending := r.Intn(2) == 0
			if r.Intn(3) == 0 {
				base -= r.Intn(20) // overlaps the part before
			}
			for i := 0; i < n; i++ {
				ts := base + r.Intn(15)
				if ascending {
					base += r.Intn(3)
					ts = base
				}
				c := change{id: int64(r.Intn(12)), v: fmt.Sprintf("p%d-r%d", pi, i), ts: fmt.Sprintf("2026-05-10 10:%02d:%02d.000000", ts/60%60, ts%60), op: []byte{I, U, D}[r.Intn(3)]}
				if load {
					c.op = I
				}
				if withSeq && r.Intn(4) != 0 {
					c.seq = fmt.Sprint(r.Intn(5000))
				}
				rows = append(rows, c)
				order := c.ts
				if c.seq != "" {
					order = "~" + strings.Repeat("0", 40-len(c.seq)) + c.seq
				}
				if load {
					order = ""
				}
				cd := cand{load: load, order: order, part: pi, row: i, value: c.v, op: c.op}
				if cur, ok := best[c.id]; !ok || better(cd, cur) {
					best[c.id] = cd
				}
			}
			p := part(t, fmt.Sprintf("p%d", pi), load, withSeq, rows...)
			if r.Intn(2) == 0 {
				// The order columns as the reader keeps DMS's
				// dictionary-encoded strings.
				p.Record = asDictionaries(t, p.Record, r)
			}
			parts = append(parts, p)
		}
		got, dels := latest(t, parts...)
		want := map[int64]string{}
		var wantDels int64
		for k, c := range best {
			if c.op == D {
				wantDels++
			} else {
				want[k] = c.value
			}
		}
		if dels != wantDels || len(got) != len(want) {
			t.Fatalf("seed %d: %d upserts, %d deletes; want %d, %d", seed, len(got), dels, len(want), wantDels)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("seed %d: key %d = %q, want %q", seed, k, got[k], v)
			}
		}
		for _, p := range parts {
			p.Record.Release()
		}
	}
}

// asDictionaries returns rec (released) with its string columns but the
// first two as dictionary arrays (testutil.AsDictionary).
func asDictionaries(t *testing.T, rec arrow.RecordBatch, r *rand.Rand) arrow.RecordBatch {
	t.Helper()
	defer rec.Release()
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		if i < 2 {
			c.Retain()
			cols[i] = c
			continue
		}
		cols[i] = testutil.AsDictionary(c, r)
		fields[i].Type = cols[i].DataType()
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}
