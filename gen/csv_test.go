package gen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestWriteCSVQuoting(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 5, Scale: 2}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	rows := [][]any{
		{int64(1), `a,"b"`, NewDecimal(-5, 2), []byte{0xde, 0xad}},
		{int64(2), "", nil, nil},
		{int64(3), "NULL", NewDecimal(12345, 2), []byte{}},
		{int64(4), "x\ny", NewDecimal(0, 2), nil},
	}
	cases := []struct {
		opt  CSVOptions
		want string
	}{
		{CSVOptions{}, "1,\"a,\"\"b\"\"\",-0.05,DEAD\n2,\"\",,\n3,NULL,123.45,\"\"\n4,\"x\ny\",0.00,\n"},
		{CSVOptions{NullValue: "NULL", Delimiter: '|', Header: true}, "id|s|amount|b\n1|a,\"\"b\"\"|-0.05|DEAD\n2|\"\"|NULL|NULL\n3|\"NULL\"|123.45|\"\"\n4|\"x\ny\"|0.00|NULL\n"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := WriteCSV(&buf, schema, rows, c.opt); err != nil {
			t.Fatal(err)
		}
		// a,"b" needs quoting for the quote even when ',' is not the delimiter.
		want := strings.Replace(c.want, "1|a,\"\"b\"\"|", "1|\"a,\"\"b\"\"\"|", 1)
		if buf.String() != want {
			t.Errorf("%+v:\ngot  %q\nwant %q", c.opt, buf.String(), want)
		}
	}
	if err := WriteCSV(io.Discard, schema, [][]any{{int64(1)}}, CSVOptions{}); err == nil {
		t.Error("short row accepted")
	}
	if err := WriteCSV(io.Discard, schema, [][]any{{"x", nil, nil, nil}}, CSVOptions{}); err == nil {
		t.Error("string in an int64 column accepted")
	}
}

func TestGenerateCSV(t *testing.T) {
	cfg := Config{Rows: 10, Changes: 12, CDCFiles: 2, Seed: 1, Tables: []string{"s.orders"}}
	run := func() map[string][]byte {
		dir := t.TempDir()
		sum, err := GenerateCSV(context.Background(), DirSink(dir), cfg, CSVOptions{Gzip: true})
		if err != nil {
			t.Fatal(err)
		}
		ts := sum.Tables[0]
		if len(ts.LoadFiles) != 1 || ts.LoadFiles[0] != "s/orders/LOAD00000001.csv.gz" || len(ts.CDCFiles) != 2 {
			t.Fatalf("files %v %v", ts.LoadFiles, ts.CDCFiles)
		}
		for _, p := range ts.CDCFiles {
			if !regexp.MustCompile(`^s/orders/\d{8}-\d{9}\.csv\.gz$`).MatchString(p) {
				t.Errorf("CDC file name %s", p)
			}
		}
		if ts.Changes != 12 || ts.Inserts+ts.Updates+ts.Deletes != 12 {
			t.Errorf("summary %+v", ts)
		}
		return readTree(t, dir)
	}
	a, b := run(), run()
	if len(a) != 3 {
		t.Fatalf("%d files", len(a))
	}
	for p, data := range a {
		if !bytes.Equal(data, b[p]) {
			t.Errorf("%s differs between runs", p)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(plain), "\n")
		if strings.Contains(p, "LOAD") && lines != 10 {
			t.Errorf("%s: %d lines, want 10", p, lines)
		}
		if !strings.Contains(p, "LOAD") && !regexp.MustCompile(`^[IUD],`).Match(plain) {
			t.Errorf("%s: CDC rows do not start with the op: %.40q", p, plain)
		}
	}
}

func TestWriteTableDefinition(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTableDefinition(&buf, []string{"shop.order_items"}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TableCount string
		Tables     []struct {
			TableName, TablePath, TableOwner, TableColumnsTotal string
			TableColumns                                        []map[string]string
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.TableCount != "1" || len(doc.Tables) != 1 {
		t.Fatalf("%+v", doc)
	}
	tb := doc.Tables[0]
	if tb.TableName != "order_items" || tb.TableOwner != "shop" || tb.TablePath != "shop/order_items/" || tb.TableColumnsTotal != "7" || len(tb.TableColumns) != 7 {
		t.Errorf("table %+v", tb)
	}
	byName := map[string]map[string]string{}
	for _, c := range tb.TableColumns {
		byName[c["ColumnName"]] = c
	}
	if c := byName["price"]; c["ColumnType"] != "NUMERIC" || c["ColumnPrecision"] != "10" || c["ColumnScale"] != "2" {
		t.Errorf("price %v", c)
	}
	if c := byName["line_no"]; c["ColumnType"] != "INT4" || c["ColumnIsPk"] != "true" || c["ColumnNullable"] != "false" {
		t.Errorf("line_no %v", c)
	}
	if c := byName["updated_at"]; c["ColumnType"] != "DATETIME" {
		t.Errorf("updated_at %v", c)
	}
	if c := byName["sku"]; c["ColumnIsPk"] != "false" || c["ColumnType"] != "STRING" {
		t.Errorf("sku %v", c)
	}
	if err := WriteTableDefinition(io.Discard, []string{"shop.nope"}); err == nil {
		t.Error("unknown table accepted")
	}
}
