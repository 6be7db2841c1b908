package reader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSV output
//
// DMS writes CSV (DataFormat=csv, its default) without column names or
// types: they come from the table's schema, either the existing Iceberg
// table or an external table definition (ParseTableDefinition). Files are
// named like the Parquet ones with a .csv suffix, optionally gzip-compressed
// (.csv.gz); S3 *sources* use LOAD001.csv, CDC00001.csv and, with
// PreserveTransactions, CDC_TXN-yyyyMMddHHmmssSSS.csv (see ParseCSVName).
//
// Rows and nulls
//
// Fields follow RFC 4180: a field holding the delimiter, a quote or a line
// break is quoted and inner quotes are doubled. Quoting decides nulls: an
// unquoted field equal to CSVOptions.NullValue is null; a quoted field is
// always a value, so with the default NullValue "" the unquoted empty field
// is null and the quoted "" is the empty string. In columns that are
// neither strings nor binaries an empty field, quoted or not, is null too
// (it cannot be a value there). An unquoted field may contain quotes; they
// are kept (DMS with Rfc4180=false writes them so).

// GzipMode says whether a CSV file is gzip-compressed.
type GzipMode int

const (
	// GzipAuto decompresses when the file starts with the gzip magic bytes
	// 1f 8b (never the first bytes of a text CSV file).
	GzipAuto GzipMode = iota
	// GzipOn requires gzip.
	GzipOn
	// GzipOff reads the bytes as they are.
	GzipOff
)

// CSVOptions describes the CSV dialect, the DMS endpoint settings of the
// same names. The zero value is DMS's default output.
type CSVOptions struct {
	// Delimiter separates fields (CsvDelimiter); 0 means ','.
	Delimiter rune
	// RowDelimiter ends a row (CsvRowDelimiter); "" means "\n", which also
	// accepts "\r\n".
	RowDelimiter string
	// Header: the first row names the columns (AddColumnName=true).
	Header bool
	// NullValue is the unquoted field that means null (CsvNullValue). The
	// default "" makes an unquoted empty field null. DMS documents "NULL"
	// as its default but output seen in the wild uses empty fields, so it
	// is a setting. A quoted field is never null.
	NullValue string
	// Gzip: see GzipMode. Files named .gz are always checked for the magic.
	Gzip GzipMode
}

func (o CSVOptions) withDefaults() (CSVOptions, error) {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.RowDelimiter == "" {
		o.RowDelimiter = "\n"
	}
	switch {
	case o.Delimiter == '"' || o.Delimiter == '\r' || o.Delimiter == '\n' || o.Delimiter == utf8.RuneError || !utf8.ValidRune(o.Delimiter):
		return o, fmt.Errorf("CSV delimiter %q cannot be used", o.Delimiter)
	case strings.ContainsRune(o.RowDelimiter, '"'):
		return o, fmt.Errorf("CSV row delimiter %q cannot contain a quote", o.RowDelimiter)
	case strings.ContainsRune(o.RowDelimiter, o.Delimiter):
		return o, fmt.Errorf("CSV row delimiter %q contains the field delimiter %q", o.RowDelimiter, o.Delimiter)
	}
	return o, nil
}

// ReadCSV decodes one DMS CSV file of src into the columns of schema.
//
// Without a header, fields are positional: schema's fields in order,
// preceded by the Op column when hasOp (CDC files). A LOAD file whose first
// row has one field more than schema and starts with I (IncludeOpForFullLoad,
// or an S3 source's LOAD001.csv with its optional leading I) is read with
// that Op column. With opt.Header the first row names the
// columns, matched to schema case-insensitively; it must name every schema
// field (and Op when hasOp) and nothing else, in any order.
//
// Values are parsed into the schema's types and the record gets the
// Iceberg-compatible type of each (NormalType), in schema order, so ReadCSV
// and ReadFile produce the same shapes. Integers are range-checked (against
// the field's MetaDMSType when set, e.g. INT1), decimals are exact (more
// decimal places than the scale is an error unless the extra digits are
// zeros), dates are yyyy-MM-dd, times HH:mm:ss[.f], timestamps yyyy-MM-dd
// HH:mm:ss[.f] (or a 'T'; up to 9 fraction digits, truncated to
// microseconds; a zone offset only for zoned timestamps), unless the field
// has MetaDateFormat; MySQL's zero date 0000-00-00 is null, as DMS maps it;
// booleans true/false/t/f/1/0 in any case; binaries hex (an optional \x or
// 0x prefix). Op is I, U or D, or INSERT, UPDATE or DELETE, in any case.
//
// Errors are *FileError. Row is the 1-based record number, header not
// counted; Msg starts with the 1-based line of the (decompressed) file where
// the record starts, which differs from the record number when there is a
// header or fields with line breaks.
func ReadCSV(ctx context.Context, src Source, f File, schema *arrow.Schema, hasOp bool, opt CSVOptions, mem memory.Allocator) (*Decoded, error) {
	p, err := OpenCSVParts(ctx, src, f, schema, hasOp, opt, mem)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Next(ctx, 0)
}

// CSVParts reads one DMS CSV file as ReadCSV does, a part at a time, so
// that a file larger than memory is never held whole: each Next decodes
// the records that follow the previous part, as many as fit a byte budget
// of the (decompressed) file. The file is read once, front to back,
// whatever the number of parts; Skip passes over records applied by an
// earlier run by scanning them, without decoding them.
type CSVParts struct {
	f       File
	size    int64 // the file's size as opened
	schema  *arrow.Schema
	opt     CSVOptions
	mem     memory.Allocator
	hasOp   bool
	sc      *csvScanner
	closeFn func()
	pos     []int // per field in the file: schema index, -1 for Op
	rec     int64 // records scanned (skipped or decoded), the header not counted
	at      int64 // the stream offset after the last record decoded or skipped
	// held: the last record scanned did not fit in the previous part. It
	// is still in the scanner's buffer (nothing was scanned since) and
	// starts the next part; heldLine is its line.
	held     bool
	heldLine int64
	done     bool // the file's last record was scanned
}

// OpenCSVParts opens f (reading its header, when opt.Header) for reading
// in parts. The arguments are those of ReadCSV. Close it when done.
func OpenCSVParts(ctx context.Context, src Source, f File, schema *arrow.Schema, hasOp bool, opt CSVOptions, mem memory.Allocator) (*CSVParts, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	// The column types are checked before the file is opened.
	tbl, err := newCSVTable(f.Path, schema, mem)
	if err != nil {
		return nil, err
	}
	tbl.release()
	sc, size, closeFn, err := openCSV(ctx, src, f, opt)
	if err != nil {
		return nil, err
	}
	p := &CSVParts{f: f, size: size, schema: schema, opt: opt, mem: mem, hasOp: hasOp, sc: sc, closeFn: closeFn}
	if opt.Header {
		fields, line, err := sc.next()
		if err == nil {
			p.pos, err = csvHeaderPositions(f.Path, line, sc.strings(fields), schema, hasOp)
		} else if err == io.EOF {
			err = &FileError{Path: f.Path, Row: -1, Msg: "no header row: the file is empty",
				Hint: "the endpoint does not use AddColumnName=true; read the file without a header"}
		} else {
			err = sc.fileError(f.Path, 0, line, err)
		}
		if err != nil {
			p.Close()
			return nil, err
		}
	} else {
		if hasOp {
			p.pos = append(p.pos, -1)
		}
		for i := range schema.NumFields() {
			p.pos = append(p.pos, i)
		}
	}
	p.at = sc.offset()
	return p, nil
}

// Close closes the file.
func (p *CSVParts) Close() {
	if p.closeFn != nil {
		p.closeFn()
		p.closeFn = nil
	}
}

// Done reports whether every record of the file has been read.
func (p *CSVParts) Done() bool { return p.done && !p.held }

// Skip passes over the next n records without decoding them (those an
// earlier run applied) and returns how many there were: fewer than n when
// the file ends first. Call it before the first Next.
func (p *CSVParts) Skip(ctx context.Context, n int64) (int64, error) {
	var k int64
	for ; k < n; k++ {
		_, _, err := p.scan(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return k, err
		}
	}
	p.at = p.sc.offset()
	if _, err := p.sc.r.Peek(1); err == io.EOF {
		p.done = true
	}
	return k, nil
}

// scan reads the next record (io.EOF at the end of the file), counting it
// and checking ctx every 4096 records.
func (p *CSVParts) scan(ctx context.Context) ([]csvField, int64, error) {
	if (p.rec+1)%4096 == 0 {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	fields, line, err := p.sc.next()
	if err == io.EOF {
		p.done = true
		return nil, line, err
	}
	if err != nil {
		return nil, line, p.sc.fileError(p.f.Path, p.rec+1, line, err)
	}
	p.rec++
	if p.rec == 1 && !p.hasOp && !p.opt.Header && p.f.Kind == Load && len(fields) == p.schema.NumFields()+1 {
		// A full load written with a leading I (IncludeOpForFullLoad,
		// or an S3 source's LOAD001.csv): the first row says so.
		if op, err := csvParseOp(p.sc.str(fields[0])); err == nil && op == OpInsert {
			p.pos = append([]int{-1}, p.pos...)
		}
	}
	return fields, line, nil
}

// column names field i of a record, for messages.
func (p *CSVParts) column(i int) string {
	if p.pos[i] < 0 {
		return OpColumn
	}
	return p.schema.Field(p.pos[i]).Name
}

// Next decodes the next part: the records after the previous part's (or
// the skipped ones), as many as fit in maxBytes of the decompressed file
// and at least one; maxBytes 0 means every record left. Decoded.FirstRow
// is the number of records before the part. When the part ends the file,
// the file is closed (a DigestSource then has its digest). A part that
// starts the file without ending it gets a Digest of its records and the
// file's size, which identifies a copy of the file read in the same parts.
func (p *CSVParts) Next(ctx context.Context, maxBytes int64) (*Decoded, error) {
	tbl, err := newCSVTable(p.f.Path, p.schema, p.mem)
	if err != nil {
		return nil, err
	}
	defer tbl.release()
	d := &Decoded{File: p.f, FirstRow: p.rec, Ops: []byte{}}
	if p.held {
		d.FirstRow--
	}
	var h hash.Hash
	if maxBytes > 0 && d.FirstRow == 0 {
		h = sha256.New()
		fmt.Fprintf(h, "cdcmerge csv part\x00%d\x00", p.size)
	}
	start := p.at
	for {
		var fields []csvField
		var line int64
		if p.held {
			fields, line, p.held = p.sc.fields, p.heldLine, false
		} else {
			fields, line, err = p.scan(ctx)
			if err == io.EOF {
				p.Close()
				break
			}
			if err != nil {
				return nil, err
			}
			if maxBytes > 0 && len(d.Ops) > 0 && p.sc.offset()-start > maxBytes {
				p.held, p.heldLine = true, line
				break
			}
		}
		p.at = p.sc.offset()
		if len(fields) != len(p.pos) {
			return nil, csvFieldCountError(p.f.Path, p.rec, line, len(fields), len(p.pos), p.column, p.opt.Header)
		}
		op := OpInsert
		for i, fl := range fields {
			if p.pos[i] < 0 {
				if op, err = csvParseOp(p.sc.str(fl)); err != nil {
					return nil, &FileError{Path: p.f.Path, Row: p.rec, Column: OpColumn, Msg: fmt.Sprintf("line %d: %v", line, err),
						Hint: "DMS writes I, U or D (S3 sources: INSERT, UPDATE, DELETE); fix or remove the file, cdcmerge will not guess what the row means"}
				}
				continue
			}
			if err := tbl.cols[p.pos[i]].append(p.sc.str(fl), fl.quoted, p.opt.NullValue); err != nil {
				return nil, csvValueError(p.f.Path, p.rec, line, tbl.cols[p.pos[i]], err)
			}
		}
		d.Ops = append(d.Ops, op)
		if h != nil {
			p.sc.hashRecord(h, fields)
		}
	}
	if h != nil && !p.Done() {
		d.Digest = Digest(hex.EncodeToString(h.Sum(nil)[:16]))
	}
	d.Record = tbl.record()
	return d, nil
}

// ReadCSVChanges decodes a CDC file of a DMS S3 *source* (CDC00001.csv, or
// CDC_TXN-*.csv with PreserveTransactions), whose rows belong to several
// tables: op,table,schema,values... (op as in ReadCSV, the values
// positional in the table's schema). tables maps "schema.table" to the
// table's schema (TableDef.ArrowSchema); names match exactly or, failing
// that, case-insensitively. The result maps each key of tables that has
// rows to its rows, in file order. A row for a table not in tables is an
// error naming the row. Such files have no header: opt.Header must be false.
func ReadCSVChanges(ctx context.Context, src Source, f File, tables map[string]*arrow.Schema, opt CSVOptions, mem memory.Allocator) (map[string]*Decoded, error) {
	r, err := routeCSVChanges(ctx, src, f, tables, nil, opt, mem)
	if err != nil {
		return nil, err
	}
	// The first bad row of the file, whichever table it belongs to.
	var first *FileError
	for _, m := range []map[string]*FileError{r.errs, r.unknown} {
		for _, e := range m {
			if first == nil || e.Row < first.Row {
				first = e
			}
		}
	}
	if first != nil {
		for _, d := range r.rows {
			d.Release()
		}
		return nil, first
	}
	return r.rows, nil
}

// routed is a shared CDC file split by table.
type routed struct {
	// rows holds the rows of every table of the tables map that has rows
	// and no bad row.
	rows map[string]*Decoded
	// errs holds, per table of the tables map, its first bad row; the
	// table's other rows are dropped.
	errs map[string]*FileError
	// unknown holds, per "schema.table" named by rows but not in the
	// tables map (nor skipped), the first such row.
	unknown map[string]*FileError
}

// routeCSVChanges reads a shared CDC file once and splits its rows by
// table. A bad value in one table's row does not stop the other tables
// (routed.errs); rows of tables for which skip is true are dropped; rows of
// other tables not in tables are reported in routed.unknown. Only what
// makes the whole file unreadable (I/O, gzip, CSV syntax, a row too short
// to name its table, a bad op) is returned as the error.
func routeCSVChanges(ctx context.Context, src Source, f File, tables map[string]*arrow.Schema, skip func(ident string) bool, opt CSVOptions, mem memory.Allocator) (*routed, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if opt.Header {
		return nil, errors.New("CDC files of an S3 source have no header row: read them with Header off")
	}
	lower := map[string]string{}
	for k := range tables {
		l := strings.ToLower(k)
		if prev, dup := lower[l]; dup {
			return nil, fmt.Errorf("tables %q and %q differ only in case", prev, k)
		}
		lower[l] = k
	}
	sc, _, closeFn, err := openCSV(ctx, src, f, opt)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	type state struct {
		tbl *csvTable
		ops []byte
	}
	open := map[string]*state{}
	defer func() {
		for _, s := range open {
			s.tbl.release()
		}
	}()
	out := &routed{rows: map[string]*Decoded{}, errs: map[string]*FileError{}, unknown: map[string]*FileError{}}
	err = sc.each(ctx, f.Path, func(rec, line int64, fields []csvField) error {
		if len(fields) < 3 {
			return &FileError{Path: f.Path, Row: rec, Msg: fmt.Sprintf("line %d: %d field(s); an S3-source CDC row starts with op,table,schema", line, len(fields)),
				Hint: "check the delimiter (CsvDelimiter), and that this is a CDC file of an S3 source"}
		}
		op, err := csvParseOp(sc.str(fields[0]))
		if err != nil {
			return &FileError{Path: f.Path, Row: rec, Column: OpColumn, Msg: fmt.Sprintf("line %d: %v", line, err),
				Hint: "an S3-source CDC row starts with INSERT, UPDATE or DELETE (or I, U, D); fix or remove the file"}
		}
		schemaName, tableName := sc.str(fields[2]), sc.str(fields[1])
		ident := schemaName + "." + tableName
		key, ok := ident, false
		if _, ok = tables[ident]; !ok {
			key, ok = lower[strings.ToLower(ident)]
		}
		if !ok {
			if skip != nil && skip(ident) {
				return nil
			}
			if _, seen := out.unknown[ident]; !seen {
				msg := fmt.Sprintf("line %d: table %s (fields 2 and 3: table %q, schema %q) is not in the table definition", line, ident, tableName, schemaName)
				hint := "add the table to the table definition, or check that the row is op,table,schema,values"
				for _, n := range [][2]string{{"schema", schemaName}, {"table", tableName}} {
					if verr := ValidateName(n[0], n[1]); verr != nil {
						msg, hint = fmt.Sprintf("line %d: %v", line, verr), "the row names no valid table; check that the row is op,table,schema,values"
						break
					}
				}
				out.unknown[ident] = &FileError{Path: f.Path, Row: rec, Msg: msg, Hint: hint}
			}
			return nil
		}
		if _, bad := out.errs[key]; bad {
			return nil
		}
		st := open[key]
		if st == nil {
			tbl, err := newCSVTable(f.Path, tables[key], mem)
			if err != nil {
				return err
			}
			st = &state{tbl: tbl}
			open[key] = st
		}
		cols := st.tbl.cols
		if len(fields)-3 != len(cols) {
			sch := tables[key]
			out.errs[key] = csvFieldCountError(f.Path, rec, line, len(fields)-3, len(cols), func(i int) string { return sch.Field(i).Name }, false)
			return nil
		}
		for i, fl := range fields[3:] {
			if err := cols[i].append(sc.str(fl), fl.quoted, opt.NullValue); err != nil {
				out.errs[key] = csvValueError(f.Path, rec, line, cols[i], err)
				return nil
			}
		}
		st.ops = append(st.ops, op)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, s := range open {
		if _, bad := out.errs[k]; !bad {
			out.rows[k] = &Decoded{File: f, Record: s.tbl.record(), Ops: s.ops}
		}
	}
	return out, nil
}

func csvFieldCountError(path string, rec, line int64, got, want int, name func(int) string, header bool) *FileError {
	e := &FileError{Path: path, Row: rec, Hint: "check the delimiter (CsvDelimiter), whether the file has a header (AddColumnName) or an Op column, and that the schema lists the file's columns in order"}
	if header {
		e.Hint = "the row does not match the header; check the delimiter (CsvDelimiter) and quoting"
	}
	if got < want {
		e.Column = name(got)
		e.Msg = fmt.Sprintf("line %d: %d field(s), want %d: column %q and after are missing", line, got, want, name(got))
	} else {
		e.Column = name(want - 1)
		e.Msg = fmt.Sprintf("line %d: %d field(s), want %d: extra field(s) after the last column %q", line, got, want, name(want-1))
	}
	return e
}

func csvValueError(path string, rec, line int64, c *csvColumn, err error) *FileError {
	return &FileError{Path: path, Row: rec, Column: c.name, Msg: fmt.Sprintf("line %d: %v", line, err),
		Hint: fmt.Sprintf("the value does not fit the column's type %s; check the table schema or definition for this column", c.desc)}
}

func csvParseOp(s string) (byte, error) {
	switch strings.ToUpper(s) {
	case "I", "INSERT":
		return OpInsert, nil
	case "U", "UPDATE":
		return OpUpdate, nil
	case "D", "DELETE":
		return OpDelete, nil
	case "":
		return 0, errors.New("Op is empty; every CDC row must say I, U or D")
	}
	return 0, fmt.Errorf("unknown Op value %q", csvTruncate(s, 40))
}

func csvTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func csvHeaderPositions(path string, line int64, header []string, schema *arrow.Schema, hasOp bool) ([]int, error) {
	byName := map[string]int{}
	for i, fl := range schema.Fields() {
		byName[strings.ToLower(fl.Name)] = i
	}
	pos := make([]int, len(header))
	seen := map[string]string{}
	found := make([]bool, schema.NumFields())
	opFound := false
	for i, h := range header {
		l := strings.ToLower(h)
		if prev, dup := seen[l]; dup {
			return nil, &FileError{Path: path, Row: -1, Column: h, Msg: fmt.Sprintf("line %d: header names column %q twice (as %q; names are matched case-insensitively)", line, h, prev)}
		}
		seen[l] = h
		if j, ok := byName[l]; ok {
			pos[i] = j
			found[j] = true
			continue
		}
		if hasOp && strings.EqualFold(h, OpColumn) {
			pos[i] = -1
			opFound = true
			continue
		}
		hint := "add the column to the table schema or definition (cdcmerge does not drop data it has no column for)"
		if strings.EqualFold(h, OpColumn) {
			hint = "this looks like a CDC file: read it with its Op column"
		}
		return nil, &FileError{Path: path, Row: -1, Column: h, Msg: fmt.Sprintf("line %d: header names column %q, which the table schema lacks", line, h), Hint: hint}
	}
	var missing []string
	if hasOp && !opFound {
		missing = append(missing, OpColumn)
	}
	for j, ok := range found {
		if !ok {
			missing = append(missing, schema.Field(j).Name)
		}
	}
	if len(missing) > 0 {
		return nil, &FileError{Path: path, Row: -1, Column: missing[0], Msg: fmt.Sprintf("line %d: header lacks column(s) %s", line, strings.Join(missing, ", ")),
			Hint: "the header must name every column of the table schema; check the delimiter and the schema"}
	}
	return pos, nil
}

// ---- decompression and scanning ----

// openCSV opens f for scanning and returns its size.
func openCSV(ctx context.Context, src Source, f File, opt CSVOptions) (*csvScanner, int64, func(), error) {
	r, size, err := src.Open(ctx, f.Path)
	if err != nil {
		return nil, 0, nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot open", Err: err}
	}
	if size == 0 {
		r.Close()
		return nil, 0, nil, &FileError{Path: f.Path, Row: -1, Msg: "file is empty (0 bytes)",
			Hint: "DMS never writes empty files; the upload was probably interrupted: re-upload it or remove it"}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	isGzip := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	named := strings.HasSuffix(f.Name, ".gz") || (f.Name == "" && strings.HasSuffix(f.Path, ".gz"))
	var body io.Reader = br
	switch {
	case opt.Gzip == GzipOff:
	case isGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.Close()
			return nil, 0, nil, &FileError{Path: f.Path, Row: -1, Msg: "corrupt gzip header", Err: err, Hint: "re-upload the file from DMS"}
		}
		body = zr
	case opt.Gzip == GzipOn || named:
		r.Close()
		return nil, 0, nil, &FileError{Path: f.Path, Row: -1, Msg: "not gzip-compressed (no gzip magic bytes)",
			Hint: "the file is named .gz or gzip was required; re-upload it, or turn gzip off if the endpoint does not compress"}
	}
	sc := newCSVScanner(body, opt)
	return sc, size, func() { r.Close() }, nil
}

// csvField is one field of a record: buf[start:end] of its scanner.
type csvField struct {
	start, end int
	quoted     bool
}

type csvSyntaxError struct{ msg string }

func (e *csvSyntaxError) Error() string { return e.msg }

// csvScanner splits RFC 4180 records. It reads byte by byte through a
// bufio.Reader, so a file is never held in memory whole, and counts lines
// ('\n' bytes) for messages.
type csvScanner struct {
	r      *bufio.Reader
	in     *countingReader // below r: offset is what it read less what r holds
	delim  []byte
	row    []byte
	crlf   bool // row delimiter "\n" also accepts "\r\n"
	line   int64
	buf    []byte
	fields []csvField
}

func newCSVScanner(r io.Reader, opt CSVOptions) *csvScanner {
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	return &csvScanner{r: br, in: in, delim: []byte(string(opt.Delimiter)), row: []byte(opt.RowDelimiter), crlf: opt.RowDelimiter == "\n", line: 1}
}

func (s *csvScanner) str(f csvField) string { return string(s.buf[f.start:f.end]) }

// offset is how many bytes of the (decompressed) stream have been scanned:
// the position after the last record read.
func (s *csvScanner) offset() int64 { return s.in.n - int64(s.r.Buffered()) }

// hashRecord feeds a record's fields (values and quoting, each length-
// prefixed) to h.
func (s *csvScanner) hashRecord(h hash.Hash, fields []csvField) {
	var b [binary.MaxVarintLen64]byte
	h.Write(b[:binary.PutUvarint(b[:], uint64(len(fields)))])
	for _, f := range fields {
		n := uint64(f.end-f.start) << 1
		if f.quoted {
			n |= 1
		}
		h.Write(b[:binary.PutUvarint(b[:], n)])
		h.Write(s.buf[f.start:f.end])
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *csvScanner) strings(fields []csvField) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = s.str(f)
	}
	return out
}

// each calls fn with every record of the file (rec counts records from 1,
// line is where the record starts), checking ctx every 4096 records.
func (s *csvScanner) each(ctx context.Context, path string, fn func(rec, line int64, fields []csvField) error) error {
	for rec := int64(1); ; rec++ {
		if rec%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		fields, line, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.fileError(path, rec, line, err)
		}
		if err := fn(rec, line, fields); err != nil {
			return err
		}
	}
}

func (s *csvScanner) fileError(path string, rec, line int64, err error) *FileError {
	var se *csvSyntaxError
	if errors.As(err, &se) {
		if rec == 0 {
			rec = -1
		}
		return &FileError{Path: path, Row: rec, Msg: fmt.Sprintf("line %d: %s", line, se.msg),
			Hint: "the file is not valid RFC 4180 CSV for this delimiter; check CsvDelimiter and CsvRowDelimiter"}
	}
	return &FileError{Path: path, Row: -1, Msg: fmt.Sprintf("cannot read after line %d (corrupt or truncated file)", s.line), Err: err,
		Hint: "re-upload the file from DMS"}
}

const (
	sepNone = iota
	sepField
	sepRow
	sepEOF
)

func (s *csvScanner) match(p []byte) bool {
	b, err := s.r.Peek(len(p))
	return err == nil && bytes.Equal(b, p)
}

// sep consumes a field or row delimiter at the read position, if any.
func (s *csvScanner) sep() (int, error) {
	p, err := s.r.Peek(1)
	if err == io.EOF {
		return sepEOF, nil
	}
	if err != nil {
		return 0, err
	}
	c := p[0]
	if c == s.delim[0] && s.match(s.delim) {
		s.r.Discard(len(s.delim))
		return sepField, nil
	}
	if c == s.row[0] && s.match(s.row) {
		s.r.Discard(len(s.row))
		s.line += int64(bytes.Count(s.row, []byte{'\n'}))
		return sepRow, nil
	}
	if s.crlf && c == '\r' && s.match([]byte("\r\n")) {
		s.r.Discard(2)
		s.line++
		return sepRow, nil
	}
	return sepNone, nil
}

// next returns the next record and the line it starts on, or io.EOF.
// Fields point into s.buf, valid until the next call.
func (s *csvScanner) next() ([]csvField, int64, error) {
	s.buf, s.fields = s.buf[:0], s.fields[:0]
	start := s.line
	if _, err := s.r.Peek(1); err != nil {
		return nil, start, err
	}
	for {
		f := csvField{start: len(s.buf)}
		p, err := s.r.Peek(1)
		if err == nil && p[0] == '"' {
			s.r.Discard(1)
			f.quoted = true
			openLine := s.line
			for {
				b, err := s.r.ReadByte()
				if err == io.EOF {
					return nil, start, &csvSyntaxError{fmt.Sprintf("quoted field opened on line %d is never closed", openLine)}
				}
				if err != nil {
					return nil, start, err
				}
				if b == '"' {
					if nb, err := s.r.Peek(1); err == nil && nb[0] == '"' {
						s.r.Discard(1)
						s.buf = append(s.buf, '"')
						continue
					}
					break
				}
				if b == '\n' {
					s.line++
				}
				s.buf = append(s.buf, b)
			}
			f.end = len(s.buf)
			kind, err := s.sep()
			if err != nil {
				return nil, start, err
			}
			if kind == sepNone {
				nb, _ := s.r.Peek(1)
				return nil, start, &csvSyntaxError{fmt.Sprintf("field %d: %q after a closing quote; a quote inside a quoted field must be doubled", len(s.fields)+1, nb)}
			}
			s.fields = append(s.fields, f)
			if kind != sepField {
				return s.fields, start, nil
			}
			continue
		}
		for {
			kind, err := s.sep()
			if err != nil {
				return nil, start, err
			}
			if kind != sepNone {
				f.end = len(s.buf)
				s.fields = append(s.fields, f)
				if kind != sepField {
					return s.fields, start, nil
				}
				break
			}
			b, err := s.r.ReadByte()
			if err != nil {
				return nil, start, err
			}
			if b == '\n' {
				s.line++
			}
			s.buf = append(s.buf, b)
		}
	}
}

// ---- columns ----

// csvTable builds one record: a builder per schema field.
type csvTable struct {
	fields []arrow.Field
	cols   []*csvColumn
}

type csvColumn struct {
	name  string
	desc  string // type for messages, e.g. "decimal(12, 2)" or "INT1"
	out   arrow.DataType
	b     array.Builder
	text  bool // string or binary: NullValue applies, "" is a value
	parse func(s string) error
}

func newCSVTable(path string, schema *arrow.Schema, mem memory.Allocator) (*csvTable, error) {
	t := &csvTable{}
	for _, fl := range schema.Fields() {
		c, err := newCSVColumn(fl, mem)
		if err != nil {
			t.release()
			return nil, &FileError{Path: path, Row: -1, Column: fl.Name, Msg: "unsupported column type for CSV", Err: err}
		}
		t.cols = append(t.cols, c)
		t.fields = append(t.fields, arrow.Field{Name: fl.Name, Type: c.out, Nullable: true})
	}
	return t, nil
}

func (t *csvTable) release() {
	for _, c := range t.cols {
		c.b.Release()
	}
	t.cols = nil
}

func (t *csvTable) record() arrow.RecordBatch {
	arrs := make([]arrow.Array, len(t.cols))
	for i, c := range t.cols {
		arrs[i] = c.b.NewArray()
	}
	n := int64(0)
	if len(arrs) > 0 {
		n = int64(arrs[0].Len())
	}
	rec := array.NewRecordBatch(arrow.NewSchema(t.fields, nil), arrs, n)
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func (c *csvColumn) append(v string, quoted bool, null string) error {
	if !quoted && v == null || !c.text && v == "" {
		c.b.AppendNull()
		return nil
	}
	return c.parse(v)
}

// dmsIntRange is the range of a DMS integer type, for fields whose Arrow type
// is wider than the DMS type (INT1 is int32 in Arrow).
var dmsIntRange = map[string][2]int64{
	"INT1": {math.MinInt8, math.MaxInt8}, "INT2": {math.MinInt16, math.MaxInt16},
	"INT4": {math.MinInt32, math.MaxInt32}, "INT8": {math.MinInt64, math.MaxInt64},
	"UINT1": {0, math.MaxUint8}, "UINT2": {0, math.MaxUint16}, "UINT4": {0, math.MaxUint32},
}

var errCSVZeroDate = errors.New("zero date")

func newCSVColumn(fl arrow.Field, mem memory.Allocator) (*csvColumn, error) {
	in := fl.Type
	if d, ok := in.(*arrow.DictionaryType); ok {
		in = d.ValueType
	}
	out, err := NormalType(in, false)
	if err != nil {
		return nil, err
	}
	dmsType, _ := csvMeta(fl.Metadata, MetaDMSType)
	layout := ""
	if f, ok := csvMeta(fl.Metadata, MetaDateFormat); ok && f != "" {
		if layout, err = dmsDateLayout(f); err != nil {
			return nil, fmt.Errorf("date format %q: %w", f, err)
		}
	}
	c := &csvColumn{name: fl.Name, desc: in.String(), out: out, b: array.NewBuilder(mem, out)}
	if dmsType != "" {
		c.desc = dmsType
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch in.ID() {
	case arrow.INT8:
		lo, hi = math.MinInt8, math.MaxInt8
	case arrow.INT16:
		lo, hi = math.MinInt16, math.MaxInt16
	case arrow.INT32:
		lo, hi = math.MinInt32, math.MaxInt32
	case arrow.UINT8:
		lo, hi = 0, math.MaxUint8
	case arrow.UINT16:
		lo, hi = 0, math.MaxUint16
	case arrow.UINT32:
		lo, hi = 0, math.MaxUint32
	}
	if r, ok := dmsIntRange[dmsType]; ok {
		lo, hi = max(lo, r[0]), min(hi, r[1])
	}
	unsigned64 := in.ID() == arrow.UINT64 || dmsType == "UINT8"
	switch b := c.b.(type) {
	case *array.Int32Builder, *array.Int64Builder:
		c.parse = func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < lo || n > hi {
				if err == nil || errors.Is(err, strconv.ErrRange) {
					return fmt.Errorf("value %q is out of range for %s (%d to %d)", csvTruncate(s, 40), c.desc, lo, hi)
				}
				return fmt.Errorf("value %q is not a whole number", csvTruncate(s, 40))
			}
			if ib, ok := b.(*array.Int32Builder); ok {
				ib.Append(int32(n))
			} else {
				b.(*array.Int64Builder).Append(n)
			}
			return nil
		}
	case *array.Decimal128Builder:
		dt := out.(*arrow.Decimal128Type)
		c.parse = func(s string) error {
			if unsigned64 {
				u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
				if err != nil {
					return fmt.Errorf("value %q is not an unsigned 64-bit whole number (0 to %d)", csvTruncate(s, 40), uint64(math.MaxUint64))
				}
				b.Append(decimal128.FromU64(u))
				return nil
			}
			n, err := csvParseDecimal(s, dt.Precision, dt.Scale)
			if err != nil {
				return err
			}
			b.Append(n)
			return nil
		}
	case *array.Float32Builder:
		c.parse = func(s string) error {
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return fmt.Errorf("value %q is not a 32-bit floating-point number", csvTruncate(s, 40))
			}
			b.Append(float32(v))
			return nil
		}
	case *array.Float64Builder:
		c.parse = func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("value %q is not a floating-point number", csvTruncate(s, 40))
			}
			b.Append(v)
			return nil
		}
	case *array.BooleanBuilder:
		c.parse = func(s string) error {
			switch strings.ToLower(s) {
			case "true", "t", "1":
				b.Append(true)
			case "false", "f", "0":
				b.Append(false)
			default:
				return fmt.Errorf("value %q is not a boolean (true/false, t/f, 1/0)", csvTruncate(s, 40))
			}
			return nil
		}
	case *array.StringBuilder:
		c.text = true
		c.parse = func(s string) error {
			if !utf8.ValidString(s) {
				return fmt.Errorf("value is not valid UTF-8")
			}
			b.Append(s)
			return nil
		}
	case *array.BinaryBuilder:
		c.text = true
		c.parse = func(s string) error {
			v, err := csvParseHex(s)
			if err != nil {
				return err
			}
			b.Append(v)
			return nil
		}
	case *array.FixedSizeBinaryBuilder:
		width := out.(*arrow.FixedSizeBinaryType).ByteWidth
		c.text = true
		c.parse = func(s string) error {
			v, err := csvParseHex(s)
			if err != nil {
				return err
			}
			if len(v) != width {
				return fmt.Errorf("value has %d bytes, the column holds exactly %d", len(v), width)
			}
			b.Append(v)
			return nil
		}
	case *array.Date32Builder:
		if layout == "" {
			layout = "2006-01-02"
		}
		c.parse = func(s string) error {
			t, err := csvParseTime(s, []string{layout}, false)
			if err == errCSVZeroDate {
				b.AppendNull()
				return nil
			}
			if err != nil {
				return fmt.Errorf("value %q is not a date (%s)", csvTruncate(s, 40), csvLayoutHelp(layout))
			}
			b.Append(arrow.Date32(floorDiv(t.Unix(), 86400)))
			return nil
		}
	case *array.Time64Builder:
		layouts := []string{"15:04:05", "15:04"}
		if layout != "" {
			layouts = []string{layout}
		}
		c.parse = func(s string) error {
			t, err := csvParseTime(s, layouts, false)
			if err != nil || t.Year() != 0 || t.YearDay() != 1 {
				return fmt.Errorf("value %q is not a time of day (%s)", csvTruncate(s, 40), csvLayoutHelp(layouts[0]))
			}
			us := int64(t.Hour())*3_600_000_000 + int64(t.Minute())*60_000_000 + int64(t.Second())*1_000_000 + int64(t.Nanosecond()/1000)
			b.Append(arrow.Time64(us))
			return nil
		}
	case *array.TimestampBuilder:
		zoned := out.(*arrow.TimestampType).TimeZone != ""
		layouts := []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}
		if zoned {
			layouts = []string{"2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}
		}
		if layout != "" {
			layouts = []string{layout}
		}
		c.parse = func(s string) error {
			t, err := csvParseTime(s, layouts, zoned)
			if err == errCSVZeroDate {
				b.AppendNull()
				return nil
			}
			if err != nil {
				return fmt.Errorf("value %q is not a timestamp (%s)", csvTruncate(s, 40), csvLayoutHelp(layouts[0]))
			}
			b.Append(arrow.Timestamp(t.UnixMicro()))
			return nil
		}
	default:
		c.b.Release()
		return nil, fmt.Errorf("%w: %s", errUnsupported, fl.Type)
	}
	return c, nil
}

func csvMeta(md arrow.Metadata, key string) (string, bool) {
	if i := md.FindKey(key); i >= 0 {
		return md.Values()[i], true
	}
	return "", false
}

func csvLayoutHelp(layout string) string {
	r := strings.NewReplacer("2006", "yyyy", "01", "MM", "02", "dd", "15", "HH", "04", "mm", "05", "ss", "Z07:00", "±hh:mm", "Z07", "±hh")
	return "want " + r.Replace(layout)
}

// csvParseTime parses s with the first layout that fits. Without a zone in s
// the time is taken as UTC (local timestamps are wall-clock values). An
// offset is converted to UTC only when zoned.
func csvParseTime(s string, layouts []string, zoned bool) (time.Time, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, errCSVZeroDate
	}
	var err error
	for _, l := range layouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			if !zoned {
				if _, off := t.Zone(); off != 0 || strings.Contains(l, "Z07") {
					return time.Time{}, errors.New("zone offset on a local timestamp")
				}
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// csvParseDecimal parses plain decimal notation exactly: no float round trip,
// and no rounding: digits beyond the scale must be zeros.
func csvParseDecimal(s string, prec, scale int32) (decimal128.Num, error) {
	var zero decimal128.Num
	desc := fmt.Sprintf("decimal(%d,%d)", prec, scale)
	body, neg := s, false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg, body = body[0] == '-', body[1:]
	}
	ip, fp, _ := strings.Cut(body, ".")
	if ip == "" && fp == "" || !csvAllDigits(ip) || !csvAllDigits(fp) {
		return zero, fmt.Errorf("value %q is not a decimal number (plain notation like -123.45)", csvTruncate(s, 40))
	}
	if len(fp) > int(scale) {
		if strings.Trim(fp[scale:], "0") != "" {
			return zero, fmt.Errorf("value %q has %d decimal places; %s keeps %d and cdcmerge never rounds", csvTruncate(s, 40), len(fp), desc, scale)
		}
		fp = fp[:scale]
	}
	digits := strings.TrimLeft(ip+fp+strings.Repeat("0", int(scale)-len(fp)), "0")
	if len(digits) > int(prec) {
		return zero, fmt.Errorf("value %q has too many digits for %s (at most %d before the point)", csvTruncate(s, 40), desc, prec-scale)
	}
	var n decimal128.Num
	if len(digits) <= 18 {
		u, _ := strconv.ParseUint("0"+digits, 10, 64)
		n = decimal128.FromU64(u)
	} else {
		bi, _ := new(big.Int).SetString(digits, 10)
		n = decimal128.FromBigInt(bi)
	}
	if neg {
		n = n.Negate()
	}
	return n, nil
}

func csvAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func csvParseHex(s string) ([]byte, error) {
	h := s
	if strings.HasPrefix(h, `\x`) || strings.HasPrefix(h, "0x") || strings.HasPrefix(h, "0X") {
		h = h[2:]
	}
	v, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("value %q is not hexadecimal bytes (DMS writes binary columns in hex)", csvTruncate(s, 40))
	}
	return v, nil
}

// ---- file names ----

var (
	csvLoadHex = regexp.MustCompile(`^LOAD([0-9A-F]{8})\.csv(\.gz)?$`)
	csvLoadDec = regexp.MustCompile(`^LOAD(\d{1,7}|\d{9,19})\.csv(\.gz)?$`)
	csvCDCTime = regexp.MustCompile(`^(\d{8})-(\d{9})\.csv(\.gz)?$`)
	csvCDCNum  = regexp.MustCompile(`^CDC(\d{1,19})\.csv(\.gz)?$`)
	csvCDCTxn  = regexp.MustCompile(`^CDC_TXN-(\d{17})\.csv(\.gz)?$`)
)

// ParseCSVName classifies the basename of a DMS CSV file, optionally
// gzip-compressed (.csv.gz):
//
//	LOAD00000001.csv             S3 target full load: 8 upper-case hex digits
//	LOAD001.csv                  S3 source full load: a decimal counter (any width but 8)
//	20260510-100001234.csv       S3 target CDC, yyyyMMdd-HHmmssSSS
//	CDC00001.csv                 S3 source CDC: a decimal counter
//	CDC_TXN-20260510100001234.csv S3 source CDC with PreserveTransactions, yyyyMMddHHmmssSSS
//
// number orders files of one style: the LOAD counter, the CDC counter, or
// for time-named files the time's digits read as a decimal
// (yyyyMMddHHmmssSSS), so sorting by (number, name) is stream order within
// a folder whatever the counters' widths (CDC100000 after CDC99999, which
// sorting by name gets wrong). Styles are not meant to mix in one folder.
func ParseCSVName(name string) (kind Kind, number uint64, ok bool) {
	if m := csvLoadHex.FindStringSubmatch(name); m != nil {
		n, err := strconv.ParseUint(m[1], 16, 64)
		return Load, n, err == nil
	}
	if m := csvLoadDec.FindStringSubmatch(name); m != nil {
		n, err := strconv.ParseUint(m[1], 10, 64)
		return Load, n, err == nil
	}
	if m := csvCDCNum.FindStringSubmatch(name); m != nil {
		n, err := strconv.ParseUint(m[1], 10, 64)
		return CDC, n, err == nil
	}
	digits := ""
	if m := csvCDCTime.FindStringSubmatch(name); m != nil {
		digits = m[1] + m[2]
	} else if m := csvCDCTxn.FindStringSubmatch(name); m != nil {
		digits = m[1]
	} else {
		return 0, 0, false
	}
	if _, err := time.Parse("20060102150405", digits[:14]); err != nil {
		return 0, 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return CDC, n, err == nil
}
