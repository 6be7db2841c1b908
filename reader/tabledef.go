package reader

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// External table definition
//
// AWS DMS reading CSV from S3 (S3 as the *source*) needs a JSON table
// definition naming every table's columns, types and primary key:
//
//	{"TableCount": "1",
//	 "Tables": [{"TableName": "table01", "TablePath": "schema01/table01/",
//	             "TableOwner": "schema01",
//	             "TableColumns": [{"ColumnName": "id", "ColumnType": "INT8",
//	                               "ColumnNullable": "false", "ColumnIsPk": "true"},
//	                              {"ColumnName": "value", "ColumnType": "NUMERIC",
//	                               "ColumnPrecision": "5", "ColumnScale": "2"}],
//	             "TableColumnsTotal": "2"}]}
//
// It is exactly what headerless CSV output lacks, so cdcmerge reads the same
// format. ParseTableDefinition checks the whole document and reports every
// mistake at once (a *DefinitionError), each by table and column.

// DMS column types of an external table definition (ColumnType).
var dmsColumnTypes = map[string]bool{
	"BYTE": true, "DATE": true, "TIME": true, "DATETIME": true,
	"INT1": true, "INT2": true, "INT4": true, "INT8": true,
	"NUMERIC": true, "REAL4": true, "REAL8": true, "STRING": true,
	"UINT1": true, "UINT2": true, "UINT4": true, "UINT8": true,
	"BLOB": true, "CLOB": true, "BOOLEAN": true,
}

// dmsTypeSuggestions maps type names users commonly write to the DMS name.
var dmsTypeSuggestions = map[string]string{
	"TIMESTAMP": "DATETIME", "DATETIME2": "DATETIME", "TIMESTAMPTZ": "DATETIME",
	"VARCHAR": "STRING", "CHAR": "STRING", "TEXT": "STRING or CLOB", "NVARCHAR": "STRING", "WSTRING": "STRING",
	"INT": "INT4", "INTEGER": "INT4", "BIGINT": "INT8", "SMALLINT": "INT2", "TINYINT": "INT1",
	"DECIMAL": "NUMERIC", "NUMBER": "NUMERIC",
	"FLOAT": "REAL4 or REAL8", "DOUBLE": "REAL8", "REAL": "REAL4",
	"BOOL": "BOOLEAN", "BIT": "BOOLEAN",
	"BYTES": "BYTE or BLOB", "BINARY": "BYTE", "VARBINARY": "BYTE", "BYTEA": "BLOB",
}

// DefaultNumericPrecision and DefaultNumericScale are the decimal a NUMERIC
// column gets when the definition gives neither ColumnPrecision nor
// ColumnScale. decimal(38,10) holds every value of DMS's own default for
// unbounded NUMERIC, NUMERIC(28,6), with room to spare; a value with more
// than 10 decimal places is rejected when read, never rounded. A precision
// without a scale means scale 0 (the SQL rule); a scale without a precision
// means precision 38.
const (
	DefaultNumericPrecision = 38
	DefaultNumericScale     = 10
)

// Field metadata keys set on the fields of TableDef.ArrowSchema. ReadCSV
// honours them: MetaDMSType narrows the accepted integer range (an INT1
// column is int32 in Arrow but accepts only -128..127), MetaDateFormat is
// the ColumnDateFormat used to parse DATE, TIME and DATETIME values.
const (
	MetaDMSType    = "dms.column_type"
	MetaDateFormat = "dms.date_format"
)

// TableDef is one table of an external table definition.
type TableDef struct {
	Schema  string // TableOwner
	Table   string // TableName
	Path    string // TablePath, e.g. "schema01/table01/" (may be empty)
	Columns []ColumnDef
	// Key lists the ColumnIsPk columns, in column order.
	Key []string
}

// Ident is schema.table, the key ReadCSVChanges routes rows by.
func (t TableDef) Ident() string { return t.Schema + "." + t.Table }

// ColumnDef is one column of a TableDef, with defaults applied.
type ColumnDef struct {
	Name string
	Type string // ColumnType, upper case (e.g. "INT8")
	// Length is ColumnLength (BYTE, STRING), 0 when not given. It is
	// informational: Iceberg strings and binaries have no length.
	Length int
	// Precision and Scale: for NUMERIC the effective decimal (defaults
	// applied, see DefaultNumericPrecision); for DATETIME Scale is the
	// fractional-second digits (default 6); 0 otherwise.
	Precision, Scale int
	// Nullable is ColumnNullable (default true). It is checked, not
	// enforced: DMS writes key-only delete rows whose other columns are
	// null, so every Arrow field is nullable.
	Nullable bool
	IsPK     bool
	// DateFormat is ColumnDateFormat, e.g. "YYYY-MM-dd"; empty for the
	// default yyyy-MM-dd[ HH:mm:ss[.ffffff]].
	DateFormat string
}

// ArrowType is the Iceberg-compatible Arrow type of the column, the same
// type NormalType gives the Parquet encoding of the DMS type.
func (c ColumnDef) ArrowType() arrow.DataType {
	switch c.Type {
	case "INT1", "INT2", "INT4", "UINT1", "UINT2":
		return arrow.PrimitiveTypes.Int32
	case "INT8", "UINT4":
		return arrow.PrimitiveTypes.Int64
	case "UINT8":
		return Uint64Type
	case "NUMERIC":
		return &arrow.Decimal128Type{Precision: int32(c.Precision), Scale: int32(c.Scale)}
	case "REAL4":
		return arrow.PrimitiveTypes.Float32
	case "REAL8":
		return arrow.PrimitiveTypes.Float64
	case "BYTE", "BLOB":
		return arrow.BinaryTypes.Binary
	case "DATE":
		return arrow.FixedWidthTypes.Date32
	case "TIME":
		return arrow.FixedWidthTypes.Time64us
	case "DATETIME":
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String // STRING, CLOB
}

// ArrowSchema is the table's Arrow schema in column order. Every field is
// nullable (see ColumnDef.Nullable) and carries MetaDMSType, plus
// MetaDateFormat when the column has one. Pass it to ReadCSV.
func (t TableDef) ArrowSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(t.Columns))
	for i, c := range t.Columns {
		keys, vals := []string{MetaDMSType}, []string{c.Type}
		if c.DateFormat != "" {
			keys, vals = append(keys, MetaDateFormat), append(vals, c.DateFormat)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: c.ArrowType(), Nullable: true, Metadata: arrow.NewMetadata(keys, vals)}
	}
	return arrow.NewSchema(fields, nil)
}

// DefinitionProblem is one mistake in a table definition. Table is
// "owner.name" when both are known, else "Tables[i]"; Column is the column
// name, else "TableColumns[j]", or empty for a table-level problem.
type DefinitionProblem struct {
	Table, Column, Msg string
}

func (p DefinitionProblem) String() string {
	var b strings.Builder
	if p.Table != "" {
		fmt.Fprintf(&b, "table %s", p.Table)
	}
	if p.Column != "" {
		fmt.Fprintf(&b, ", column %s", p.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// DefinitionError lists every problem found in a table definition.
type DefinitionError struct {
	Problems []DefinitionProblem
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table definition: %d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

type defParser struct {
	problems []DefinitionProblem
}

func (d *defParser) add(table, column, format string, args ...any) {
	d.problems = append(d.problems, DefinitionProblem{Table: table, Column: column, Msg: fmt.Sprintf(format, args...)})
}

// object decodes raw as a JSON object whose values are strings, except the
// keys in nested (decoded later by the caller). Unknown keys are reported,
// with the spelling meant when only the case differs.
func (d *defParser) object(table, column string, raw json.RawMessage, known []string, nested map[string]bool) (map[string]string, map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		d.add(table, column, "is not a JSON object")
		return nil, nil, false
	}
	strs := map[string]string{}
	rest := map[string]json.RawMessage{}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		if nested[k] {
			rest[k] = v
			continue
		}
		isKnown := false
		for _, want := range known {
			if k == want {
				isKnown = true
			} else if strings.EqualFold(k, want) {
				d.add(table, column, "unknown key %q: did you mean %q? (keys are case-sensitive)", k, want)
			}
		}
		if !isKnown {
			if !defContainsFold(known, k) {
				d.add(table, column, "unknown key %q (known keys: %s)", k, strings.Join(known, ", "))
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			d.add(table, column, "%s is %s; every value in a DMS table definition is a JSON string, e.g. \"%s\"", k, strings.TrimSpace(string(v)), strings.Trim(strings.TrimSpace(string(v)), `"`))
			continue
		}
		strs[k] = s
	}
	return strs, rest, true
}

func defContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// count parses a non-negative integer value given as a string.
func (d *defParser) count(table, column, key, s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		d.add(table, column, "%s %q is not a non-negative whole number", key, s)
		return 0, false
	}
	return n, true
}

func (d *defParser) boolean(table, column, key, s string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	}
	d.add(table, column, "%s %q is neither \"true\" nor \"false\"", key, s)
	return def
}

var (
	defTopKeys    = []string{"TableCount", "Tables"}
	defTableKeys  = []string{"TableName", "TablePath", "TableOwner", "TableColumns", "TableColumnsTotal"}
	defColumnKeys = []string{"ColumnName", "ColumnType", "ColumnLength", "ColumnPrecision", "ColumnScale", "ColumnNullable", "ColumnIsPk", "ColumnDateFormat"}
)

// ParseTableDefinition parses and validates a DMS external table definition.
// It reports every problem it finds, not just the first, as one
// *DefinitionError: malformed JSON, non-string values, unknown keys,
// TableCount and TableColumnsTotal that do not match (both optional),
// missing or duplicate table and column names (columns compare
// case-insensitively, as the reader matches them), tables without columns,
// unknown column types (TIMESTAMP: use DATETIME), lengths, precisions and
// scales that are not numbers or out of range (NUMERIC precision 1-38,
// scale 0-31 and at most the precision; DATETIME scale 0-9), nullability
// and key flags other than "true"/"false", a key column declared nullable,
// and date formats cdcmerge cannot parse.
func ParseTableDefinition(data []byte) ([]TableDef, error) {
	d := &defParser{}
	top, nested, ok := d.object("", "", data, defTopKeys, map[string]bool{"Tables": true})
	if !ok {
		var probe any
		if err := json.Unmarshal(data, &probe); err != nil {
			return nil, &DefinitionError{Problems: []DefinitionProblem{{Msg: "not valid JSON: " + err.Error()}}}
		}
		return nil, &DefinitionError{Problems: d.problems}
	}
	var rawTables []json.RawMessage
	if raw, ok := nested["Tables"]; !ok {
		d.add("", "", "no \"Tables\" array")
	} else if err := json.Unmarshal(raw, &rawTables); err != nil {
		d.add("", "", "\"Tables\" is not a JSON array")
	} else if len(rawTables) == 0 {
		d.add("", "", "\"Tables\" is empty")
	}
	if s, ok := top["TableCount"]; ok {
		if n, ok := d.count("", "", "TableCount", s); ok && n != len(rawTables) {
			d.add("", "", "TableCount is %d but Tables lists %d table(s)", n, len(rawTables))
		}
	}
	var out []TableDef
	seenTables := map[string]int{}
	for i, raw := range rawTables {
		t, ok := d.table(i, raw)
		if !ok {
			continue
		}
		if t.Schema != "" && t.Table != "" {
			id := strings.ToLower(t.Ident())
			if j, dup := seenTables[id]; dup {
				d.add(t.Ident(), "", "defined twice (Tables[%d] and Tables[%d])", j, i)
			}
			seenTables[id] = i
		}
		out = append(out, t)
	}
	if len(d.problems) > 0 {
		return nil, &DefinitionError{Problems: d.problems}
	}
	return out, nil
}

func (d *defParser) table(i int, raw json.RawMessage) (TableDef, bool) {
	label := fmt.Sprintf("Tables[%d]", i)
	strs, nested, ok := d.object(label, "", raw, defTableKeys, map[string]bool{"TableColumns": true})
	if !ok {
		return TableDef{}, false
	}
	t := TableDef{Schema: strs["TableOwner"], Table: strs["TableName"], Path: strs["TablePath"]}
	if t.Schema != "" && t.Table != "" {
		label = t.Ident()
	}
	for _, k := range []string{"TableName", "TableOwner"} {
		if strings.TrimSpace(strs[k]) == "" {
			d.add(label, "", "%s is missing or empty", k)
		}
	}
	var rawCols []json.RawMessage
	if rc, ok := nested["TableColumns"]; !ok {
		d.add(label, "", "no TableColumns: a table needs at least one column")
	} else if err := json.Unmarshal(rc, &rawCols); err != nil {
		d.add(label, "", "TableColumns is not a JSON array")
	} else if len(rawCols) == 0 {
		d.add(label, "", "TableColumns is empty: a table needs at least one column")
	}
	if s, ok := strs["TableColumnsTotal"]; ok {
		if n, ok := d.count(label, "", "TableColumnsTotal", s); ok && n != len(rawCols) {
			d.add(label, "", "TableColumnsTotal is %d but TableColumns lists %d column(s)", n, len(rawCols))
		}
	}
	seen := map[string]string{}
	for j, rc := range rawCols {
		c, ok := d.column(label, j, rc)
		if !ok {
			continue
		}
		if c.Name != "" {
			lower := strings.ToLower(c.Name)
			if prev, dup := seen[lower]; dup {
				d.add(label, fmt.Sprintf("%q", c.Name), "duplicate column name (clashes with %q; names are matched case-insensitively)", prev)
			}
			seen[lower] = c.Name
		}
		if c.IsPK {
			t.Key = append(t.Key, c.Name)
		}
		t.Columns = append(t.Columns, c)
	}
	return t, true
}

func (d *defParser) column(table string, j int, raw json.RawMessage) (ColumnDef, bool) {
	label := fmt.Sprintf("TableColumns[%d]", j)
	var probe struct{ ColumnName any }
	if json.Unmarshal(raw, &probe) == nil {
		if name, ok := probe.ColumnName.(string); ok && strings.TrimSpace(name) != "" {
			label = fmt.Sprintf("%q", name)
		}
	}
	s, _, ok := d.object(table, label, raw, defColumnKeys, nil)
	if !ok {
		return ColumnDef{}, false
	}
	c := ColumnDef{Name: s["ColumnName"]}
	if strings.TrimSpace(c.Name) == "" {
		d.add(table, label, "ColumnName is missing or empty")
	}
	typ := strings.ToUpper(strings.TrimSpace(s["ColumnType"]))
	c.Type = typ
	switch {
	case typ == "":
		d.add(table, label, "ColumnType is missing")
	case !dmsColumnTypes[typ]:
		msg := fmt.Sprintf("unknown ColumnType %q", s["ColumnType"])
		if sug, ok := dmsTypeSuggestions[typ]; ok {
			msg += fmt.Sprintf("; use %s", sug)
		}
		d.add(table, label, "%s (valid: BYTE, DATE, TIME, DATETIME, INT1, INT2, INT4, INT8, NUMERIC, REAL4, REAL8, STRING, UINT1, UINT2, UINT4, UINT8, BLOB, CLOB, BOOLEAN)", msg)
	}
	if v, ok := s["ColumnLength"]; ok {
		if n, ok := d.count(table, label, "ColumnLength", v); ok {
			c.Length = n
		}
	}
	prec, hasPrec := -1, false
	scale, hasScale := -1, false
	if v, ok := s["ColumnPrecision"]; ok {
		if n, ok := d.count(table, label, "ColumnPrecision", v); ok {
			prec, hasPrec = n, true
		}
	}
	if v, ok := s["ColumnScale"]; ok {
		if n, ok := d.count(table, label, "ColumnScale", v); ok {
			scale, hasScale = n, true
		}
	}
	switch typ {
	case "NUMERIC":
		switch {
		case !hasPrec && !hasScale:
			prec, scale = DefaultNumericPrecision, DefaultNumericScale
		case !hasPrec:
			prec = 38
		case !hasScale:
			scale = 0
		}
		if prec < 1 || prec > 38 {
			d.add(table, label, "ColumnPrecision %d is out of range: NUMERIC precision is 1 to 38 (Iceberg's decimal limit)", prec)
		}
		if scale > 31 {
			d.add(table, label, "ColumnScale %d is out of range: NUMERIC scale is 0 to 31", scale)
		} else if scale > prec && prec >= 1 && prec <= 38 {
			d.add(table, label, "ColumnScale %d is larger than ColumnPrecision %d", scale, prec)
		}
		c.Precision, c.Scale = prec, scale
	case "DATETIME":
		c.Scale = 6
		if hasScale {
			if scale > 9 {
				d.add(table, label, "ColumnScale %d is out of range: DATETIME scale is 0 to 9 (fractional-second digits)", scale)
			}
			c.Scale = scale
		}
	}
	c.Nullable = d.boolean(table, label, "ColumnNullable", s["ColumnNullable"], true)
	c.IsPK = d.boolean(table, label, "ColumnIsPk", s["ColumnIsPk"], false)
	if c.IsPK && c.Nullable && strings.EqualFold(strings.TrimSpace(s["ColumnNullable"]), "true") {
		d.add(table, label, "ColumnIsPk is \"true\" but ColumnNullable is \"true\": a key column cannot be null")
	}
	if f, ok := s["ColumnDateFormat"]; ok && f != "" {
		c.DateFormat = f
		if _, err := dmsDateLayout(f); err != nil {
			d.add(table, label, "ColumnDateFormat %q: %v", f, err)
		}
	}
	return c, true
}

// dmsDateLayout converts a ColumnDateFormat (Java/SQL style letters) to a Go
// time layout. Understood: YYYY/yyyy (year), YY/yy, MM (month), DD/dd
// (day), HH (hour 0-23), mm or MI (minute), ss or SS (second); a run of S
// after "ss." is a fraction, which Go parses without a layout element.
// Other characters that are not letters are copied.
func dmsDateLayout(f string) (string, error) {
	var b strings.Builder
	hasLowerSS := strings.Contains(f, "ss")
	for i := 0; i < len(f); {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(f[i:], "MI") {
			b.WriteString("04")
			i += 2
			continue
		}
		j := i
		for j < len(f) && f[j] == c {
			j++
		}
		run := f[i:j]
		i = j
		switch run {
		case "YYYY", "yyyy":
			b.WriteString("2006")
		case "YY", "yy":
			b.WriteString("06")
		case "MM":
			b.WriteString("01")
		case "DD", "dd":
			b.WriteString("02")
		case "HH":
			b.WriteString("15")
		case "mm":
			b.WriteString("04")
		case "ss":
			b.WriteString("05")
		default:
			if c == 'S' && (hasLowerSS || len(run) != 2) {
				// Fraction: drop it and its dot; time.Parse accepts a
				// fraction right after the seconds.
				s := b.String()
				if !strings.HasSuffix(s, "05.") && !strings.HasSuffix(s, "05,") {
					return "", fmt.Errorf("fraction %q must follow seconds and a dot", run)
				}
				b.Reset()
				b.WriteString(s[:len(s)-1])
				continue
			}
			if run == "SS" {
				b.WriteString("05")
				continue
			}
			return "", fmt.Errorf("%q is not a date element cdcmerge understands (use yyyy, MM, dd, HH, mm, ss)", run)
		}
	}
	return b.String(), nil
}
