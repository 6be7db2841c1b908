package reader

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/gen"
)

// csvPartsCase is one CDC file written by gen: its rows, the bytes each
// record takes in the decompressed file, and the file.
type csvPartsCase struct {
	rows  []gen.Row
	sizes []int64
	src   filesSource
	file  File
}

func newCSVPartsCase(t *testing.T, gopt gen.CSVOptions, change func(rows [][]any)) csvPartsCase {
	t.Helper()
	_, cdc, schema, _, err := gen.GenerateChanges(gen.Config{Rows: 10, Changes: 120, CDCFiles: 1, Seed: 5}, "shop.orders")
	if err != nil {
		t.Fatal(err)
	}
	c := csvPartsCase{rows: append([]gen.Row(nil), cdc[0]...)}
	sc := gen.CDCSchema(schema)
	vals := make([][]any, len(c.rows))
	for i, r := range c.rows {
		vals[i] = append([]any{r.Op}, r.Values...)
	}
	if change != nil {
		change(vals)
		for i, v := range vals {
			c.rows[i] = gen.Row{Op: v[0].(string), Values: v[1:]}
		}
	}
	// A record's size: the same row written alone, without header or gzip.
	one := gopt
	one.Header, one.Gzip = false, false
	for _, v := range vals {
		var b bytes.Buffer
		if err := gen.WriteCSV(&b, sc, [][]any{v}, one); err != nil {
			t.Fatal(err)
		}
		c.sizes = append(c.sizes, int64(b.Len()))
	}
	var b bytes.Buffer
	if err := gen.WriteCSV(&b, sc, vals, gopt); err != nil {
		t.Fatal(err)
	}
	name := "20260510-100000000.csv"
	if gopt.Gzip {
		name += ".gz"
	}
	c.src = filesSource{"s/t/" + name: b.Bytes()}
	c.file = csvFile("s/t/" + name)
	c.file.Kind = CDC
	return c
}

// readParts reads the case's file in parts of at most budget bytes after
// skipping skip records (budget 0: no limit), checks every part against
// the rows, and returns
// the parts' record counts and digests.
func (c csvPartsCase) readParts(t *testing.T, budget, skip int64, ropt CSVOptions) (counts []int64, digests []Digest) {
	t.Helper()
	ctx := context.Background()
	_, _, schema, _, _ := gen.GenerateChanges(gen.Config{Rows: 10, Changes: 120, CDCFiles: 1, Seed: 5}, "shop.orders")
	p, err := OpenCSVParts(ctx, c.src, c.file, schema, true, ropt, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	from, err := p.Skip(ctx, skip)
	if err != nil || from != min(skip, int64(len(c.rows))) {
		t.Fatalf("Skip(%d) = %d, %v; the file has %d records", skip, from, err, len(c.rows))
	}
	for !p.Done() {
		if len(counts) > len(c.rows) {
			t.Fatalf("more parts than records")
		}
		d, err := p.Next(ctx, budget)
		if err != nil {
			t.Fatal(err)
		}
		n := d.Record.NumRows()
		if d.FirstRow != from || n == 0 {
			t.Fatalf("part %d: first row %d, %d rows; want first row %d and rows", len(counts), d.FirstRow, n, from)
		}
		checkDecoded(t, d, schema, c.rows[from:from+n])
		var size int64
		for _, s := range c.sizes[from : from+n] {
			size += s
		}
		if budget > 0 && n > 1 && size > budget {
			t.Fatalf("part %d: %d records of %d bytes, over the budget %d", len(counts), n, size, budget)
		}
		if end := from + n; !p.Done() && (budget == 0 || size+c.sizes[end] <= budget) {
			t.Fatalf("part %d ends at record %d though the next one (%d bytes) fits: %d + %d <= %d", len(counts), end, c.sizes[end], size, c.sizes[end], budget)
		}
		from += n
		counts = append(counts, n)
		digests = append(digests, d.Digest)
		d.Release()
	}
	if from != int64(len(c.rows)) {
		t.Fatalf("parts end at record %d of %d", from, len(c.rows))
	}
	return counts, digests
}

// TestCSVParts: a CSV file read in parts within a byte budget gives the
// file's records in order, each part as large as the budget allows
// (counted in the decompressed bytes of its records, a header not
// counted), at least one record each; after Skip the parts go on from the
// next record. Plain, gzip, header, CRLF and the null marker.
func TestCSVParts(t *testing.T) {
	for _, v := range []struct {
		name string
		gopt gen.CSVOptions
		ropt CSVOptions
	}{
		{"plain", gen.CSVOptions{}, CSVOptions{}},
		{"gzip", gen.CSVOptions{Gzip: true}, CSVOptions{}},
		{"header-crlf-null", gen.CSVOptions{Header: true, RowDelimiter: "\r\n", NullValue: "NULL", Delimiter: ';'}, CSVOptions{Header: true, RowDelimiter: "\r\n", NullValue: "NULL", Delimiter: ';'}},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := newCSVPartsCase(t, v.gopt, nil)
			var total int64
			for _, s := range c.sizes {
				total += s
			}
			whole, _ := c.readParts(t, 0, 0, v.ropt)
			if len(whole) != 1 {
				t.Fatalf("no budget: %d parts, want 1", len(whole))
			}
			for _, budget := range []int64{1, 150, 1000, total / 5, total, total * 2} {
				counts, _ := c.readParts(t, budget, 0, v.ropt)
				if budget >= total && len(counts) != 1 {
					t.Errorf("budget %d >= file %d: %d parts", budget, total, len(counts))
				}
				if budget == total/5 && len(counts) < 5 {
					t.Errorf("budget of a fifth of the file: %d parts", len(counts))
				}
				for _, skip := range []int64{1, 37, int64(len(c.rows)) - 1} {
					c.readParts(t, budget, skip, v.ropt)
				}
			}
			// Skipping every record, or more: nothing is left.
			for _, skip := range []int64{int64(len(c.rows)), int64(len(c.rows)) + 3} {
				if counts, _ := c.readParts(t, 1000, skip, v.ropt); len(counts) != 0 {
					t.Fatalf("after skipping %d of %d records: %d parts", skip, len(c.rows), len(counts))
				}
			}
		})
	}
}

// TestCSVPartsDigest: the first part of a file read in several parts has a
// digest of its records and the file's size, the same for a copy of the
// file; later parts have none; a file that differs in the first part's
// records or in its size gets another. A file read whole in one part has
// no part digest (its DigestSource digest stands).
func TestCSVPartsDigest(t *testing.T) {
	const budget = 1000
	c := newCSVPartsCase(t, gen.CSVOptions{}, nil)
	_, digests := c.readParts(t, budget, 0, CSVOptions{})
	if len(digests) < 3 || digests[0] == "" || !digests[0].valid() {
		t.Fatalf("digests %q: want a valid one for the first of several parts", digests)
	}
	for i, d := range digests[1:] {
		if d != "" {
			t.Fatalf("part %d has digest %q, want none", i+1, d)
		}
	}
	if _, again := c.readParts(t, budget, 0, CSVOptions{}); again[0] != digests[0] {
		t.Fatalf("the same file gave digests %q and %q", digests[0], again[0])
	}
	if _, whole := c.readParts(t, 0, 0, CSVOptions{}); whole[0] != "" {
		t.Fatalf("read whole: digest %q, want none from the part reader", whole[0])
	}
	firstRow := newCSVPartsCase(t, gen.CSVOptions{}, func(rows [][]any) { rows[0][len(rows[0])-1] = nil })
	if _, other := firstRow.readParts(t, budget, 0, CSVOptions{}); other[0] == digests[0] {
		t.Fatalf("a different first record gave the same digest %q", other[0])
	}
	// One more record at the end (a copy of the last): the first part's
	// records are the same, the file's size is not.
	longer := c
	body := c.src[c.file.Path]
	last := body[len(body)-int(c.sizes[len(c.sizes)-1]):]
	longer.src = filesSource{c.file.Path: append(append([]byte(nil), body...), last...)}
	longer.rows = append(c.rows[:len(c.rows):len(c.rows)], c.rows[len(c.rows)-1])
	longer.sizes = append(c.sizes[:len(c.sizes):len(c.sizes)], c.sizes[len(c.sizes)-1])
	if _, other := longer.readParts(t, budget, 0, CSVOptions{}); other[0] == digests[0] {
		t.Fatalf("a longer file gave the same digest %q", other[0])
	}
}

// TestCSVPartsLoadWithOp: a full-load file whose rows start with I
// (IncludeOpForFullLoad) is recognised by its first record also when that
// record is skipped.
func TestCSVPartsLoadWithOp(t *testing.T) {
	ctx := context.Background()
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf("I,%d,name-%d", i, i))
	}
	src := filesSource{"s/t/LOAD00000001.csv": []byte(strings.Join(lines, "\n") + "\n")}
	f := csvFile("s/t/LOAD00000001.csv")
	f.Kind = Load
	p, err := OpenCSVParts(ctx, src, f, idNameSchema(), false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n, err := p.Skip(ctx, 4); n != 4 || err != nil {
		t.Fatalf("Skip: %d, %v", n, err)
	}
	d, err := p.Next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if d.FirstRow != 4 || d.Record.NumRows() != 6 || d.Record.NumCols() != 2 || string(d.Ops) != "IIIIII" {
		t.Fatalf("after skipping 4: first row %d, %d rows, %d columns, ops %q", d.FirstRow, d.Record.NumRows(), d.Record.NumCols(), d.Ops)
	}
	if got := goValueOf(t, d.Record.Column(1), 0); got != "name-4" {
		t.Fatalf("first name %v, want name-4", got)
	}
}

// TestCSVPartsErrorRows: a bad record in a later part is reported with its
// record number in the file.
func TestCSVPartsErrorRows(t *testing.T) {
	ctx := context.Background()
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf("%d,name-%d", i, i))
	}
	lines[41] = "x41,name"
	src := filesSource{"s/t/LOAD00000001.csv": []byte(strings.Join(lines, "\n"))}
	f := csvFile("s/t/LOAD00000001.csv")
	p, err := OpenCSVParts(ctx, src, f, idNameSchema(), false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for {
		d, err := p.Next(ctx, 30)
		if err != nil {
			fe, ok := err.(*FileError)
			if !ok || fe.Row != 42 || !strings.Contains(fe.Msg, "line 42") {
				t.Fatalf("error %v, want record 42 on line 42", err)
			}
			return
		}
		d.Release()
		if p.Done() {
			t.Fatal("no error for the bad record")
		}
	}
}

func idNameSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
}

// TestCheckpointPartRecords: a checkpoint inside a CSV file survives the
// round trip, says how many records of that file (and of no other) are
// applied, and is cleared when the file is applied; a checkpoint that
// mixes row groups and records, or has one without the file, is refused.
func TestCheckpointPartRecords(t *testing.T) {
	f := csvFile("s/t/20260510-100000000.csv")
	f.Kind = CDC
	c := Checkpoint{}.After(nil, Horizon{Time: time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)}).InPartRecords(f, 1234)
	d, err := DecodeCheckpoint(c.Encode())
	if err != nil || d.Encode() != c.Encode() {
		t.Fatalf("round trip: %v, %q != %q", err, d.Encode(), c.Encode())
	}
	if !strings.Contains(c.Encode(), `"part_records":1234`) {
		t.Fatalf("encoded %s", c.Encode())
	}
	other := csvFile("s/t/20260510-110000000.csv")
	if d.AppliedRecords(f) != 1234 || d.AppliedRecords(other) != 0 || d.AppliedRowGroups(f) != 0 {
		t.Fatalf("applied: %d records of the file, %d of another, %d row groups", d.AppliedRecords(f), d.AppliedRecords(other), d.AppliedRowGroups(f))
	}
	if p := d.InPart(f, 2); p.PartRecords != 0 || p.PartRowGroups != 2 {
		t.Fatalf("InPart after InPartRecords: %+v", p)
	}
	if a := d.After([]File{f}, Horizon{}); a.PartFile != "" || a.PartRecords != 0 || a.CDCLast != f.Name {
		t.Fatalf("after the file: %+v", a)
	}
	for _, bad := range []string{
		`{"v":1,"part_records":3}`,
		`{"v":1,"part_file":"20260510-100000000.csv","part_records":-1}`,
		`{"v":1,"part_file":"20260510-100000000.csv","part_records":3,"part_row_groups":1}`,
	} {
		if _, err := DecodeCheckpoint(bad); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}
