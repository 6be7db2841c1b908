package reader

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/gen"
)

const docExample = `{"TableCount": "1",
 "Tables": [{"TableName": "table01", "TablePath": "schema01/table01/",
             "TableOwner": "schema01",
             "TableColumns": [{"ColumnName": "id", "ColumnType": "INT8",
                               "ColumnNullable": "false", "ColumnIsPk": "true"},
                              {"ColumnName": "value", "ColumnType": "NUMERIC",
                               "ColumnPrecision": "5", "ColumnScale": "2"}],
             "TableColumnsTotal": "2"}]}`

func TestParseTableDefinitionExample(t *testing.T) {
	defs, err := ParseTableDefinition([]byte(docExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 {
		t.Fatalf("%d tables", len(defs))
	}
	d := defs[0]
	if d.Schema != "schema01" || d.Table != "table01" || d.Path != "schema01/table01/" || d.Ident() != "schema01.table01" {
		t.Errorf("names: %+v", d)
	}
	if strings.Join(d.Key, ",") != "id" {
		t.Errorf("key %v, want [id]", d.Key)
	}
	sc := d.ArrowSchema()
	if !arrow.TypeEqual(sc.Field(0).Type, arrow.PrimitiveTypes.Int64) || !arrow.TypeEqual(sc.Field(1).Type, &arrow.Decimal128Type{Precision: 5, Scale: 2}) {
		t.Errorf("schema %s", sc)
	}
	if d.Columns[0].Nullable || !d.Columns[1].Nullable {
		t.Errorf("nullability %+v", d.Columns)
	}
}

// TestTableDefinitionTypes checks the type mapping against NormalType of the
// Arrow type DMS's Parquet output gives each DMS type, and the NUMERIC
// defaults.
func TestTableDefinitionTypes(t *testing.T) {
	cases := []struct {
		col     string
		parquet arrow.DataType // what DMS writes to Parquet for the type
	}{
		{`"ColumnType":"INT1"`, arrow.PrimitiveTypes.Int8},
		{`"ColumnType":"INT2"`, arrow.PrimitiveTypes.Int16},
		{`"ColumnType":"INT4"`, arrow.PrimitiveTypes.Int32},
		{`"ColumnType":"INT8"`, arrow.PrimitiveTypes.Int64},
		{`"ColumnType":"UINT1"`, arrow.PrimitiveTypes.Uint8},
		{`"ColumnType":"UINT2"`, arrow.PrimitiveTypes.Uint16},
		{`"ColumnType":"UINT4"`, arrow.PrimitiveTypes.Uint32},
		{`"ColumnType":"UINT8"`, arrow.PrimitiveTypes.Uint64},
		{`"ColumnType":"NUMERIC","ColumnPrecision":"12","ColumnScale":"3"`, &arrow.Decimal128Type{Precision: 12, Scale: 3}},
		{`"ColumnType":"NUMERIC"`, &arrow.Decimal128Type{Precision: DefaultNumericPrecision, Scale: DefaultNumericScale}},
		{`"ColumnType":"NUMERIC","ColumnPrecision":"9"`, &arrow.Decimal128Type{Precision: 9, Scale: 0}},
		{`"ColumnType":"NUMERIC","ColumnScale":"4"`, &arrow.Decimal128Type{Precision: 38, Scale: 4}},
		{`"ColumnType":"REAL4"`, arrow.PrimitiveTypes.Float32},
		{`"ColumnType":"REAL8"`, arrow.PrimitiveTypes.Float64},
		{`"ColumnType":"STRING","ColumnLength":"10"`, arrow.BinaryTypes.String},
		{`"ColumnType":"CLOB"`, arrow.BinaryTypes.String},
		{`"ColumnType":"BYTE","ColumnLength":"16"`, arrow.BinaryTypes.Binary},
		{`"ColumnType":"BLOB"`, arrow.BinaryTypes.Binary},
		{`"ColumnType":"DATE"`, arrow.FixedWidthTypes.Date32},
		{`"ColumnType":"TIME"`, arrow.FixedWidthTypes.Time32ms},
		{`"ColumnType":"DATETIME","ColumnScale":"3"`, &arrow.TimestampType{Unit: arrow.Millisecond}},
		{`"ColumnType":"datetime"`, &arrow.TimestampType{Unit: arrow.Microsecond}},
		{`"ColumnType":"BOOLEAN"`, arrow.FixedWidthTypes.Boolean},
	}
	for _, c := range cases {
		doc := `{"Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[{"ColumnName":"c",` + c.col + `}]}]}`
		defs, err := ParseTableDefinition([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", c.col, err)
			continue
		}
		want, err := NormalType(c.parquet, false)
		if err != nil {
			t.Fatal(err)
		}
		got := defs[0].ArrowSchema().Field(0)
		if !arrow.TypeEqual(got.Type, want) {
			t.Errorf("%s: %s, want %s", c.col, got.Type, want)
		}
		if typ, _ := csvMeta(got.Metadata, MetaDMSType); typ != defs[0].Columns[0].Type || typ == "" {
			t.Errorf("%s: metadata type %q", c.col, typ)
		}
	}
}

// TestTableDefinitionFromGen: the generator's definition parses to the
// generator's own schemas and keys.
func TestTableDefinitionFromGen(t *testing.T) {
	var buf bytes.Buffer
	tables := []string{"shop.orders", "shop.order_items"}
	if err := gen.WriteTableDefinition(&buf, tables); err != nil {
		t.Fatal(err)
	}
	defs, err := ParseTableDefinition(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	for i, name := range tables {
		_, _, schema, keys, err := gen.GenerateChanges(gen.Config{}, name)
		if err != nil {
			t.Fatal(err)
		}
		if defs[i].Ident() != name {
			t.Errorf("table %d is %s, want %s", i, defs[i].Ident(), name)
		}
		if strings.Join(defs[i].Key, ",") != strings.Join(keys, ",") {
			t.Errorf("%s: key %v, want %v", name, defs[i].Key, keys)
		}
		got := defs[i].ArrowSchema()
		if got.NumFields() != schema.NumFields() {
			t.Fatalf("%s: %d fields, want %d", name, got.NumFields(), schema.NumFields())
		}
		for j, f := range schema.Fields() {
			if got.Field(j).Name != f.Name || !arrow.TypeEqual(got.Field(j).Type, f.Type) {
				t.Errorf("%s field %d: %s %s, want %s %s", name, j, got.Field(j).Name, got.Field(j).Type, f.Name, f.Type)
			}
		}
	}
}

func definitionProblems(t *testing.T, doc string) []DefinitionProblem {
	t.Helper()
	_, err := ParseTableDefinition([]byte(doc))
	var de *DefinitionError
	if !errors.As(err, &de) {
		t.Fatalf("not a *DefinitionError: %v\n%s", err, doc)
	}
	if !strings.Contains(err.Error(), "problem") {
		t.Errorf("message %q", err)
	}
	return de.Problems
}

func TestTableDefinitionMistakes(t *testing.T) {
	col := func(s string) string {
		return `{"TableCount":"1","Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"},` + s + `]}]}`
	}
	cases := []struct {
		name, doc     string
		table, column string
		want          string
	}{
		{"unknown type", col(`{"ColumnName":"x","ColumnType":"VARCHAR2"}`), "s.t", `"x"`, `unknown ColumnType "VARCHAR2"`},
		{"TIMESTAMP", col(`{"ColumnName":"x","ColumnType":"TIMESTAMP"}`), "s.t", `"x"`, "use DATETIME"},
		{"missing type", col(`{"ColumnName":"x"}`), "s.t", `"x"`, "ColumnType is missing"},
		{"precision > 38", col(`{"ColumnName":"x","ColumnType":"NUMERIC","ColumnPrecision":"40","ColumnScale":"2"}`), "s.t", `"x"`, "ColumnPrecision 40 is out of range"},
		{"scale > precision", col(`{"ColumnName":"x","ColumnType":"NUMERIC","ColumnPrecision":"5","ColumnScale":"7"}`), "s.t", `"x"`, "ColumnScale 7 is larger than ColumnPrecision 5"},
		{"scale > 31", col(`{"ColumnName":"x","ColumnType":"NUMERIC","ColumnPrecision":"38","ColumnScale":"32"}`), "s.t", `"x"`, "ColumnScale 32 is out of range"},
		{"datetime scale", col(`{"ColumnName":"x","ColumnType":"DATETIME","ColumnScale":"12"}`), "s.t", `"x"`, "DATETIME scale is 0 to 9"},
		{"non-numeric length", col(`{"ColumnName":"x","ColumnType":"STRING","ColumnLength":"ten"}`), "s.t", `"x"`, `ColumnLength "ten" is not a non-negative whole number`},
		{"number not string", col(`{"ColumnName":"x","ColumnType":"STRING","ColumnLength":10}`), "s.t", `"x"`, "every value in a DMS table definition is a JSON string"},
		{"bad bool", col(`{"ColumnName":"x","ColumnType":"STRING","ColumnIsPk":"yes"}`), "s.t", `"x"`, `ColumnIsPk "yes" is neither`},
		{"nullable key", col(`{"ColumnName":"x","ColumnType":"STRING","ColumnIsPk":"true","ColumnNullable":"true"}`), "s.t", `"x"`, "a key column cannot be null"},
		{"duplicate column", col(`{"ColumnName":"ID","ColumnType":"INT8"}`), "s.t", `"ID"`, `duplicate column name (clashes with "id"`},
		{"column without name", col(`{"ColumnType":"INT8"}`), "s.t", "TableColumns[1]", "ColumnName is missing"},
		{"unknown key", col(`{"ColumnName":"x","ColumnType":"INT8","ColumnIsPK":"true"}`), "s.t", `"x"`, `did you mean "ColumnIsPk"`},
		{"bad date format", col(`{"ColumnName":"x","ColumnType":"DATE","ColumnDateFormat":"YYYY-QQ"}`), "s.t", `"x"`, `"QQ" is not a date element`},
		{"TableColumnsTotal", `{"Tables":[{"TableName":"t","TableOwner":"s","TableColumnsTotal":"3","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"}]}]}`, "s.t", "", "TableColumnsTotal is 3 but TableColumns lists 1"},
		{"TableCount", `{"TableCount":"2","Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"}]}]}`, "", "", "TableCount is 2 but Tables lists 1"},
		{"no columns", `{"Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[]}]}`, "s.t", "", "TableColumns is empty"},
		{"columns absent", `{"Tables":[{"TableName":"t","TableOwner":"s"}]}`, "s.t", "", "no TableColumns"},
		{"no owner", `{"Tables":[{"TableName":"t","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"}]}]}`, "Tables[0]", "", "TableOwner is missing"},
		{"duplicate table", `{"Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"}]},{"TableName":"T","TableOwner":"s","TableColumns":[{"ColumnName":"id","ColumnType":"INT4"}]}]}`, "s.T", "", "defined twice"},
		{"no tables", `{"TableCount":"0","Tables":[]}`, "", "", `"Tables" is empty`},
		{"not JSON", `{"Tables": [`, "", "", "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := definitionProblems(t, c.doc)
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1: %v", len(ps), ps)
			}
			p := ps[0]
			if p.Table != c.table || p.Column != c.column || !strings.Contains(p.Msg, c.want) {
				t.Errorf("got table %q column %q msg %q; want %q %q %q", p.Table, p.Column, p.Msg, c.table, c.column, c.want)
			}
		})
	}
}

func TestTableDefinitionSeveralMistakes(t *testing.T) {
	doc := `{"TableCount":"3","Tables":[
	 {"TableName":"a","TableOwner":"s","TableColumns":[
	   {"ColumnName":"id","ColumnType":"TIMESTAMP"},
	   {"ColumnName":"n","ColumnType":"NUMERIC","ColumnPrecision":"39"}]},
	 {"TableName":"b","TableOwner":"s","TableColumnsTotal":"1","TableColumns":[
	   {"ColumnName":"x","ColumnType":"STRING","ColumnLength":"-1"},
	   {"ColumnName":"X","ColumnType":"INT4"}]}]}`
	ps := definitionProblems(t, doc)
	want := []DefinitionProblem{
		{"", "", "TableCount is 3"},
		{"s.a", `"id"`, "use DATETIME"},
		{"s.a", `"n"`, "ColumnPrecision 39"},
		{"s.b", "", "TableColumnsTotal is 1"},
		{"s.b", `"x"`, `ColumnLength "-1"`},
		{"s.b", `"X"`, "duplicate column name"},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(ps), len(want), ps)
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			if p.Table == w.Table && p.Column == w.Column && strings.Contains(p.Msg, w.Msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("problem %v not reported; got %v", w, ps)
		}
	}
	_, err := ParseTableDefinition([]byte(doc))
	if !strings.Contains(err.Error(), "6 problems") || strings.Count(err.Error(), "\n") != 6 {
		t.Errorf("message does not list every problem:\n%v", err)
	}
}

func TestDateFormat(t *testing.T) {
	doc := `{"Tables":[{"TableName":"t","TableOwner":"s","TableColumns":[
	 {"ColumnName":"d","ColumnType":"DATE","ColumnDateFormat":"dd/MM/YYYY"},
	 {"ColumnName":"ts","ColumnType":"DATETIME","ColumnDateFormat":"YYYY-MM-dd HH:mm:ss.SSS"}]}]}`
	defs, err := ParseTableDefinition([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := "s/t/LOAD001.csv"
	d, err := ReadCSV(t.Context(), filesSource{p: []byte("31/12/2025,2026-05-10 10:00:00.250\n")}, csvFile(p), defs[0].ArrowSchema(), false, CSVOptions{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if got := goValueOf(t, d.Record.Column(0), 0); got != gen.DateOf(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date %v, want 2025-12-31", got)
	}
	if got := goValueOf(t, d.Record.Column(1), 0).(gen.Timestamp); got.String() != "2026-05-10 10:00:00.250000" {
		t.Errorf("timestamp %v", got)
	}
}
