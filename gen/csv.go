package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVOptions is the DMS CSV dialect WriteCSV writes (the S3 endpoint
// settings of the same names). The zero value is DMS's default: comma,
// "\n", no header, nulls as empty fields, no compression.
type CSVOptions struct {
	Delimiter    rune   // CsvDelimiter; 0 means ','
	RowDelimiter string // CsvRowDelimiter; "" means "\n"
	Header       bool   // AddColumnName: a first row of column names
	NullValue    string // CsvNullValue: written for nulls (default "": an empty field)
	Gzip         bool   // CompressionType=GZIP: the file is gzip-compressed
	// OpWords writes INSERT/UPDATE/DELETE instead of I/U/D (S3-source style).
	OpWords bool
}

func (o CSVOptions) withDefaults() CSVOptions {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.RowDelimiter == "" {
		o.RowDelimiter = "\n"
	}
	return o
}

// WriteCSV writes rows (Go values as for WriteParquet) with their schema
// as one DMS CSV file. Quoting follows RFC 4180: a field is quoted when it
// holds the delimiter, a quote, a CR or LF or any byte of the row
// delimiter; inner quotes are doubled. A string equal to the null marker,
// and the empty string, are quoted too, so they read back as strings and
// not as null. Formats: integers and floats in Go's shortest exact form,
// booleans true/false, decimals plain (-12.34), dates yyyy-MM-dd, times
// HH:mm:ss.SSSSSS, timestamps yyyy-MM-dd HH:mm:ss.SSSSSS, binaries upper-
// case hex.
func WriteCSV(w io.Writer, schema *arrow.Schema, rows [][]any, opt CSVOptions) error {
	opt = opt.withDefaults()
	var out io.Writer = w
	var zw *gzip.Writer
	if opt.Gzip {
		zw = gzip.NewWriter(w)
		zw.ModTime = time.Time{} // byte-identical output for the same input
		out = zw
	}
	bw := bufio.NewWriter(out)
	if opt.Header {
		names := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			names[i] = f.Name
		}
		writeCSVRow(bw, names, nil, opt)
	}
	nf := schema.NumFields()
	fields := make([]string, nf)
	isNull := make([]bool, nf)
	// Values are checked against their column types as WriteParquet does,
	// by appending them to a builder.
	check := make([]array.Builder, nf)
	for i, f := range schema.Fields() {
		check[i] = array.NewBuilder(memory.DefaultAllocator, f.Type)
		defer check[i].Release()
	}
	for r, row := range rows {
		if len(row) != nf {
			return fmt.Errorf("gen: row %d has %d values, schema has %d fields", r, len(row), nf)
		}
		for c, v := range row {
			if v != nil {
				if err := appendValue(check[c], schema.Field(c).Type, v); err != nil {
					return fmt.Errorf("gen: row %d column %q: %w", r, schema.Field(c).Name, err)
				}
			}
			s, err := csvValue(v, schema.Field(c).Type, opt)
			if err != nil {
				return fmt.Errorf("gen: row %d column %q: %w", r, schema.Field(c).Name, err)
			}
			fields[c], isNull[c] = s, v == nil
		}
		writeCSVRow(bw, fields, isNull, opt)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

func writeCSVRow(w *bufio.Writer, fields []string, isNull []bool, opt CSVOptions) {
	for i, f := range fields {
		if i > 0 {
			w.WriteRune(opt.Delimiter)
		}
		if isNull != nil && isNull[i] {
			w.WriteString(opt.NullValue)
			continue
		}
		if needsQuote(f, opt) {
			w.WriteByte('"')
			w.WriteString(strings.ReplaceAll(f, `"`, `""`))
			w.WriteByte('"')
		} else {
			w.WriteString(f)
		}
	}
	w.WriteString(opt.RowDelimiter)
}

func needsQuote(f string, opt CSVOptions) bool {
	return f == "" || f == opt.NullValue || strings.ContainsRune(f, opt.Delimiter) ||
		strings.ContainsAny(f, "\"\r\n"+opt.RowDelimiter)
}

// csvValue formats one Go value of a column of type t (nil: "", the
// caller writes the null marker).
func csvValue(v any, t arrow.DataType, opt CSVOptions) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if t.ID() == arrow.BINARY {
			return strings.ToUpper(hex.EncodeToString([]byte(x))), nil
		}
		return x, nil
	case []byte:
		return strings.ToUpper(hex.EncodeToString(x)), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case Decimal:
		return x.String(), nil
	case Date:
		return x.String(), nil
	case Time:
		return x.String(), nil
	case Timestamp:
		return x.String(), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	}
	if n, ok := asInt64(v); ok {
		return strconv.FormatInt(n, 10), nil
	}
	return "", mismatch(v, t)
}

// csvFileExt is the name suffix of CSV files for opt.
func csvFileExt(opt CSVOptions) string {
	if opt.Gzip {
		return ".csv.gz"
	}
	return ".csv"
}

// GenerateCSV is Generate writing DMS CSV instead of Parquet: the same rows
// (GenerateChanges), the same layout and names with a .csv (or .csv.gz)
// suffix: <schema>/<table>/LOAD00000001.csv, <schema>/<table>/yyyyMMdd-
// HHmmssSSS.csv. LOAD files hold the table's columns (commit_ts first), CDC
// files the Op column first. cfg.Compression is ignored; opt says how the
// files are written.
func GenerateCSV(ctx context.Context, sink Sink, cfg Config, opt CSVOptions) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	ext := csvFileExt(opt)
	var sum Summary
	for _, name := range cfg.Tables {
		schemaName, tableName, err := splitTable(name)
		if err != nil {
			return sum, err
		}
		load, cdc, schema, _, err := generateChanges(cfg, name)
		if err != nil {
			return sum, err
		}
		ts := TableSummary{Table: name, LoadRows: len(load)}
		dir := schemaName + "/" + tableName + "/"
		for _, part := range splitEven(len(load), cfg.LoadFiles) {
			if len(part) == 0 {
				continue
			}
			rows := make([][]any, 0, len(part))
			for _, r := range load[part[0] : part[len(part)-1]+1] {
				rows = append(rows, r.Values)
			}
			p := dir + fmt.Sprintf("LOAD%08X", len(ts.LoadFiles)+1) + ext
			if err := writeCSVFile(ctx, sink, p, schema, rows, opt); err != nil {
				return sum, err
			}
			ts.LoadFiles = append(ts.LoadFiles, p)
		}
		cdcSchema := withOp(schema)
		names := cdcFileNames(cdc)
		for i, file := range cdc {
			rows := make([][]any, 0, len(file))
			for _, r := range file {
				rows = append(rows, append([]any{opName(r.Op, opt)}, r.Values...))
				ts.count(r.Op)
			}
			p := cdcPath(dir, names[i], cfg.DatePartition, ext)
			if err := writeCSVFile(ctx, sink, p, cdcSchema, rows, opt); err != nil {
				return sum, err
			}
			ts.CDCFiles = append(ts.CDCFiles, p)
		}
		sum.Tables = append(sum.Tables, ts)
	}
	return sum, nil
}

func opName(op string, opt CSVOptions) string {
	if !opt.OpWords {
		return op
	}
	switch op {
	case "I":
		return "INSERT"
	case "U":
		return "UPDATE"
	case "D":
		return "DELETE"
	}
	return op
}

func writeCSVFile(ctx context.Context, sink Sink, p string, schema *arrow.Schema, rows [][]any, opt CSVOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, schema, rows, opt); err != nil {
		return fmt.Errorf("gen: %s: %w", p, err)
	}
	return writeFile(ctx, sink, p, buf.Bytes())
}

// TableRow is one row of a multi-table S3-source CDC file.
type TableRow struct {
	Table string // "schema.table"
	Row   Row    // Op "I", "U" or "D"; Values in the table schema's order
}

// WriteCSVChanges writes rows of several tables as one CDC file of a DMS S3
// source (CDC00001.csv, CDC_TXN-*.csv): op,table,schema,values... with no
// header (opt.Header is ignored). schemas maps each "schema.table" to its
// schema.
func WriteCSVChanges(w io.Writer, schemas map[string]*arrow.Schema, rows []TableRow, opt CSVOptions) error {
	opt.Header = false
	var buf bytes.Buffer
	for i, tr := range rows {
		sch, ok := schemas[tr.Table]
		if !ok {
			return fmt.Errorf("gen: row %d: no schema for table %q", i, tr.Table)
		}
		schemaName, tableName, err := splitTable(tr.Table)
		if err != nil {
			return err
		}
		fields := append([]arrow.Field{
			{Name: OpColumn, Type: arrow.BinaryTypes.String},
			{Name: "table", Type: arrow.BinaryTypes.String},
			{Name: "schema", Type: arrow.BinaryTypes.String},
		}, sch.Fields()...)
		vals := append([]any{opName(tr.Row.Op, opt), tableName, schemaName}, tr.Row.Values...)
		if err := WriteCSV(&buf, arrow.NewSchema(fields, nil), [][]any{vals}, CSVOptions{Delimiter: opt.Delimiter, RowDelimiter: opt.RowDelimiter, NullValue: opt.NullValue}); err != nil {
			return fmt.Errorf("gen: row %d: %w", i, err)
		}
	}
	if !opt.Gzip {
		_, err := w.Write(buf.Bytes())
		return err
	}
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// DMSColumnType returns the external-table-definition column (ColumnType
// and, for NUMERIC and DATETIME, precision and scale) for an Arrow type, the
// inverse of reader.TableDef's mapping for the types the generator uses.
func DMSColumnType(t arrow.DataType) (typ string, precision, scale int, err error) {
	switch x := t.(type) {
	case *arrow.Int8Type:
		return "INT1", 0, 0, nil
	case *arrow.Int16Type:
		return "INT2", 0, 0, nil
	case *arrow.Int32Type:
		return "INT4", 0, 0, nil
	case *arrow.Int64Type:
		return "INT8", 0, 0, nil
	case *arrow.Uint8Type:
		return "UINT1", 0, 0, nil
	case *arrow.Uint16Type:
		return "UINT2", 0, 0, nil
	case *arrow.Uint32Type:
		return "UINT4", 0, 0, nil
	case *arrow.Uint64Type:
		return "UINT8", 0, 0, nil
	case *arrow.Float32Type:
		return "REAL4", 0, 0, nil
	case *arrow.Float64Type:
		return "REAL8", 0, 0, nil
	case *arrow.BooleanType:
		return "BOOLEAN", 0, 0, nil
	case *arrow.StringType:
		return "STRING", 0, 0, nil
	case *arrow.BinaryType:
		return "BLOB", 0, 0, nil
	case *arrow.Decimal128Type:
		return "NUMERIC", int(x.Precision), int(x.Scale), nil
	case *arrow.Date32Type:
		return "DATE", 0, 0, nil
	case *arrow.Time64Type:
		return "TIME", 0, 0, nil
	case *arrow.TimestampType:
		return "DATETIME", 0, 6, nil
	}
	return "", 0, 0, fmt.Errorf("gen: no DMS column type for %s", t)
}

type defColumn struct {
	ColumnName      string `json:"ColumnName"`
	ColumnType      string `json:"ColumnType"`
	ColumnLength    string `json:"ColumnLength,omitempty"`
	ColumnPrecision string `json:"ColumnPrecision,omitempty"`
	ColumnScale     string `json:"ColumnScale,omitempty"`
	ColumnNullable  string `json:"ColumnNullable"`
	ColumnIsPk      string `json:"ColumnIsPk"`
}

type defTable struct {
	TableName         string      `json:"TableName"`
	TablePath         string      `json:"TablePath"`
	TableOwner        string      `json:"TableOwner"`
	TableColumns      []defColumn `json:"TableColumns"`
	TableColumnsTotal string      `json:"TableColumnsTotal"`
}

// WriteTableDefinition writes the DMS external table definition (the JSON
// a DMS S3 source, and cdcmerge's CSV reader, take) of the built-in tables
// named "schema.table" (default: Config's default tables): every column of
// GenerateChanges' schema, commit_ts included, keys with ColumnIsPk "true"
// and ColumnNullable "false", TablePath "schema/table/".
func WriteTableDefinition(w io.Writer, tables []string) error {
	if len(tables) == 0 {
		tables = []string{"shop.orders", "shop.order_items"}
	}
	doc := struct {
		TableCount string     `json:"TableCount"`
		Tables     []defTable `json:"Tables"`
	}{TableCount: strconv.Itoa(len(tables))}
	for _, name := range tables {
		schemaName, tableName, err := splitTable(name)
		if err != nil {
			return err
		}
		sh, ok := shapeOf(tableName)
		if !ok {
			return fmt.Errorf("gen: table %q: no built-in shape %q (want orders or order_items)", name, tableName)
		}
		isKey := map[string]bool{}
		for _, k := range sh.keys {
			isKey[k] = true
		}
		t := defTable{TableName: tableName, TablePath: schemaName + "/" + tableName + "/", TableOwner: schemaName}
		for _, f := range sh.schema.Fields() {
			typ, p, s, err := DMSColumnType(f.Type)
			if err != nil {
				return err
			}
			c := defColumn{ColumnName: f.Name, ColumnType: typ, ColumnNullable: "true", ColumnIsPk: "false"}
			if typ == "NUMERIC" {
				c.ColumnPrecision = strconv.Itoa(p)
			}
			if typ == "NUMERIC" || typ == "DATETIME" {
				c.ColumnScale = strconv.Itoa(s)
			}
			if isKey[f.Name] {
				c.ColumnNullable, c.ColumnIsPk = "false", "true"
			}
			t.TableColumns = append(t.TableColumns, c)
		}
		t.TableColumnsTotal = strconv.Itoa(len(t.TableColumns))
		doc.Tables = append(doc.Tables, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
