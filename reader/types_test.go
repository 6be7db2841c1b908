package reader

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/gen"
)

// typeCase is one row of docs/types.md: a column written as DMS writes it,
// either to Parquet (from an Arrow type and a gen value) or to CSV (text
// typed by a table definition column).
type typeCase struct {
	arrow arrow.DataType    // Parquet: the column's type as written
	value any               // Parquet: gen's Go value, nil for null
	opts  []gen.WriteOption // Parquet: writer layout options
	def   string            // CSV: the definition column's fields after ColumnName
	csv   string            // CSV: the field as written
}

func bigDecimal(s string, scale int32) gen.Decimal {
	u, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return gen.Decimal{Unscaled: u, Scale: scale}
}

func tsMicros(s string) gen.Timestamp {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return gen.TimestampOf(t)
}

var (
	str      = arrow.BinaryTypes.String
	localUS  = &arrow.TimestampType{Unit: arrow.Microsecond}
	typeRows = map[string]typeCase{
		"mysql-tinyint":           {arrow: arrow.PrimitiveTypes.Int8, value: int8(math.MinInt8)},
		"mysql-smallint-unsigned": {arrow: arrow.PrimitiveTypes.Uint16, value: uint16(math.MaxUint16)},
		"mysql-int-unsigned":      {arrow: arrow.PrimitiveTypes.Uint32, value: uint32(math.MaxUint32)},
		"mysql-bigint":            {arrow: arrow.PrimitiveTypes.Int64, value: int64(math.MinInt64)},
		"mysql-bigint-unsigned":   {arrow: arrow.PrimitiveTypes.Uint64, value: uint64(math.MaxUint64)},
		"mysql-year":              {arrow: arrow.PrimitiveTypes.Int16, value: int16(2026)},
		"mysql-decimal":           {arrow: &arrow.Decimal128Type{Precision: 10, Scale: 2}, value: gen.NewDecimal(1234567890, 2)},
		"mysql-float":             {arrow: arrow.PrimitiveTypes.Float32, value: float32(1.5)},
		"mysql-double":            {arrow: arrow.PrimitiveTypes.Float64, value: -2.25e-300},
		"mysql-bit":               {arrow: arrow.FixedWidthTypes.Boolean, value: true},
		"mysql-varchar":           {arrow: str, value: "héllo ✓"},
		"mysql-json":              {arrow: str, value: `{"a": [1, 2]}`},
		"mysql-enum":              {arrow: str, value: "large"},
		"mysql-set":               {arrow: str, value: "a,c"},
		"mysql-blob":              {arrow: arrow.BinaryTypes.Binary, value: []byte{0x00, 0xff, 0x10}},
		"mysql-date":              {arrow: arrow.FixedWidthTypes.Date32, value: gen.DateOf(time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC))},
		"mysql-zero-date":         {arrow: arrow.FixedWidthTypes.Date32, value: nil},
		"mysql-zero-date-csv":     {def: `"ColumnType": "DATE"`, csv: "0000-00-00"},
		"mysql-zero-datetime-csv": {def: `"ColumnType": "DATETIME", "ColumnScale": "6"`, csv: "0000-00-00 00:00:00"},
		"mysql-time":              {arrow: str, value: "838:59:59"},
		"mysql-datetime":          {arrow: localUS, value: tsMicros("2026-05-10 10:00:00.123456")},
		"mysql-timestamp":         {arrow: localUS, value: tsMicros("2026-05-10 08:00:00")},
		"pg-boolean":              {arrow: str, value: "true"},
		"pg-boolean-mapped":       {arrow: arrow.FixedWidthTypes.Boolean, value: false},
		"pg-boolean-csv":          {def: `"ColumnType": "BOOLEAN"`, csv: "t"},
		"pg-boolean-csv-string":   {def: `"ColumnType": "STRING", "ColumnLength": "5"`, csv: "false"},
		"pg-numeric":              {arrow: &arrow.Decimal128Type{Precision: 38, Scale: 10}, value: bigDecimal("-12345678901234567890123456780123456789", 10)},
		"pg-numeric-over-38":      {arrow: str, value: "123456789012345678901234567890123456789012345.12345"},
		"pg-numeric-unbounded":    {arrow: &arrow.Decimal128Type{Precision: 28, Scale: 6}, value: gen.NewDecimal(1_500_000, 6)},
		"pg-numeric-csv":          {def: `"ColumnType": "NUMERIC", "ColumnPrecision": "12", "ColumnScale": "2"`, csv: "-0.50"},
		"pg-jsonb":                {arrow: str, value: `{"k": "v"}`},
		"pg-uuid":                 {arrow: str, value: "0b7e3c3a-6f1e-4c1a-9d3e-2f0c5a7b9e11"},
		"pg-interval":             {arrow: str, value: "1 day 02:00:00"},
		"pg-array":                {arrow: str, value: "{1,2,3}"},
		"pg-bytea":                {arrow: arrow.BinaryTypes.Binary, value: []byte{0xde, 0xad}},
		"pg-timestamptz":          {arrow: localUS, value: tsMicros("2026-05-10 10:00:00")},
		"pg-smallint":             {arrow: arrow.PrimitiveTypes.Int16, value: int16(math.MinInt16)},
		"dms-time-millis":         {arrow: arrow.FixedWidthTypes.Time32ms, value: gen.Time((12*3600+34*60+56)*1_000_000 + 789_000)},
		"dms-timestamp-millis":    {arrow: &arrow.TimestampType{Unit: arrow.Millisecond}, value: tsMicros("2026-05-10 10:00:00.123")},
		"dms-timestamp-utc":       {arrow: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, value: tsMicros("2026-05-10 10:00:00.5")},
		"dms-timestamp-int96":     {arrow: localUS, value: tsMicros("2026-05-10 10:00:00.123456"), opts: []gen.WriteOption{gen.WithInt96Timestamps()}},
		"dms-int64-plain":         {arrow: arrow.PrimitiveTypes.Int64, value: int64(1778407200123456)},
		"dms-decimal-int32":       {arrow: &arrow.Decimal128Type{Precision: 9, Scale: 2}, value: gen.NewDecimal(-999999999, 2), opts: []gen.WriteOption{gen.WithDecimalAsInteger()}},
		"dms-decimal-int64":       {arrow: &arrow.Decimal128Type{Precision: 18, Scale: 4}, value: gen.NewDecimal(123456789012345678, 4), opts: []gen.WriteOption{gen.WithDecimalAsInteger()}},
		"dms-uint8-csv":           {def: `"ColumnType": "UINT8"`, csv: "18446744073709551615"},
		"dms-datetime-csv":        {def: `"ColumnType": "DATETIME", "ColumnScale": "6"`, csv: "2026-05-10 10:00:00.123456789"},
	}
)

// docTypeRow is a row of the table in docs/types.md.
type docTypeRow struct {
	name, written, iceberg, value string
}

func docTypeRows(t *testing.T) []docTypeRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "types.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []docTypeRow
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) != 7 {
			t.Fatalf("docs/types.md row %q has %d cells, want 7", line, len(cells))
		}
		unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		rows = append(rows, docTypeRow{name: unquote(cells[0]), written: cells[3], iceberg: unquote(cells[5]), value: unquote(cells[6])})
	}
	if len(rows) == 0 {
		t.Fatal("docs/types.md has no type rows")
	}
	return rows
}

// readable renders row 0 of a column the way docs/types.md shows values.
func readable(col arrow.Array) string {
	if col.IsNull(0) {
		return "null"
	}
	switch c := col.(type) {
	case *array.String:
		return `"` + c.Value(0) + `"`
	case *array.Binary:
		return fmt.Sprintf("0x%x", c.Value(0))
	case *array.Decimal128:
		return c.Value(0).ToString(c.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Date32:
		return c.Value(0).ToTime().Format("2006-01-02")
	case *array.Time64:
		return time.UnixMicro(int64(c.Value(0))).UTC().Format("15:04:05.000000")
	case *array.Timestamp:
		s := time.UnixMicro(int64(c.Value(0))).UTC().Format("2006-01-02 15:04:05.000000")
		if c.DataType().(*arrow.TimestampType).TimeZone != "" {
			s += " UTC"
		}
		return s
	}
	return col.ValueStr(0)
}

// readTypeCase writes the case's file and reads it as a run does; it
// returns the column read and, for Parquet, the column's physical type in
// the file.
func readTypeCase(t *testing.T, name string, tc typeCase) (arrow.Array, string) {
	t.Helper()
	ctx := context.Background()
	var d *Decoded
	var err error
	physical := ""
	if tc.def != "" {
		def := fmt.Sprintf(`{"TableCount": "1", "Tables": [{"TableName": "t", "TablePath": "s/t/", "TableOwner": "s", "TableColumnsTotal": "2",
			"TableColumns": [{"ColumnName": "id", "ColumnType": "INT8", "ColumnIsPk": "true", "ColumnNullable": "false"}, {"ColumnName": "v", %s}]}]}`, tc.def)
		defs, perr := ParseTableDefinition([]byte(def))
		if perr != nil {
			t.Fatalf("%s: definition: %v", name, perr)
		}
		f := File{Object: Object{Path: "s/t/LOAD00000001.csv"}, Name: "LOAD00000001.csv", Kind: Load, Format: CSV}
		d, err = ReadCSV(ctx, filesSource{f.Path: []byte("1," + tc.csv + "\n")}, f, defs[0].ArrowSchema(), false, CSVOptions{}, memory.DefaultAllocator)
	} else {
		var buf bytes.Buffer
		sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: tc.arrow, Nullable: true}}, nil)
		if werr := gen.WriteParquet(nopWriteCloser{&buf}, sc, [][]any{{int64(1), tc.value}}, tc.opts...); werr != nil {
			t.Fatalf("%s: writing Parquet: %v", name, werr)
		}
		pr, perr := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
		if perr != nil {
			t.Fatalf("%s: %v", name, perr)
		}
		physical = pr.MetaData().Schema.Column(1).PhysicalType().String()
		pr.Close()
		f := File{Object: Object{Path: "s/t/LOAD00000001.parquet"}, Name: "LOAD00000001.parquet", Kind: Load, Format: Parquet}
		d, err = ReadFile(ctx, filesSource{f.Path: buf.Bytes()}, f, memory.DefaultAllocator)
	}
	if err != nil {
		t.Fatalf("%s: reading: %v", name, err)
	}
	t.Cleanup(d.Release)
	i := ColumnIndex(d.Record.Schema(), "v")
	if i < 0 || d.Record.NumRows() != 1 {
		t.Fatalf("%s: read %v", name, d.Record)
	}
	return d.Record.Column(i), physical
}

type nopWriteCloser struct{ *bytes.Buffer }

func (nopWriteCloser) Close() error { return nil }

// TestDocumentedTypes: every row of the type table in docs/types.md is a
// case here, and the other way round; each case's file, read as a run
// reads it, gives the Iceberg type and the value the row shows.
func TestDocumentedTypes(t *testing.T) {
	rows := docTypeRows(t)
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Errorf("docs/types.md lists case %s twice", row.name)
		}
		seen[row.name] = true
		tc, ok := typeRows[row.name]
		if !ok {
			t.Errorf("docs/types.md row %s has no test case in reader/types_test.go", row.name)
			continue
		}
		if csvRow := strings.HasPrefix(row.written, "CSV"); csvRow != (tc.def != "") {
			t.Errorf("%s: docs/types.md says the file is %q, the case writes CSV=%v", row.name, row.written, tc.def != "")
		}
		col, physical := readTypeCase(t, row.name, tc)
		if want, _, _ := strings.Cut(strings.TrimPrefix(row.written, "Parquet "), ","); physical != "" && strings.Fields(want)[0] != physical {
			t.Errorf("%s: the file has physical type %s, docs/types.md says %q", row.name, physical, row.written)
		}
		it, err := table.ArrowTypeToIceberg(col.DataType(), true)
		if err != nil {
			t.Errorf("%s: %s has no Iceberg type: %v", row.name, col.DataType(), err)
			continue
		}
		if it.String() != row.iceberg {
			t.Errorf("%s: Iceberg type %s, docs/types.md says %s", row.name, it, row.iceberg)
		}
		if got := readable(col); got != row.value {
			t.Errorf("%s: read %s, docs/types.md says %s", row.name, got, row.value)
		}
	}
	for name := range typeRows {
		if !seen[name] {
			t.Errorf("test case %s is not documented in docs/types.md", name)
		}
	}
}
