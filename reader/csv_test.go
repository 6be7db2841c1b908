package reader

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/gen"
)

// filesSource serves in-memory files by path.
type filesSource map[string][]byte

func (m filesSource) String() string { return "mem" }
func (m filesSource) List(context.Context) ([]Object, error) {
	var out []Object
	for p, b := range m {
		out = append(out, Object{Path: p, Size: int64(len(b))})
	}
	return out, nil
}
func (m filesSource) Open(_ context.Context, p string) (ReadAtCloser, int64, error) {
	b, ok := m[p]
	if !ok {
		return nil, 0, os.ErrNotExist
	}
	return nopCloser{bytes.NewReader(b)}, int64(len(b)), nil
}

func csvFile(p string) File {
	return File{Object: Object{Path: p}, Name: path.Base(p)}
}

// goValueOf converts one value of a decoded record to the Go value gen uses.
func goValueOf(t *testing.T, a arrow.Array, i int) any {
	t.Helper()
	if a.IsNull(i) {
		return nil
	}
	switch c := a.(type) {
	case *array.Int32:
		return c.Value(i)
	case *array.Int64:
		return c.Value(i)
	case *array.Float32:
		return c.Value(i)
	case *array.Float64:
		return c.Value(i)
	case *array.Boolean:
		return c.Value(i)
	case *array.String:
		return c.Value(i)
	case *array.Binary:
		return bytes.Clone(c.Value(i))
	case *array.Decimal128:
		return gen.Decimal{Unscaled: c.Value(i).BigInt(), Scale: c.DataType().(*arrow.Decimal128Type).Scale}
	case *array.Date32:
		return gen.Date(c.Value(i))
	case *array.Time64:
		return gen.Time(c.Value(i))
	case *array.Timestamp:
		return gen.Timestamp(c.Value(i))
	}
	t.Fatalf("unexpected array type %s", a.DataType())
	return nil
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case gen.Decimal:
		y, ok := b.(gen.Decimal)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// checkDecoded compares d with want row by row, every column, and the ops.
func checkDecoded(t *testing.T, d *Decoded, schema *arrow.Schema, want []gen.Row) {
	t.Helper()
	if got := int(d.Record.NumRows()); got != len(want) || len(d.Ops) != len(want) {
		t.Fatalf("%s: %d rows, %d ops, want %d", d.File.Path, got, len(d.Ops), len(want))
	}
	if int(d.Record.NumCols()) != schema.NumFields() {
		t.Fatalf("%s: %d columns, want %d", d.File.Path, d.Record.NumCols(), schema.NumFields())
	}
	for c := range schema.NumFields() {
		if d.Record.Schema().Field(c).Name != schema.Field(c).Name {
			t.Fatalf("column %d is %q, want %q", c, d.Record.Schema().Field(c).Name, schema.Field(c).Name)
		}
	}
	for r, row := range want {
		wantOp := OpInsert
		if row.Op != "" {
			wantOp = row.Op[0]
		}
		if d.Ops[r] != wantOp {
			t.Errorf("%s row %d: op %c, want %c", d.File.Path, r, d.Ops[r], wantOp)
		}
		for c, v := range row.Values {
			if got := goValueOf(t, d.Record.Column(c), r); !sameValue(got, v) {
				t.Errorf("%s row %d column %s: got %#v, want %#v", d.File.Path, r, schema.Field(c).Name, got, v)
			}
		}
	}
}

func TestReadCSVRoundTrip(t *testing.T) {
	cfg := gen.Config{Rows: 60, Changes: 80, LoadFiles: 2, CDCFiles: 3, Seed: 7}
	variants := []struct {
		name string
		gopt gen.CSVOptions
		ropt CSVOptions
	}{
		{"default", gen.CSVOptions{}, CSVOptions{}},
		{"header", gen.CSVOptions{Header: true}, CSVOptions{Header: true}},
		{"pipe", gen.CSVOptions{Delimiter: '|'}, CSVOptions{Delimiter: '|'}},
		{"null-marker", gen.CSVOptions{NullValue: "NULL"}, CSVOptions{NullValue: "NULL"}},
		{"gzip", gen.CSVOptions{Gzip: true}, CSVOptions{}},
		{"crlf-tab", gen.CSVOptions{Delimiter: '\t', RowDelimiter: "\r\n"}, CSVOptions{Delimiter: '\t', RowDelimiter: "\r\n"}},
		{"all", gen.CSVOptions{Header: true, Delimiter: ';', NullValue: `\N`, Gzip: true, OpWords: true}, CSVOptions{Header: true, Delimiter: ';', NullValue: `\N`, Gzip: GzipOn}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			sum, err := gen.GenerateCSV(context.Background(), gen.DirSink(dir), cfg, v.gopt)
			if err != nil {
				t.Fatal(err)
			}
			src := DirSource{Root: dir}
			for _, ts := range sum.Tables {
				load, cdc, schema, _, err := gen.GenerateChanges(cfg, ts.Table)
				if err != nil {
					t.Fatal(err)
				}
				var got []gen.Row
				for _, p := range ts.LoadFiles {
					kind, _, ok := ParseCSVName(path.Base(p))
					if !ok || kind != Load {
						t.Fatalf("ParseCSVName(%s) = %v %v", p, kind, ok)
					}
					d, err := ReadCSV(context.Background(), src, csvFile(p), schema, false, v.ropt, memory.DefaultAllocator)
					if err != nil {
						t.Fatal(err)
					}
					// Split the expected load rows by file, in order.
					n := int(d.Record.NumRows())
					checkDecoded(t, d, schema, load[len(got):len(got)+n])
					got = append(got, load[len(got):len(got)+n]...)
					d.Release()
				}
				if len(got) != len(load) {
					t.Fatalf("%s: read %d load rows, want %d", ts.Table, len(got), len(load))
				}
				if len(ts.CDCFiles) != len(cdc) {
					t.Fatalf("%d CDC files, want %d", len(ts.CDCFiles), len(cdc))
				}
				for i, p := range ts.CDCFiles {
					if kind, _, ok := ParseCSVName(path.Base(p)); !ok || kind != CDC {
						t.Fatalf("ParseCSVName(%s) = %v %v", p, kind, ok)
					}
					d, err := ReadCSV(context.Background(), src, csvFile(p), schema, true, v.ropt, memory.DefaultAllocator)
					if err != nil {
						t.Fatal(err)
					}
					checkDecoded(t, d, schema, cdc[i])
					d.Release()
				}
			}
		})
	}
}

// TestReadCSVRoundTripAllTypes writes every type the table definition maps
// to, with edge values, and reads it back through the definition's schema.
func TestReadCSVRoundTripAllTypes(t *testing.T) {
	def := `{"TableCount":"1","Tables":[{"TableName":"t","TableOwner":"s","TablePath":"s/t/","TableColumns":[
	{"ColumnName":"i1","ColumnType":"INT1"},{"ColumnName":"i2","ColumnType":"INT2"},{"ColumnName":"i4","ColumnType":"INT4"},
	{"ColumnName":"i8","ColumnType":"INT8","ColumnIsPk":"true","ColumnNullable":"false"},
	{"ColumnName":"u1","ColumnType":"UINT1"},{"ColumnName":"u2","ColumnType":"UINT2"},{"ColumnName":"u4","ColumnType":"UINT4"},
	{"ColumnName":"u8","ColumnType":"UINT8"},{"ColumnName":"n","ColumnType":"NUMERIC","ColumnPrecision":"38","ColumnScale":"10"},
	{"ColumnName":"r4","ColumnType":"REAL4"},{"ColumnName":"r8","ColumnType":"REAL8"},{"ColumnName":"s","ColumnType":"STRING","ColumnLength":"20"},
	{"ColumnName":"cl","ColumnType":"CLOB"},{"ColumnName":"by","ColumnType":"BYTE","ColumnLength":"4"},{"ColumnName":"bl","ColumnType":"BLOB"},
	{"ColumnName":"d","ColumnType":"DATE"},{"ColumnName":"tm","ColumnType":"TIME"},{"ColumnName":"dt","ColumnType":"DATETIME"},
	{"ColumnName":"b","ColumnType":"BOOLEAN"}]}]}`
	defs, err := ParseTableDefinition([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	schema := defs[0].ArrowSchema()
	nines38 := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	u64max := new(big.Int).SetUint64(1<<64 - 1)
	ts := gen.TimestampOf(time.Date(2026, 5, 10, 10, 0, 0, 123456000, time.UTC))
	rows := [][]any{
		{int32(-128), int32(-32768), int32(-2147483648), int64(-9223372036854775808), int32(0), int32(0), int64(0), gen.Decimal{Unscaled: big.NewInt(0)},
			gen.Decimal{Unscaled: new(big.Int).Neg(nines38), Scale: 10}, float32(-1.5), -2.5e-300, "", "a,b \"c\"\nd", []byte{}, []byte{0, 0xff},
			gen.Date(-1), gen.Time(0), gen.Timestamp(-1), false},
		{int32(127), int32(32767), int32(2147483647), int64(9223372036854775807), int32(255), int32(65535), int64(4294967295), gen.Decimal{Unscaled: u64max},
			gen.Decimal{Unscaled: nines38, Scale: 10}, float32(3.25), 1e300, "NULL", "日本語 🎉", []byte{0xde, 0xad, 0xbe, 0xef}, []byte{1},
			gen.Date(2932896), gen.Time(86399999999), ts, true},
		{nil, nil, nil, int64(1), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	var buf bytes.Buffer
	if err := gen.WriteCSV(&buf, schema, rows, gen.CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	src := filesSource{"s/t/LOAD001.csv": buf.Bytes()}
	d, err := ReadCSV(context.Background(), src, csvFile("s/t/LOAD001.csv"), schema, false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	defer d.Release()
	want := make([]gen.Row, len(rows))
	for i, r := range rows {
		want[i] = gen.Row{Values: r}
	}
	checkDecoded(t, d, schema, want)
}

func TestReadCSVQuotingAndNulls(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a", Type: arrow.BinaryTypes.String},
		{Name: "b", Type: arrow.BinaryTypes.String},
		{Name: "c", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	data := "1,\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\n" + // delimiter, doubled quotes, newline, null int
		"2,,\"\",NULL,\"\"\n" + // null, empty string, the text NULL, quoted empty int = null
		"3,un\"quoted,\"\"\"\",\"a\r\nb\",7" // quote inside an unquoted field; a lone quote; CRLF inside quotes; no final newline
	src := filesSource{"s/t/x.csv": []byte(data)}
	d, err := ReadCSV(context.Background(), src, csvFile("s/t/x.csv"), schema, false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	checkDecoded(t, d, schema, []gen.Row{
		{Values: []any{int64(1), "x,y", `say "hi"`, "two\nlines", nil}},
		{Values: []any{int64(2), nil, "", "NULL", nil}},
		{Values: []any{int64(3), `un"quoted`, `"`, "a\r\nb", int32(7)}},
	})

	// With NullValue "NULL": the unquoted NULL is null, the empty field an
	// empty string, the quoted "NULL" a string.
	src = filesSource{"s/t/y.csv": []byte("1,NULL,,\"NULL\",NULL\n")}
	d2, err := ReadCSV(context.Background(), src, csvFile("s/t/y.csv"), schema, false, CSVOptions{NullValue: "NULL"}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Release()
	checkDecoded(t, d2, schema, []gen.Row{{Values: []any{int64(1), nil, "", "NULL", nil}}})
}

// TestReadCSVLineNumbers: records with line breaks inside quoted fields
// span several lines; messages give both the record and its first line.
func TestReadCSVLineNumbers(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	p := "s/t/LOAD001.csv"
	for _, opt := range []CSVOptions{{}, {Header: true}} {
		data := "1,a\n2,\"x\n\ny\"\n3,b\nbad,c\n"
		if opt.Header {
			data = "id,s\n" + data
		}
		_, err := ReadCSV(context.Background(), filesSource{p: []byte(data)}, csvFile(p), schema, false, opt, memory.DefaultAllocator)
		var fe *FileError
		wantLine := "line 6:"
		if opt.Header {
			wantLine = "line 7:"
		}
		if !errors.As(err, &fe) || fe.Row != 4 || fe.Column != "id" || !strings.Contains(err.Error(), wantLine) || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("header %v: got %v, want record 4 at %s", opt.Header, err, wantLine)
		}
	}
}

func TestReadCSVValueForms(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 5, Scale: 2}},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "tz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
	}, nil)
	base := time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		line string
		op   byte
		want []any
	}{
		{"I,true,1.5,2026-05-10 10:00:00,2026-05-10 12:00:00+02:00,2026-05-10,\\xDEad,0", OpInsert,
			[]any{true, gen.NewDecimal(150, 2), gen.TimestampOf(base), gen.TimestampOf(base), gen.DateOf(base), []byte{0xde, 0xad}, int32(0)}},
		{"insert,T,-0.50,2026-05-10T10:00:00.123456789,2026-05-10 10:00:00Z,0000-00-00,0x00,255", OpInsert,
			[]any{true, gen.NewDecimal(-50, 2), gen.TimestampOf(base.Add(123456 * time.Microsecond)), gen.TimestampOf(base), nil, []byte{0}, int32(255)}},
		{"Update,f,+999.990,2026-05-10,2026-05-10 10:00:00,1969-12-31,,1", OpUpdate,
			[]any{false, gen.NewDecimal(99999, 2), gen.TimestampOf(base.Add(-10 * time.Hour)), gen.TimestampOf(base), gen.Date(-1), nil, int32(1)}},
		{"d,0,.5,0000-00-00 00:00:00,,1970-01-01,\"\",2", OpDelete,
			[]any{false, gen.NewDecimal(50, 2), nil, nil, gen.Date(0), []byte{}, int32(2)}},
		{"DELETE,FALSE,0,1900-01-01 00:00:00.5,,2000-02-29,ff,3", OpDelete,
			[]any{false, gen.NewDecimal(0, 2), gen.TimestampOf(time.Date(1900, 1, 1, 0, 0, 0, 5e8, time.UTC)), nil, gen.DateOf(time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)), []byte{0xff}, int32(3)}},
	}
	var lines []string
	var want []gen.Row
	for _, c := range cases {
		lines = append(lines, c.line)
		want = append(want, gen.Row{Op: string(c.op), Values: c.want})
	}
	src := filesSource{"s/t/20260510-100000000.csv": []byte(strings.Join(lines, "\n") + "\n")}
	d, err := ReadCSV(context.Background(), src, csvFile("s/t/20260510-100000000.csv"), schema, true, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if !arrow.TypeEqual(d.Record.Schema().Field(6).Type, arrow.PrimitiveTypes.Int32) {
		t.Errorf("uint8 column read as %s, want int32 (NormalType)", d.Record.Schema().Field(6).Type)
	}
	checkDecoded(t, d, schema, want)
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReadCSVErrors(t *testing.T) {
	int1 := arrow.Field{Name: "tiny", Type: arrow.PrimitiveTypes.Int32, Metadata: arrow.NewMetadata([]string{MetaDMSType}, []string{"INT1"})}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 6, Scale: 2}},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "raw", Type: arrow.BinaryTypes.Binary},
		int1,
	}, nil)
	good := "1,1.00,2026-05-10,2026-05-10 10:00:00,true,00,1"
	cases := []struct {
		name   string
		file   string
		data   []byte
		hasOp  bool
		opt    CSVOptions
		row    int64
		column string
		want   []string // substrings of the message
	}{
		{name: "too few fields", data: []byte(good + "\n1,2\n"), row: 2, column: "day", want: []string{"line 2", "2 field(s), want 7", "delimiter"}},
		{name: "too many fields", data: []byte(good + ",x\n"), row: 1, column: "tiny", want: []string{"line 1", "8 field(s), want 7", "extra"}},
		{name: "not an int", data: []byte("x1,1.00,,,,,\n"), row: 1, column: "id", want: []string{`"x1" is not a whole number`}},
		{name: "int32 range", data: []byte("3000000000,1.00,,,,,\n"), row: 1, column: "id", want: []string{"out of range for int32"}},
		{name: "INT1 range", data: []byte("1,,,,,,200\n"), row: 1, column: "tiny", want: []string{"out of range for INT1 (-128 to 127)"}},
		{name: "decimal places", data: []byte(good + "\n2,1.234,,,,,\n"), row: 2, column: "amount", want: []string{"line 2", "3 decimal places", "never rounds"}},
		{name: "decimal digits", data: []byte("2,12345.6,,,,,\n"), row: 1, column: "amount", want: []string{"too many digits for decimal(6,2)"}},
		{name: "decimal syntax", data: []byte("2,1e5,,,,,\n"), row: 1, column: "amount", want: []string{"not a decimal number"}},
		{name: "date", data: []byte("2,,2026-13-01,,,,\n"), row: 1, column: "day", want: []string{"not a date", "yyyy-MM-dd"}},
		{name: "timestamp", data: []byte("2,,,10:00 2026-05-10,,,\n"), row: 1, column: "at", want: []string{"not a timestamp"}},
		{name: "offset on local timestamp", data: []byte("2,,,2026-05-10 10:00:00+02:00,,,\n"), row: 1, column: "at", want: []string{"not a timestamp"}},
		{name: "boolean", data: []byte("2,,,,yes,,\n"), row: 1, column: "ok", want: []string{`"yes" is not a boolean`}},
		{name: "hex", data: []byte("2,,,,,zz,\n"), row: 1, column: "raw", want: []string{"not hexadecimal"}},
		{name: "unknown op", data: []byte("I," + good + "\nX," + good + "\n"), hasOp: true, row: 2, column: "Op", want: []string{"line 2", `unknown Op value "X"`, "will not guess"}},
		{name: "empty op", data: []byte("," + good + "\n"), hasOp: true, row: 1, column: "Op", want: []string{"Op is empty"}},
		{name: "unclosed quote", data: []byte(good + "\n2,\"1.00,,,,,\n"), row: 2, want: []string{"line 2", "never closed"}},
		{name: "text after quote", data: []byte("2,\"1.00\"x,,,,,\n"), row: 1, want: []string{`"x" after a closing quote`}},
		{name: "header lacks columns", data: []byte("id,amount,day,ok\n"), opt: CSVOptions{Header: true}, row: -1, column: "at", want: []string{"header lacks column(s) at, raw, tiny"}},
		{name: "header lacks Op", data: []byte("id,amount,day,at,ok,raw,tiny\n"), hasOp: true, opt: CSVOptions{Header: true}, row: -1, column: "Op", want: []string{"header lacks column(s) Op"}},
		{name: "header unknown column", data: []byte("id,amount,day,at,ok,raw,tiny,extra\n"), opt: CSVOptions{Header: true}, row: -1, column: "extra", want: []string{`"extra", which the table schema lacks`}},
		{name: "header duplicate", data: []byte("id,ID,amount\n"), opt: CSVOptions{Header: true}, row: -1, column: "ID", want: []string{"twice"}},
		{name: "header row mismatch", data: []byte("tiny,raw,ok,at,day,amount,id\n1,2\n"), opt: CSVOptions{Header: true}, row: 1, column: "ok", want: []string{"line 2", "does not match the header"}},
		{name: "empty file", data: []byte{}, row: -1, want: []string{"empty (0 bytes)"}},
		{name: "gz name, not gzip", file: "s/t/LOAD001.csv.gz", data: []byte(good + "\n"), row: -1, want: []string{"not gzip-compressed"}},
		{name: "gzip required", data: []byte(good + "\n"), opt: CSVOptions{Gzip: GzipOn}, row: -1, want: []string{"not gzip-compressed"}},
		{name: "truncated gzip", file: "s/t/LOAD001.csv.gz", data: gz(t, strings.Repeat(good+"\n", 50))[:40], row: -1, want: []string{"corrupt or truncated"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = "s/t/LOAD001.csv"
			}
			d, err := ReadCSV(context.Background(), filesSource{file: c.data}, csvFile(file), schema, c.hasOp, c.opt, memory.DefaultAllocator)
			if err == nil {
				d.Release()
				t.Fatal("no error")
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("not a *FileError: %v", err)
			}
			msg := err.Error()
			if fe.Path != file || !strings.Contains(msg, "file "+file) {
				t.Errorf("error does not name the file: %v", err)
			}
			if fe.Row != c.row {
				t.Errorf("row %d, want %d: %v", fe.Row, c.row, err)
			}
			if fe.Column != c.column {
				t.Errorf("column %q, want %q: %v", fe.Column, c.column, err)
			}
			if c.row > 0 && !strings.Contains(msg, fmt.Sprintf("row %d", c.row)) {
				t.Errorf("message lacks the row: %v", err)
			}
			if fe.Hint == "" && fe.Row > 0 {
				t.Errorf("no hint: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestReadCSVBadOptions(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil)
	for _, opt := range []CSVOptions{{Delimiter: '"'}, {Delimiter: '\n'}, {RowDelimiter: "\"\n"}, {Delimiter: ';', RowDelimiter: ";\n"}} {
		if _, err := ReadCSV(context.Background(), filesSource{"a.csv": []byte("x\n")}, csvFile("a.csv"), schema, false, opt, memory.DefaultAllocator); err == nil {
			t.Errorf("options %+v accepted", opt)
		}
	}
}

func TestReadCSVChanges(t *testing.T) {
	cfg := gen.Config{Rows: 20, Changes: 40, CDCFiles: 1, Seed: 3}
	schemas := map[string]*arrow.Schema{}
	var rows []gen.TableRow
	want := map[string][]gen.Row{}
	var perTable [][]gen.Row
	for _, table := range []string{"shop.orders", "sales.order_items"} {
		_, cdc, schema, _, err := gen.GenerateChanges(cfg, table)
		if err != nil {
			t.Fatal(err)
		}
		schemas[table] = schema
		want[table] = cdc[0]
		perTable = append(perTable, cdc[0])
	}
	// Interleave the two tables' changes, as a transaction-ordered file does.
	for i := range max(len(perTable[0]), len(perTable[1])) {
		if i < len(perTable[0]) {
			rows = append(rows, gen.TableRow{Table: "shop.orders", Row: perTable[0][i]})
		}
		if i < len(perTable[1]) {
			rows = append(rows, gen.TableRow{Table: "sales.order_items", Row: perTable[1][i]})
		}
	}
	for _, words := range []bool{false, true} {
		var buf bytes.Buffer
		if err := gen.WriteCSVChanges(&buf, schemas, rows, gen.CSVOptions{OpWords: words, NullValue: "NULL"}); err != nil {
			t.Fatal(err)
		}
		p := "cdc/CDC_TXN-20260510100000000.csv"
		got, err := ReadCSVChanges(context.Background(), filesSource{p: buf.Bytes()}, csvFile(p), schemas, CSVOptions{NullValue: "NULL"}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d tables, want 2", len(got))
		}
		for table, d := range got {
			checkDecoded(t, d, schemas[table], want[table])
			d.Release()
		}
	}

	// A row for a table the definition lacks is an error naming the row.
	var buf bytes.Buffer
	if err := gen.WriteCSVChanges(&buf, schemas, rows[:3], gen.CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Replace(buf.Bytes(), []byte(",order_items,sales,"), []byte(",order_lines,sales,"), 1)
	p := "cdc/CDC00001.csv"
	_, err := ReadCSVChanges(context.Background(), filesSource{p: data}, csvFile(p), schemas, CSVOptions{}, memory.DefaultAllocator)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Row != 2 || !strings.Contains(err.Error(), "sales.order_lines") || !strings.Contains(err.Error(), "not in the table definition") {
		t.Fatalf("unknown table: got %v", err)
	}
	// Case-insensitive routing, and a wrong field count for the routed table.
	data = bytes.Replace(buf.Bytes(), []byte(",orders,shop,"), []byte(",ORDERS,Shop,"), -1)
	got, err := ReadCSVChanges(context.Background(), filesSource{p: data}, csvFile(p), schemas, CSVOptions{}, memory.DefaultAllocator)
	if err != nil || got["shop.orders"] == nil {
		t.Fatalf("case-insensitive table names: %v %v", got, err)
	}
	for _, d := range got {
		d.Release()
	}
	_, err = ReadCSVChanges(context.Background(), filesSource{p: []byte("I,orders,shop,1,2\n")}, csvFile(p), schemas, CSVOptions{}, memory.DefaultAllocator)
	if !errors.As(err, &fe) || fe.Row != 1 || !strings.Contains(err.Error(), "want 8") {
		t.Fatalf("field count: got %v", err)
	}
	_, err = ReadCSVChanges(context.Background(), filesSource{p: []byte("MERGE,orders,shop\n")}, csvFile(p), schemas, CSVOptions{}, memory.DefaultAllocator)
	if !errors.As(err, &fe) || fe.Column != OpColumn || !strings.Contains(err.Error(), `"MERGE"`) {
		t.Fatalf("bad op: got %v", err)
	}
}

func TestParseCSVName(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		num  uint64
		ok   bool
	}{
		{"LOAD00000001.csv", Load, 1, true},
		{"LOAD0000000A.csv.gz", Load, 10, true},
		{"LOAD001.csv", Load, 1, true},
		{"LOAD1000.csv", Load, 1000, true},
		{"LOAD0000000a.csv", 0, 0, false},
		{"LOAD00000001.parquet", 0, 0, false},
		{"20260510-100001234.csv", CDC, 20260510100001234, true},
		{"20260510-100001234.csv.gz", CDC, 20260510100001234, true},
		{"20261310-100001234.csv", 0, 0, false},
		{"CDC00001.csv", CDC, 1, true},
		{"CDC100000.csv.gz", CDC, 100000, true},
		{"CDC_TXN-20260510100001234.csv", CDC, 20260510100001234, true},
		{"CDC_TXN-20260510250001234.csv", 0, 0, false}, // hour 25
		{"CDC_TXN-2026051010000123.csv", 0, 0, false},
		{"CDC.csv", 0, 0, false},
		{"notes.csv", 0, 0, false},
		{"LOAD001.csv.gz.tmp", 0, 0, false},
	}
	for _, tc := range tests {
		k, n, ok := ParseCSVName(tc.name)
		if ok != tc.ok || (ok && (k != tc.kind || n != tc.num)) {
			t.Errorf("%s: got %v %d %v, want %v %d %v", tc.name, k, n, ok, tc.kind, tc.num, tc.ok)
		}
	}
	// Numbers order what names do not: CDC99999 < CDC100000.
	_, a, _ := ParseCSVName("CDC99999.csv")
	_, b, _ := ParseCSVName("CDC100000.csv")
	if a >= b {
		t.Errorf("CDC99999 (%d) does not order before CDC100000 (%d)", a, b)
	}
}

// TestReadCSVFixtures reads the hand-written files in testdata/csv.
func TestReadCSVFixtures(t *testing.T) {
	root := filepath.Join("..", "testdata", "csv")
	data, err := os.ReadFile(filepath.Join(root, "tables.json"))
	if err != nil {
		t.Fatal(err)
	}
	defs, err := ParseTableDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*arrow.Schema{}
	for _, d := range defs {
		schemas[d.Ident()] = d.ArrowSchema()
	}
	src := DirSource{Root: root}
	load, err := ReadCSV(context.Background(), src, csvFile("hr/employee/LOAD001.csv"), schemas["hr.employee"], false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Release()
	if load.Record.NumRows() != 3 {
		t.Fatalf("LOAD001.csv: %d rows, want 3", load.Record.NumRows())
	}
	if got := load.Record.Column(1).(*array.String).Value(2); got != "O'Brien, \"Pat\"" {
		t.Errorf("quoted name read as %q", got)
	}
	changes, err := ReadCSVChanges(context.Background(), src, csvFile("cdc/CDC00001.csv"), schemas, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	emp, dept := changes["hr.employee"], changes["hr.department"]
	if emp == nil || dept == nil {
		t.Fatalf("tables routed: %v", changes)
	}
	defer emp.Release()
	defer dept.Release()
	if string(emp.Ops) != "IUD" || string(dept.Ops) != "I" {
		t.Errorf("ops employee %q department %q, want IUD and I", emp.Ops, dept.Ops)
	}
	if !emp.Record.Column(3).IsNull(2) {
		t.Errorf("key-only delete: hired should be null")
	}
}

// FuzzReadCSV: arbitrary bytes give rows or a *FileError naming the file,
// never a panic; with and without header, gzip detection included.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("I,1,\"a,b\",2026-05-10 10:00:00,1.50\nD,2,,,\n"), false)
	f.Add([]byte("Op,id,name,at,amount\nU,1,\"x\"\"y\",2026-05-10,0\n"), true)
	f.Add([]byte("I,1,\"unterminated\n"), false)
	f.Add([]byte("X,1,a,b,c\n"), false)
	f.Add([]byte("\xef\xbb\xbfI,1,a,,\r\n"), false)
	f.Add(gz(nil, "I,1,a,2026-05-10 10:00:00,1\n"), false)
	f.Add([]byte{0x1f, 0x8b, 0, 0}, false)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
	}, nil)
	f.Fuzz(func(t *testing.T, data []byte, header bool) {
		p := "s/t/20260510-100000000.csv"
		d, err := ReadCSV(context.Background(), filesSource{p: data}, csvFile(p), schema, true, CSVOptions{Header: header}, memory.DefaultAllocator)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != p {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		defer d.Release()
		if int(d.Record.NumRows()) != len(d.Ops) || d.Record.NumCols() != 4 {
			t.Fatalf("%d rows, %d ops, %d columns", d.Record.NumRows(), len(d.Ops), d.Record.NumCols())
		}
	})
}
