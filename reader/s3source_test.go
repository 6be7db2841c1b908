package reader

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestCompareCDCNames: shared CDC files order by their number whatever
// the counter's width; CDC_TXN files by time; target names by name.
func TestCompareCDCNames(t *testing.T) {
	ordered := [][]string{
		{"CDC1.csv", "CDC2.csv", "CDC00009.csv", "CDC00010.csv.gz", "CDC10.csv", "CDC99999.csv", "CDC100000.csv"},
		{"CDC_TXN-20260510100000000.csv", "CDC_TXN-20260510100000001.csv.gz", "CDC_TXN-20260511000000000.csv"},
		{"20260510-100000000.csv", "20260510-100000001.parquet", "20260511-000000000.csv"},
	}
	for _, list := range ordered {
		for i := range list {
			for j := range list {
				got := CompareCDCNames(list[i], list[j])
				want := 0
				if i < j {
					want = -1
				} else if i > j {
					want = 1
				}
				if got != want {
					t.Errorf("CompareCDCNames(%s, %s) = %d, want %d", list[i], list[j], got, want)
				}
			}
		}
	}
}

func objs(paths ...string) []Object {
	var out []Object
	for _, p := range paths {
		out = append(out, Object{Path: p, Size: 10, ModTime: time.Unix(1, 0)})
	}
	return out
}

// TestGroupS3Source: LOAD001.csv is full load, shared files are found
// anywhere (one folder) or in --cdc-path only, in numeric order; several
// folders or mixed styles are errors.
func TestGroupS3Source(t *testing.T) {
	tables, shared, ignored, err := GroupS3Source(objs("hr/emp/LOAD002.csv", "hr/emp/LOAD001.csv", "cdc/x/CDC10.csv", "cdc/x/CDC9.csv", "cdc/x/CDC00011.csv.gz", "hr/emp/notes.txt"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Ident() != "hr.emp" || len(tables[0].Load) != 2 || tables[0].Load[0].Name != "LOAD001.csv" || tables[0].Load[1].Number != 2 {
		t.Fatalf("tables %+v", tables)
	}
	var names []string
	for _, f := range shared {
		if f.Format != CSVChanges || f.Kind != CDC {
			t.Errorf("%s: format %s kind %v", f.Name, f.Format, f.Kind)
		}
		names = append(names, f.Name)
	}
	if want := []string{"CDC9.csv", "CDC10.csv", "CDC00011.csv.gz"}; !slices.Equal(names, want) {
		t.Fatalf("shared %v, want %v", names, want)
	}
	if len(ignored) != 1 || ignored[0].Path != "hr/emp/notes.txt" {
		t.Fatalf("ignored %v", ignored)
	}

	_, shared, ignored, err = GroupS3Source(objs("cdc/CDC1.csv", "old/CDC1.csv"), "/cdc/")
	if err != nil || len(shared) != 1 || shared[0].Path != "cdc/CDC1.csv" || len(ignored) != 1 || !strings.Contains(ignored[0].Reason, "--cdc-path") {
		t.Fatalf("with --cdc-path: shared %v ignored %v err %v", shared, ignored, err)
	}
	if _, _, _, err = GroupS3Source(objs("cdc/CDC1.csv", "old/CDC2.csv"), ""); err == nil || !strings.Contains(err.Error(), "--cdc-path") {
		t.Fatalf("two folders: %v", err)
	}
	if _, _, _, err = GroupS3Source(objs("cdc/CDC1.csv", "cdc/CDC_TXN-20260510100000000.csv"), ""); err == nil || !strings.Contains(err.Error(), "styles") {
		t.Fatalf("mixed styles: %v", err)
	}
}

// TestPendingSharedNames: a checkpoint on a shared file decodes, and the
// files after it are pending by number, not by name.
func TestPendingSharedNames(t *testing.T) {
	tables, shared, _, err := GroupS3Source(objs("s/t/LOAD001.csv", "cdc/CDC9.csv", "cdc/CDC10.csv", "cdc/CDC11.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	tf := tables[0]
	tf.CDC = shared
	pending, h, err := Pending(tf, Checkpoint{})
	if err != nil || len(pending) != 4 {
		t.Fatalf("pending %v, %v", pending, err)
	}
	cp, err := DecodeCheckpoint(Checkpoint{}.After(pending[:2], h).Encode())
	if err != nil {
		t.Fatal(err)
	}
	if cp.LoadLast != "LOAD001.csv" || cp.LoadNumber != 1 || cp.CDCLast != "CDC9.csv" {
		t.Fatalf("checkpoint %+v", cp)
	}
	pending, _, err = Pending(tf, cp)
	if err != nil || len(pending) != 2 || pending[0].Name != "CDC10.csv" {
		t.Fatalf("after CDC9.csv: %v, %v", pending, err)
	}
}

// TestSharedCDC: each table gets its own rows (an empty record when it has
// none); the file is decoded once while the cache holds the other tables'
// rows, again when the budget is exceeded; a bad row fails only its table;
// rows of unknown tables are reported, of skipped tables dropped.
func TestSharedCDC(t *testing.T) {
	intStr := func(names ...string) *arrow.Schema {
		return arrow.NewSchema([]arrow.Field{{Name: names[0], Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: names[1], Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	}
	data := "INSERT,a,s,1,x\ni,b,s,2,y\nupdate,a,s,1,z\nD,c,s,3,\nI,zz,skip,1,1\nI,b,s,notanumber,w\nd,a,s,1,\n"
	src := filesSource{"cdc/CDC00001.csv": []byte(data)}
	f := File{Object: Object{Path: "cdc/CDC00001.csv"}, Name: "CDC00001.csv", Kind: CDC, Format: CSVChanges}
	tables := map[string]*arrow.Schema{"s.a": intStr("id", "v"), "s.b": intStr("id", "v"), "s.e": intStr("id", "v")}
	for _, budget := range []int64{1 << 20, 0} {
		s := &SharedCDC{Src: src, Tables: tables, Mem: memory.DefaultAllocator, MaxCached: budget, Skip: func(id string) bool { return strings.HasPrefix(id, "skip.") }}
		a, err := s.Rows(context.Background(), f, "s.a")
		if err != nil {
			t.Fatal(err)
		}
		if string(a.Ops) != "IUD" || a.Record.Column(1).(*array.String).Value(1) != "z" {
			t.Errorf("s.a: ops %q", a.Ops)
		}
		a.Release()
		e, err := s.Rows(context.Background(), f, "s.e")
		if err != nil || e.Record.NumRows() != 0 || e.Record.NumCols() != 2 {
			t.Fatalf("s.e (no rows): %v %v", e, err)
		}
		e.Release()
		_, err = s.Rows(context.Background(), f, "s.b")
		var fe *FileError
		if !errors.As(err, &fe) || fe.Row != 6 || fe.Column != "id" {
			t.Fatalf("s.b: want its bad row 6, got %v", err)
		}
		wantReads := 1
		if budget == 0 {
			wantReads = 3
		}
		if s.Reads() != wantReads {
			t.Errorf("budget %d: %d reads, want %d", budget, s.Reads(), wantReads)
		}
		u := s.Unknown()
		if len(u) != 1 || u[0].Table != "s.c" || u[0].Err.Row != 4 || !strings.Contains(u[0].Err.Error(), "s.c") {
			t.Errorf("unknown tables %+v", u)
		}
		s.Done("s.b")
		s.Close()
		if s.cached != 0 {
			t.Errorf("budget %d: %d bytes still cached after Close", budget, s.cached)
		}
	}
}

// TestSharedCDCDigest: every table's rows of a shared CDC file carry the
// digest of the whole file, taken from the one read (cached parts too):
// a byte-identical copy under another name has the same digest, a file
// that differs in one byte another one.
func TestSharedCDCDigest(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	data := "I,a,s,1,x\nI,b,s,2,y\n"
	src := filesSource{"cdc/CDC00001.csv": []byte(data), "cdc/CDC00002.csv": []byte(data), "cdc/CDC00003.csv": []byte(strings.Replace(data, "y", "z", 1))}
	s := &SharedCDC{Src: src, Tables: map[string]*arrow.Schema{"s.a": sc, "s.b": sc}, Mem: memory.DefaultAllocator, MaxCached: 1 << 20}
	defer s.Close()
	digest := func(name, table string) Digest {
		t.Helper()
		f := File{Object: Object{Path: "cdc/" + name}, Name: name, Kind: CDC, Format: CSVChanges}
		d, err := s.Rows(context.Background(), f, table)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		if d.Record.NumRows() != 1 || !d.Digest.valid() {
			t.Fatalf("%s, %s: %d rows, digest %q", name, table, d.Record.NumRows(), d.Digest)
		}
		return d.Digest
	}
	one := digest("CDC00001.csv", "s.a")
	if got := digest("CDC00001.csv", "s.b"); got != one {
		t.Errorf("s.b's rows of the file (kept from the first read) carry digest %s, s.a's %s", got, one)
	}
	if got := digest("CDC00002.csv", "s.a"); got != one {
		t.Errorf("a byte-identical copy has digest %s, the original %s", got, one)
	}
	if got := digest("CDC00003.csv", "s.b"); got == one {
		t.Errorf("a file with other rows has the original's digest %s", got)
	}
	if s.Reads() != 3 {
		t.Errorf("%d reads of 3 files, want one each", s.Reads())
	}
}

// TestReadCSVLoadOp: a LOAD file whose rows start with I (S3 source, or
// IncludeOpForFullLoad) is read with that column; without it as before.
func TestReadCSVLoadOp(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	for data, want := range map[string]string{"I,1,a\nI,2,b\n": "a", "1,a\n2,b\n": "a"} {
		f := csvFile("s/t/LOAD001.csv")
		f.Kind = Load
		d, err := ReadCSV(context.Background(), filesSource{f.Path: []byte(data)}, f, schema, false, CSVOptions{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if d.Record.NumRows() != 2 || d.Record.Column(1).(*array.String).Value(0) != want {
			t.Errorf("%q: read %v", data, d.Record)
		}
		d.Release()
	}
}
