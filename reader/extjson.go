package reader

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MongoDB Extended JSON v2 (relaxed and canonical) decoding.
//
// ParseExtJSON turns one extended JSON value into a tree of Go values:
//
//	JSON / extended JSON                          Go value
//	null, {"$undefined": true}                    nil (undefined is deprecated; it reads as null)
//	true / false                                  bool
//	"text", {"$symbol": "text"}                   string (a symbol is a deprecated string)
//	{"$code": "js"}                               BSONCode
//	integer literal that fits int64               int64
//	other number literal (1.5, 1e3, 2^70)         float64
//	{"$numberInt": "7"}                           int32
//	{"$numberLong": "7"}                          int64
//	{"$numberDouble": "1.5" | "Infinity" | "-Infinity" | "NaN"}  float64
//	{"$numberDecimal": "12.50"}                   NumberDecimal (exact digits + scale)
//	{"$oid": "24 hex digits"}                     ObjectID (lower-case hex)
//	{"$date": "ISO-8601" | {"$numberLong": "ms"} | ms number}   DateTime (µs since epoch, UTC)
//	{"$binary": {"base64": .., "subType": "hh"}}  BSONBinary
//	{"$binary": "..", "$type": "hh"} (legacy)     BSONBinary
//	{"$uuid": "8-4-4-4-12 hex"}                   BSONBinary subtype 4
//	{"$timestamp": {"t": n, "i": n}}              BSONTimestamp
//	{"$regularExpression": {"pattern": .., "options": ..}}, {"$regex": .., "$options": ..}  BSONRegex
//	{"$minKey": 1}, {"$maxKey": 1}                BSONMinKey, BSONMaxKey
//	{"$code": .., "$scope": {..}}                 BSONCodeWithScope
//	{"$dbPointer": {"$ref": .., "$id": {"$oid": ..}}}  BSONDBPointer
//	[...]                                         []any
//	{...} (any other object)                      *Doc (keys in document order)
//
// An object whose first key is one of the type wrappers above must have
// exactly the shape shown, or parsing fails: {"$oid": 5} is an error, not a
// document with a field "$oid". Objects starting with any other key ("$ref",
// "$foo", "name") are plain documents. Duplicate keys are an error (which
// value wins is undefined in MongoDB; cdcmerge does not guess).
//
// AppendExtJSON writes values back as relaxed extended JSON, so
// ParseExtJSON(AppendExtJSON(v)) gives v back for every value ParseExtJSON
// returns (the fuzz target checks this).

// Doc is a document (a JSON object) with its keys in document order. Field
// order matters: it fixes column order in inferred schemas.
type Doc struct {
	Fields []DocField
	// Raw is the document's JSON text as read, set by ParseDocument for
	// top-level documents only ("" otherwise).
	Raw string
}

// DocField is one key/value pair of a Doc.
type DocField struct {
	Key   string
	Value any
}

// Get returns the value of key, and whether the key is present.
func (d *Doc) Get(key string) (any, bool) {
	if d == nil {
		return nil, false
	}
	for i := range d.Fields {
		if d.Fields[i].Key == key {
			return d.Fields[i].Value, true
		}
	}
	return nil, false
}

// Len returns the number of fields.
func (d *Doc) Len() int {
	if d == nil {
		return 0
	}
	return len(d.Fields)
}

// ObjectID is a MongoDB ObjectId as 24 lower-case hex digits.
type ObjectID string

// DateTime is a BSON date as microseconds since 1970-01-01 UTC (BSON itself
// keeps milliseconds; ISO strings with finer fractions keep microseconds).
type DateTime int64

// Time returns d as a UTC time.
func (d DateTime) Time() time.Time { return time.UnixMicro(int64(d)).UTC() }

// NumberDecimal is a BSON Decimal128 kept exactly: the value is
// Digits × 10^-Scale, where Digits is an optionally '-'-signed string of
// decimal digits without leading zeros ("0" for zero). Scale may be
// negative (1E+3 is Digits "1", Scale -3). Special is "", "NaN",
// "Infinity" or "-Infinity"; Digits and Scale are unused then.
type NumberDecimal struct {
	Digits  string
	Scale   int32
	Special string
}

// String formats d as MongoDB does for $numberDecimal: plain notation for
// Scale >= 0, exponent notation for a negative scale.
func (d NumberDecimal) String() string {
	if d.Special != "" {
		return d.Special
	}
	neg := strings.HasPrefix(d.Digits, "-")
	digits := strings.TrimPrefix(d.Digits, "-")
	var s string
	switch {
	case d.Scale < 0:
		s = digits + "E+" + strconv.Itoa(int(-d.Scale))
	case d.Scale == 0:
		s = digits
	default:
		sc := int(d.Scale)
		if len(digits) <= sc {
			digits = strings.Repeat("0", sc-len(digits)+1) + digits
		}
		s = digits[:len(digits)-sc] + "." + digits[len(digits)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Unscaled returns Digits as a big integer (nil for a special value).
func (d NumberDecimal) Unscaled() *big.Int {
	if d.Special != "" {
		return nil
	}
	v, _ := new(big.Int).SetString(d.Digits, 10)
	return v
}

// BSONBinary is binary data with its BSON subtype.
type BSONBinary struct {
	Subtype byte
	Data    []byte
}

// BSONTimestamp is the internal MongoDB timestamp (seconds, increment).
type BSONTimestamp struct{ T, I uint32 }

// BSONRegex is a regular expression.
type BSONRegex struct{ Pattern, Options string }

// BSONMinKey and BSONMaxKey are the MinKey and MaxKey sentinels.
type (
	BSONMinKey struct{}
	BSONMaxKey struct{}
)

// BSONCode is JavaScript code.
type BSONCode string

// BSONCodeWithScope is JavaScript code with a scope document.
type BSONCodeWithScope struct {
	Code  string
	Scope *Doc
}

// BSONDBPointer is the deprecated DBPointer type.
type BSONDBPointer struct {
	Ref string
	ID  ObjectID
}

// ExtJSONError is a syntax or type error in extended JSON, at a byte offset.
type ExtJSONError struct {
	Offset int64
	Msg    string
}

func (e *ExtJSONError) Error() string {
	return fmt.Sprintf("extended JSON: %s (at byte %d)", e.Msg, e.Offset)
}

// maxDepth bounds nesting (BSON allows 100 levels in practice).
const maxDepth = 200

// ParseExtJSON parses one extended JSON value (relaxed or canonical).
// Anything after the value but white space is an error.
func ParseExtJSON(data []byte) (any, error) {
	p := &extParser{dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, p.errf("unexpected data after the value")
	}
	return v, nil
}

// ParseDocument parses a document (a JSON object) and keeps its text in
// Raw.
func ParseDocument(data []byte) (*Doc, error) {
	v, err := ParseExtJSON(data)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*Doc)
	if !ok {
		return nil, &ExtJSONError{Msg: fmt.Sprintf("a document must be a JSON object, not %s", kindName(v))}
	}
	d.Raw = string(data)
	return d, nil
}

type extParser struct {
	dec *json.Decoder
}

func (p *extParser) errf(format string, a ...any) error {
	return &ExtJSONError{Offset: p.dec.InputOffset(), Msg: fmt.Sprintf(format, a...)}
}

func (p *extParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err == io.EOF {
		return nil, p.errf("unexpected end of input")
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &ExtJSONError{Offset: se.Offset, Msg: se.Error()}
		}
		return nil, p.errf("%v", err)
	}
	return t, nil
}

func (p *extParser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errf("nested more than %d levels", maxDepth)
	}
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		return p.number(string(x))
	case json.Delim:
		switch x {
		case '[':
			arr := []any{}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := p.token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		case '{':
			return p.object(depth)
		}
	}
	return nil, p.errf("unexpected token %v", t)
}

// number converts a JSON number literal: integers that fit int64 stay
// exact, everything else is a float64.
func (p *extParser) number(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, p.errf("number %s is out of the range of a double", s)
	}
	return f, nil
}

func (p *extParser) object(depth int) (any, error) {
	d := &Doc{}
	seen := map[string]struct{}{}
	for p.dec.More() {
		kt, err := p.token()
		if err != nil {
			return nil, err
		}
		k, ok := kt.(string)
		if !ok {
			return nil, p.errf("object key expected")
		}
		if _, dup := seen[k]; dup {
			return nil, p.errf("duplicate key %q", k)
		}
		seen[k] = struct{}{}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.Fields = append(d.Fields, DocField{Key: k, Value: v})
	}
	if _, err := p.token(); err != nil { // '}'
		return nil, err
	}
	if len(d.Fields) == 0 || !strings.HasPrefix(d.Fields[0].Key, "$") {
		return d, nil
	}
	v, isWrapper, err := wrapper(d)
	if err != nil {
		return nil, p.errf("%s", err)
	}
	if !isWrapper {
		return d, nil
	}
	return v, nil
}

// wrapper interprets a document whose first key starts with '$'. isWrapper
// is false for documents that are not a type wrapper at all.
func wrapper(d *Doc) (v any, isWrapper bool, err error) {
	key := d.Fields[0].Key
	val := d.Fields[0].Value
	only := func() error {
		if len(d.Fields) != 1 {
			return fmt.Errorf("%s must be the only key of its object", key)
		}
		return nil
	}
	str := func() (string, error) {
		if err := only(); err != nil {
			return "", err
		}
		s, ok := val.(string)
		if !ok {
			return "", fmt.Errorf("%s wants a string, not %s", key, kindName(val))
		}
		return s, nil
	}
	switch key {
	case "$oid":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		oid, err := parseObjectID(s)
		return oid, true, err
	case "$numberInt":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || !canonicalInt(s) {
			return nil, true, fmt.Errorf("$numberInt %q is not a 32-bit integer", s)
		}
		return int32(n), true, nil
	case "$numberLong":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !canonicalInt(s) {
			return nil, true, fmt.Errorf("$numberLong %q is not a 64-bit integer", s)
		}
		return n, true, nil
	case "$numberDouble":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		f, err := parseDouble(s)
		return f, true, err
	case "$numberDecimal":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		dec, err := ParseNumberDecimal(s)
		return dec, true, err
	case "$date":
		if err := only(); err != nil {
			return nil, true, err
		}
		dt, err := parseDate(val)
		return dt, true, err
	case "$binary":
		b, err := parseBinary(d)
		return b, true, err
	case "$uuid":
		s, err := str()
		if err != nil {
			return nil, true, err
		}
		h := strings.ReplaceAll(s, "-", "")
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 16 || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return nil, true, fmt.Errorf("$uuid %q is not a UUID", s)
		}
		return BSONBinary{Subtype: 4, Data: b}, true, nil
	case "$timestamp":
		if err := only(); err != nil {
			return nil, true, err
		}
		in, ok := val.(*Doc)
		if !ok || in.Len() != 2 {
			return nil, true, errors.New(`$timestamp wants {"t": seconds, "i": increment}`)
		}
		t, okT := in.Get("t")
		i, okI := in.Get("i")
		tn, ok1 := uint32Of(t)
		in32, ok2 := uint32Of(i)
		if !okT || !okI || !ok1 || !ok2 {
			return nil, true, errors.New(`$timestamp wants {"t": seconds, "i": increment} with unsigned 32-bit integers`)
		}
		return BSONTimestamp{T: tn, I: in32}, true, nil
	case "$regularExpression":
		if err := only(); err != nil {
			return nil, true, err
		}
		in, ok := val.(*Doc)
		if !ok || in.Len() != 2 {
			return nil, true, errors.New(`$regularExpression wants {"pattern": .., "options": ..}`)
		}
		pat, ok1 := stringField(in, "pattern")
		opts, ok2 := stringField(in, "options")
		if !ok1 || !ok2 {
			return nil, true, errors.New(`$regularExpression wants {"pattern": string, "options": string}`)
		}
		return BSONRegex{Pattern: pat, Options: opts}, true, nil
	case "$regex":
		// Legacy form; {"$regex": {...}} with a non-string is the query
		// operator, which never appears in stored documents.
		pat, ok := val.(string)
		if !ok {
			return nil, true, errors.New("$regex wants a string pattern")
		}
		opts := ""
		switch len(d.Fields) {
		case 1:
		case 2:
			if d.Fields[1].Key != "$options" {
				return nil, true, fmt.Errorf("unexpected key %q after $regex", d.Fields[1].Key)
			}
			o, ok := d.Fields[1].Value.(string)
			if !ok {
				return nil, true, errors.New("$options wants a string")
			}
			opts = o
		default:
			return nil, true, errors.New("$regex takes only $options besides")
		}
		return BSONRegex{Pattern: pat, Options: opts}, true, nil
	case "$minKey", "$maxKey":
		if err := only(); err != nil {
			return nil, true, err
		}
		if n, ok := val.(int64); !ok || n != 1 {
			return nil, true, fmt.Errorf("%s wants the value 1", key)
		}
		if key == "$minKey" {
			return BSONMinKey{}, true, nil
		}
		return BSONMaxKey{}, true, nil
	case "$symbol":
		s, err := str()
		return s, true, err
	case "$undefined":
		if err := only(); err != nil {
			return nil, true, err
		}
		if b, ok := val.(bool); !ok || !b {
			return nil, true, errors.New("$undefined wants true")
		}
		return nil, true, nil
	case "$code":
		code, ok := val.(string)
		if !ok {
			return nil, true, errors.New("$code wants a string")
		}
		switch len(d.Fields) {
		case 1:
			return BSONCode(code), true, nil
		case 2:
			if d.Fields[1].Key != "$scope" {
				return nil, true, fmt.Errorf("unexpected key %q after $code", d.Fields[1].Key)
			}
			scope, ok := d.Fields[1].Value.(*Doc)
			if !ok {
				return nil, true, errors.New("$scope wants a document")
			}
			return BSONCodeWithScope{Code: code, Scope: scope}, true, nil
		}
		return nil, true, errors.New("$code takes only $scope besides")
	case "$dbPointer":
		if err := only(); err != nil {
			return nil, true, err
		}
		in, ok := val.(*Doc)
		if !ok || in.Len() != 2 {
			return nil, true, errors.New(`$dbPointer wants {"$ref": .., "$id": {"$oid": ..}}`)
		}
		ref, ok1 := stringField(in, "$ref")
		idv, _ := in.Get("$id")
		id, ok2 := idv.(ObjectID)
		if !ok1 || !ok2 {
			return nil, true, errors.New(`$dbPointer wants {"$ref": string, "$id": {"$oid": ..}}`)
		}
		return BSONDBPointer{Ref: ref, ID: id}, true, nil
	}
	return nil, false, nil
}

func canonicalInt(s string) bool {
	// strconv accepts a leading '+' and underscores only with base 0; reject
	// '+' so every value has one spelling.
	return s != "" && s[0] != '+'
}

func stringField(d *Doc, k string) (string, bool) {
	v, ok := d.Get(k)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func uint32Of(v any) (uint32, bool) {
	switch n := v.(type) {
	case int64:
		if n >= 0 && n <= math.MaxUint32 {
			return uint32(n), true
		}
	case int32:
		if n >= 0 {
			return uint32(n), true
		}
	}
	return 0, false
}

func parseObjectID(s string) (ObjectID, error) {
	if len(s) != 24 {
		return "", fmt.Errorf("$oid %q is not 24 hex digits", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("$oid %q is not 24 hex digits", s)
	}
	return ObjectID(strings.ToLower(s)), nil
}

func parseDouble(s string) (float64, error) {
	switch s {
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "_xXpP") || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("$numberDouble %q is not a double", s)
	}
	return f, nil
}

// ParseNumberDecimal parses the string of a $numberDecimal exactly. It
// accepts what MongoDB writes: [-]digits[.digits][E[+-]digits], "NaN",
// "Infinity", "-Infinity" (also "Inf", "-Inf", "+Infinity"), with at most
// 34 significant digits and the Decimal128 exponent range.
func ParseNumberDecimal(s string) (NumberDecimal, error) {
	bad := func() (NumberDecimal, error) {
		return NumberDecimal{}, fmt.Errorf("$numberDecimal %q is not a Decimal128", s)
	}
	switch strings.ToLower(s) {
	case "nan", "-nan", "+nan":
		return NumberDecimal{Special: "NaN"}, nil
	case "infinity", "inf", "+infinity", "+inf":
		return NumberDecimal{Special: "Infinity"}, nil
	case "-infinity", "-inf":
		return NumberDecimal{Special: "-Infinity"}, nil
	}
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToUpper(rest), "E")
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) || hasDot && intPart == "" && frac == "" {
		return bad()
	}
	exp := int64(0)
	if hasExp {
		if expPart == "" || expPart == "+" || expPart == "-" {
			return bad()
		}
		e := expPart
		if e[0] == '+' || e[0] == '-' {
			e = e[1:]
		}
		if !allDigits(e) || len(e) > 5 {
			return bad()
		}
		exp, _ = strconv.ParseInt(strings.TrimPrefix(expPart, "+"), 10, 64)
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if len(digits) > 34 {
		return bad()
	}
	scale := int64(len(frac)) - exp
	// Decimal128 exponents run from -6176 to 6111.
	if -scale < -6176 || -scale > 6111 {
		return bad()
	}
	if digits == "" {
		digits = "0"
	} else if neg {
		digits = "-" + digits
	}
	return NumberDecimal{Digits: digits, Scale: int32(scale)}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05Z0700",
}

func parseDate(v any) (DateTime, error) {
	var ms int64
	switch x := v.(type) {
	case string:
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, x); err == nil {
				if t.Year() < 1 || t.Year() > 9999 {
					break
				}
				return DateTime(t.Unix()*1e6 + int64(t.Nanosecond()/1000)), nil
			}
		}
		return 0, fmt.Errorf("$date %q is not an ISO-8601 date-time with a zone (e.g. 2026-05-10T10:00:00.000Z)", x)
	case int64: // relaxed {"$numberLong": ".."} already decoded, or a legacy number
		ms = x
	case int32:
		ms = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("$date %v is not a whole number of milliseconds", x)
		}
		ms = int64(x)
	default:
		return 0, fmt.Errorf("$date wants an ISO-8601 string or milliseconds, not %s", kindName(v))
	}
	if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
		return 0, fmt.Errorf("$date %d ms is out of range", ms)
	}
	return DateTime(ms * 1000), nil
}

func parseBinary(d *Doc) (BSONBinary, error) {
	val := d.Fields[0].Value
	var b64, sub string
	switch x := val.(type) {
	case *Doc: // canonical {"$binary": {"base64": .., "subType": ..}}
		if len(d.Fields) != 1 {
			return BSONBinary{}, errors.New("$binary must be the only key of its object")
		}
		var ok1, ok2 bool
		b64, ok1 = stringField(x, "base64")
		sub, ok2 = stringField(x, "subType")
		if !ok1 || !ok2 || x.Len() != 2 {
			return BSONBinary{}, errors.New(`$binary wants {"base64": string, "subType": hex string}`)
		}
	case string: // legacy {"$binary": "..", "$type": ".."}
		if len(d.Fields) != 2 || d.Fields[1].Key != "$type" {
			return BSONBinary{}, errors.New(`legacy $binary wants {"$binary": base64, "$type": hex}`)
		}
		t, ok := d.Fields[1].Value.(string)
		if !ok {
			return BSONBinary{}, errors.New("$type wants a hex string")
		}
		b64, sub = x, t
	default:
		return BSONBinary{}, fmt.Errorf("$binary wants an object or a string, not %s", kindName(val))
	}
	if len(sub) < 1 || len(sub) > 2 {
		return BSONBinary{}, fmt.Errorf("$binary subType %q is not 1-2 hex digits", sub)
	}
	st, err := strconv.ParseUint(sub, 16, 8)
	if err != nil {
		return BSONBinary{}, fmt.Errorf("$binary subType %q is not hex", sub)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return BSONBinary{}, fmt.Errorf("$binary payload is not base64: %v", err)
	}
	return BSONBinary{Subtype: byte(st), Data: data}, nil
}

// kindName names the kind of a parsed value for messages.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case int32:
		return "an int"
	case int64:
		return "a long"
	case float64:
		return "a double"
	case NumberDecimal:
		return "a decimal"
	case ObjectID:
		return "an ObjectId"
	case DateTime:
		return "a date"
	case BSONBinary:
		return "binary data"
	case BSONTimestamp:
		return "a timestamp"
	case []any:
		return "an array"
	case *Doc:
		return "a document"
	}
	return fmt.Sprintf("%T", v)
}

// MarshalExtJSON returns v as relaxed extended JSON.
func MarshalExtJSON(v any) string { return string(AppendExtJSON(nil, v)) }

// AppendExtJSON appends v as relaxed extended JSON: int32, int64 and
// finite doubles as JSON numbers (doubles always with a '.' or exponent so
// they read back as doubles), dates between 1970 and 9999 as ISO strings,
// and every other BSON type in its canonical wrapper. Keys keep document
// order. Values of Go types outside the table of ParseExtJSON are written
// as JSON strings of their %v formatting.
func AppendExtJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendJSONString(b, x)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, `{"$numberDouble":"NaN"}`...)
		case math.IsInf(x, 1):
			return append(b, `{"$numberDouble":"Infinity"}`...)
		case math.IsInf(x, -1):
			return append(b, `{"$numberDouble":"-Infinity"}`...)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return append(b, s...)
	case NumberDecimal:
		b = append(b, `{"$numberDecimal":`...)
		b = appendJSONString(b, x.String())
		return append(b, '}')
	case ObjectID:
		b = append(b, `{"$oid":`...)
		b = appendJSONString(b, string(x))
		return append(b, '}')
	case DateTime:
		us := int64(x)
		t := x.Time()
		if t.Year() >= 1970 && t.Year() <= 9999 {
			layout := "2006-01-02T15:04:05.000Z07:00"
			if us%1000 != 0 {
				layout = "2006-01-02T15:04:05.000000Z07:00"
			}
			b = append(b, `{"$date":"`...)
			b = t.AppendFormat(b, layout)
			return append(b, `"}`...)
		}
		if us%1000 == 0 {
			b = append(b, `{"$date":{"$numberLong":"`...)
			b = strconv.AppendInt(b, us/1000, 10)
			return append(b, `"}}`...)
		}
		b = append(b, `{"$date":"`...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		return append(b, `"}`...)
	case BSONBinary:
		b = append(b, `{"$binary":{"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, x.Data)
		b = append(b, `","subType":"`...)
		b = append(b, fmt.Sprintf("%02x", x.Subtype)...)
		return append(b, `"}}`...)
	case BSONTimestamp:
		return fmt.Appendf(b, `{"$timestamp":{"t":%d,"i":%d}}`, x.T, x.I)
	case BSONRegex:
		b = append(b, `{"$regularExpression":{"pattern":`...)
		b = appendJSONString(b, x.Pattern)
		b = append(b, `,"options":`...)
		b = appendJSONString(b, x.Options)
		return append(b, "}}"...)
	case BSONMinKey:
		return append(b, `{"$minKey":1}`...)
	case BSONMaxKey:
		return append(b, `{"$maxKey":1}`...)
	case BSONCode:
		b = append(b, `{"$code":`...)
		b = appendJSONString(b, string(x))
		return append(b, '}')
	case BSONCodeWithScope:
		b = append(b, `{"$code":`...)
		b = appendJSONString(b, x.Code)
		b = append(b, `,"$scope":`...)
		b = AppendExtJSON(b, x.Scope)
		return append(b, '}')
	case BSONDBPointer:
		b = append(b, `{"$dbPointer":{"$ref":`...)
		b = appendJSONString(b, x.Ref)
		b = append(b, `,"$id":`...)
		b = AppendExtJSON(b, x.ID)
		return append(b, "}}"...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendExtJSON(b, e)
		}
		return append(b, ']')
	case *Doc:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, '{')
		for i, f := range x.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.Key)
			b = append(b, ':')
			b = AppendExtJSON(b, f.Value)
		}
		return append(b, '}')
	}
	return appendJSONString(b, fmt.Sprint(v))
}

func appendJSONString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
