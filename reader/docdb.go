package reader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/internal/dictcol"
)

// DocumentDB / MongoDB sources.
//
// DMS writes a collection either in document mode (NestingLevel=none: an
// _id column plus the whole document as extended JSON in _doc) or in table
// mode (NestingLevel=one: one column per top-level field, nested fields as
// dotted names, oid__/array__ prefixes, arrays as JSON text).
// ReadDocumentFile reads either into documents (Doc trees, see extjson.go);
// InferSchema derives nested Arrow columns from a batch of documents;
// MergeSchema evolves a table's schema by a batch's; BuildRecord fills a
// schema from documents.
//
// # Type mapping (InferSchema)
//
//	bool                      -> bool
//	int32 ($numberInt)        -> int32
//	int64 ($numberLong, JSON integers) -> int64
//	double                    -> float64
//	$numberDecimal            -> decimal128(p, s): s = largest scale seen, p = s + most integer digits seen (at least 1)
//	string, $symbol, $code, ObjectId -> string (ObjectId as 24 lower-case hex digits)
//	$date                     -> timestamp[us, UTC]
//	$binary                   -> binary (the subtype is kept only in JSON text)
//	$timestamp                -> struct<t: int64, i: int64>
//	document                  -> struct (fields in first-seen order), or map<string, V> (see below)
//	array                     -> list<element type unified over all elements>
//	$regex, $minKey, $maxKey, $code with $scope, $dbPointer -> JSON text (string column, see fallback)
//	null, $undefined          -> no type: a field that is only ever null, an empty
//	                             array or an empty document gets no column (yet)
//
// The top level always has _id first, typed string: the ID key (see IDKey),
// which is also what DMS writes in the _id column; then the DMS timestamp
// column if asked for, then the document's fields in first-seen order, and
// _doc (the raw JSON) last with InferOptions.KeepRaw.
//
// # Unification (one field seen with several types in a batch)
//
//	null + T               -> T (every inferred column is nullable)
//	int32 + int64          -> int64
//	int + double           -> float64, unless an integer beyond ±2^53 was seen (then JSON)
//	int + decimal          -> decimal with enough integer digits
//	decimal precision > 38, or NaN/Infinity decimals -> JSON
//	string + ObjectId      -> string
//	document + document    -> struct with the union of the fields (each unified)
//	array + array          -> list of the unified element type
//	anything else (string + int, string + document, double + decimal, ...) -> JSON
//
// JSON fallback: the field becomes a string column whose values are the
// values re-encoded as relaxed extended JSON (a string value "5" is stored
// as "\"5\"", the int 5 as "5"), so nothing is lost and every value can be
// told apart. Such fields carry the Arrow field metadata doc=JSONFieldDoc,
// which Iceberg keeps as the column's doc; JSONFallbackFields lists them.
// A conflict inside an array's elements or a map's values makes the whole
// array or map field JSON; a conflict in a struct field stays in that field.
//
// # Maps
//
// A document-valued field becomes map<string, V> instead of a struct when,
// over the batch, it has more than InferOptions.MaxStructFields distinct
// keys (default 100), or every key looks like an identifier (only digits,
// 24 hex digits, a UUID, or a yyyy-mm-dd date), or some key is empty or
// contains a '.' (neither works as a column name). V is all its values
// unified.
//
// # Evolution across runs (MergeSchema)
//
// New fields (also inside structs, also inside list elements) are added as
// nullable; int32 widens to int64, float32 to float64, decimal precision
// grows at the same scale; a double column takes ints. Any other change
// cannot be made in place (Iceberg cannot change a column's type), so the
// field's values that do not fit go to a new sibling column named
// field + JSONFallbackSuffix ("age__json"), a JSON fallback column; the
// original column keeps the values that fit. BuildRecord routes each value
// to the column it fits.

// Column names DMS writes in document mode.
const (
	DocIDColumn       = "_id"
	DocColumn         = "_doc"
	LegacyDocIDColumn = "oid_id"
)

// JSONFieldDoc marks a JSON fallback column (Arrow field metadata key
// "doc", which Iceberg keeps as the column doc).
const JSONFieldDoc = "cdcmerge:json: values of conflicting types, as MongoDB relaxed extended JSON"

// JSONFallbackSuffix names the sibling column MergeSchema adds for values
// that no longer fit an existing column.
const JSONFallbackSuffix = "__json"

// DefaultMaxStructFields is the default InferOptions.MaxStructFields.
const DefaultMaxStructFields = 100

const docKey = "doc" // = iceberg-go's ArrowFieldDocKey

var jsonMeta = arrow.NewMetadata([]string{docKey}, []string{JSONFieldDoc})

// RawFieldDoc marks the raw document column (_doc) added by KeepRaw.
const RawFieldDoc = "cdcmerge:raw: the document as DMS wrote it (extended JSON)"

var rawMeta = arrow.NewMetadata([]string{docKey}, []string{RawFieldDoc})

// IsRawField reports whether f is the raw document column.
func IsRawField(f arrow.Field) bool {
	v, ok := f.Metadata.GetValue(docKey)
	return ok && f.Type.ID() == arrow.STRING && strings.HasPrefix(v, "cdcmerge:raw")
}

// IsJSONField reports whether f is a JSON fallback column.
func IsJSONField(f arrow.Field) bool {
	if f.Type.ID() != arrow.STRING {
		return false
	}
	v, ok := f.Metadata.GetValue(docKey)
	return ok && strings.HasPrefix(v, "cdcmerge:json")
}

func jsonField(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: jsonMeta}
}

// JSONFallbackFields lists the JSON fallback columns of s as dotted paths
// (list elements and map values as "[]").
func JSONFallbackFields(s *arrow.Schema) []string {
	var out []string
	var walk func(prefix string, f arrow.Field)
	walk = func(prefix string, f arrow.Field) {
		p := prefix + f.Name
		if IsJSONField(f) {
			out = append(out, p)
			return
		}
		if IsRawField(f) {
			return
		}
		switch t := f.Type.(type) {
		case *arrow.StructType:
			for _, c := range t.Fields() {
				walk(p+".", c)
			}
		case *arrow.MapType:
			walk(p+".", arrow.Field{Name: "[]", Type: t.ItemType()})
		case *arrow.ListType:
			walk(p+".", arrow.Field{Name: "[]", Type: t.Elem()})
		}
	}
	for _, f := range s.Fields() {
		walk("", f)
	}
	return out
}

// IDKey is the string form of a document _id used as the table key: an
// ObjectId as its 24 hex digits, a string as itself, an int or long in
// decimal, anything else as relaxed extended JSON.
func IDKey(v any) string {
	switch x := v.(type) {
	case ObjectID:
		return string(x)
	case string:
		return x
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return MarshalExtJSON(v)
}

// normalizeIDColumn turns an _id column value into an ID key: DMS writes an
// ObjectId as hex; a value in extended JSON ({"$oid": ..}) is decoded.
func normalizeIDColumn(s string) string {
	if strings.HasPrefix(s, "{") {
		if v, err := ParseExtJSON([]byte(s)); err == nil {
			return IDKey(v)
		}
	}
	if len(s) == 24 {
		if oid, err := parseObjectID(s); err == nil {
			return string(oid)
		}
	}
	return s
}

// ---- inference ----

type kind uint8

const (
	kUnknown kind = iota // null, empty array, empty document: no type yet
	kBool
	kInt32
	kInt64
	kFloat
	kDecimal
	kString
	kDate
	kBinary
	kTS
	kStruct
	kList
	kJSON
)

// stype accumulates what was seen of one field over a batch.
type stype struct {
	k          kind
	bigInt     bool // an integer beyond ±2^53
	intDigits  int  // most integer digits of a decimal or integer
	scale      int  // largest decimal scale
	decSpecial bool // a NaN or infinite decimal
	fields     []*sfield
	index      map[string]int
	elem       *stype
}

type sfield struct {
	name string
	t    *stype
}

func (s *stype) field(name string) *stype {
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[name]; ok {
		return s.fields[i].t
	}
	t := &stype{}
	s.index[name] = len(s.fields)
	s.fields = append(s.fields, &sfield{name: name, t: t})
	return t
}

// combine unifies the kind of s with k.
func (s *stype) combine(k kind) {
	switch {
	case k == kUnknown || s.k == k || s.k == kJSON:
		return
	case s.k == kUnknown:
		s.k = k
		return
	}
	a, b := s.k, k
	if a > b {
		a, b = b, a
	}
	switch {
	case a == kInt32 && b == kInt64:
		s.k = kInt64
	case (a == kInt32 || a == kInt64) && (b == kFloat || b == kDecimal):
		s.k = b
	default:
		s.k = kJSON
	}
	if s.k == kJSON {
		s.fields, s.index, s.elem = nil, nil, nil
	}
}

func digitsOf(n int64) int {
	if n == 0 {
		return 1
	}
	u := new(big.Int).Abs(big.NewInt(n))
	return len(u.String())
}

func (s *stype) observe(v any) {
	if s.k == kJSON {
		return
	}
	switch x := v.(type) {
	case nil:
	case bool:
		s.combine(kBool)
	case int32:
		s.combine(kInt32)
		s.intDigits = max(s.intDigits, digitsOf(int64(x)))
	case int64:
		s.combine(kInt64)
		s.intDigits = max(s.intDigits, digitsOf(x))
		if x > 1<<53 || x < -(1<<53) {
			s.bigInt = true
		}
	case float64:
		s.combine(kFloat)
	case NumberDecimal:
		s.combine(kDecimal)
		if x.Special != "" {
			s.decSpecial = true
			return
		}
		d := strings.TrimPrefix(x.Digits, "-")
		sc := int(x.Scale)
		if sc < 0 {
			if d != "0" {
				s.intDigits = max(s.intDigits, len(d)-sc)
			}
			return
		}
		s.intDigits = max(s.intDigits, len(d)-sc)
		s.scale = max(s.scale, sc)
	case string, ObjectID, BSONCode:
		s.combine(kString)
	case DateTime:
		s.combine(kDate)
	case BSONBinary:
		s.combine(kBinary)
	case BSONTimestamp:
		s.combine(kTS)
	case []any:
		if len(x) == 0 {
			if s.k != kList {
				s.combine(kUnknown)
			}
			return
		}
		s.combine(kList)
		if s.k != kList {
			return
		}
		if s.elem == nil {
			s.elem = &stype{}
		}
		for _, e := range x {
			s.elem.observe(e)
		}
	case *Doc:
		if x.Len() == 0 {
			return
		}
		s.combine(kStruct)
		if s.k != kStruct {
			return
		}
		for _, f := range x.Fields {
			s.field(f.Key).observe(f.Value)
		}
	default: // regex, min/max key, code with scope, DBPointer, ...
		s.combine(kJSON)
	}
}

// mergeInto unifies src into dst (used to fold a struct's fields into a
// map value type).
func mergeInto(dst, src *stype) {
	if dst.k == kJSON || src.k == kUnknown {
		return
	}
	dst.combine(src.k)
	if dst.k == kJSON {
		return
	}
	dst.bigInt = dst.bigInt || src.bigInt
	dst.decSpecial = dst.decSpecial || src.decSpecial
	dst.intDigits = max(dst.intDigits, src.intDigits)
	dst.scale = max(dst.scale, src.scale)
	switch dst.k {
	case kStruct:
		for _, f := range src.fields {
			mergeInto(dst.field(f.name), f.t)
		}
	case kList:
		if dst.elem == nil {
			dst.elem = &stype{}
		}
		if src.elem != nil {
			mergeInto(dst.elem, src.elem)
		}
	}
}

var idLikeKey = regexp.MustCompile(`^(\d{1,20}|[0-9a-fA-F]{24}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d{4}-\d{2}-\d{2}.*)$`)

func (s *stype) wantsMap(maxFields int) bool {
	if len(s.fields) > maxFields {
		return true
	}
	allID := len(s.fields) > 0
	for _, f := range s.fields {
		if f.name == "" || strings.Contains(f.name, ".") {
			return true
		}
		if !idLikeKey.MatchString(f.name) {
			allID = false
		}
	}
	return allID
}

// arrowType returns the Arrow type of s; ok is false when s has no type
// (the field gets no column); json is true for a JSON fallback.
func (s *stype) arrowType(maxFields int) (t arrow.DataType, ok, json bool) {
	switch s.k {
	case kUnknown:
		return nil, false, false
	case kBool:
		return arrow.FixedWidthTypes.Boolean, true, false
	case kInt32:
		return arrow.PrimitiveTypes.Int32, true, false
	case kInt64:
		return arrow.PrimitiveTypes.Int64, true, false
	case kFloat:
		if s.bigInt {
			return arrow.BinaryTypes.String, true, true
		}
		return arrow.PrimitiveTypes.Float64, true, false
	case kDecimal:
		p := max(s.intDigits, 0) + s.scale
		if p == 0 {
			p = 1
		}
		if s.decSpecial || p > 38 {
			return arrow.BinaryTypes.String, true, true
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s.scale)}, true, false
	case kString:
		return arrow.BinaryTypes.String, true, false
	case kDate:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, true, false
	case kBinary:
		return arrow.BinaryTypes.Binary, true, false
	case kTS:
		return tsStructType, true, false
	case kList:
		if s.elem == nil {
			return nil, false, false
		}
		et, ok, js := s.elem.arrowType(maxFields)
		if !ok {
			return nil, false, false
		}
		if js {
			return arrow.BinaryTypes.String, true, true
		}
		return arrow.ListOf(et), true, false
	case kStruct:
		if s.wantsMap(maxFields) {
			v := &stype{}
			for _, f := range s.fields {
				mergeInto(v, f.t)
			}
			vt, ok, js := v.arrowType(maxFields)
			if !ok {
				return nil, false, false
			}
			if js {
				return arrow.BinaryTypes.String, true, true
			}
			return arrow.MapOf(arrow.BinaryTypes.String, vt), true, false
		}
		fields := structFields(s.fields, maxFields)
		if len(fields) == 0 {
			return nil, false, false
		}
		return arrow.StructOf(fields...), true, false
	}
	return arrow.BinaryTypes.String, true, true
}

var tsStructType = arrow.StructOf(
	arrow.Field{Name: "t", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	arrow.Field{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true})

func structFields(fs []*sfield, maxFields int) []arrow.Field {
	var out []arrow.Field
	for _, f := range fs {
		t, ok, js := f.t.arrowType(maxFields)
		if !ok {
			continue
		}
		if js {
			out = append(out, jsonField(f.name))
			continue
		}
		out = append(out, arrow.Field{Name: f.name, Type: t, Nullable: true})
	}
	return out
}

// InferOptions tunes InferSchemaWith.
type InferOptions struct {
	// KeepRaw adds the _doc column: each document's JSON text as read.
	KeepRaw bool
	// TimestampColumn, if set, adds that string column (the DMS timestamp
	// column) right after _id.
	TimestampColumn string
	// MaxStructFields: a document-valued field with more distinct keys
	// than this over the batch becomes a map (0: DefaultMaxStructFields).
	MaxStructFields int
}

// InferSchema derives the Arrow schema of docs with default options (nil
// entries, such as delete rows, are skipped). See the package notes above
// for the rules.
func InferSchema(docs []*Doc) *arrow.Schema {
	s, _ := InferSchemaWith(docs, InferOptions{})
	return s
}

// InferSchemaWith is InferSchema with options. It fails only when a
// document field has the name of a column the options add (_doc with
// KeepRaw, the timestamp column).
func InferSchemaWith(docs []*Doc, opt InferOptions) (*arrow.Schema, error) {
	maxFields := opt.MaxStructFields
	if maxFields <= 0 {
		maxFields = DefaultMaxStructFields
	}
	root := &stype{k: kStruct}
	for _, d := range docs {
		if d == nil {
			continue
		}
		for _, f := range d.Fields {
			root.field(f.Key).observe(f.Value)
		}
	}
	fields := []arrow.Field{{Name: DocIDColumn, Type: arrow.BinaryTypes.String, Nullable: true}}
	if opt.TimestampColumn != "" {
		if _, ok := root.index[opt.TimestampColumn]; ok {
			return nil, fmt.Errorf("documents have a field %q, the name of the DMS timestamp column", opt.TimestampColumn)
		}
		fields = append(fields, arrow.Field{Name: opt.TimestampColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	var rest []*sfield
	for _, f := range root.fields {
		if f.name != DocIDColumn {
			rest = append(rest, f)
		}
	}
	fields = append(fields, structFields(rest, maxFields)...)
	if opt.KeepRaw {
		if _, ok := root.index[DocColumn]; ok {
			return nil, fmt.Errorf("documents have a field %q, the name of the raw document column: turn KeepRaw off", DocColumn)
		}
		fields = append(fields, arrow.Field{Name: DocColumn, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: rawMeta})
	}
	return arrow.NewSchema(fields, nil), nil
}

// ---- schema evolution ----

// MergeSchema evolves existing (the table's schema; nil for a new table)
// by batch (InferSchema of the next batch). See MergeSchemaReport.
func MergeSchema(existing, batch *arrow.Schema) (*arrow.Schema, error) {
	s, _, err := MergeSchemaReport(existing, batch)
	return s, err
}

// MergeSchemaReport evolves existing by batch: existing fields keep their
// order, names, metadata (Iceberg field IDs) and nullability; batch fields
// new to a struct are appended as nullable; types widen int32->int64,
// float32->float64, decimal precision up at the same scale, and a float64
// column takes ints; a map takes new keys. A field whose batch type cannot
// go into its existing type gets a JSON fallback sibling
// (name+JSONFallbackSuffix), listed in fallbacks as a dotted path. The
// result only ever adds nullable fields and widens types, so it can be
// applied to an Iceberg table in place. The error is for a sibling name
// taken by a column that is not a JSON fallback.
func MergeSchemaReport(existing, batch *arrow.Schema) (merged *arrow.Schema, fallbacks []string, err error) {
	if existing == nil {
		return batch, nil, nil
	}
	fields, fallbacks, err := mergeFields("", existing.Fields(), batch.Fields())
	if err != nil {
		return nil, nil, err
	}
	md := existing.Metadata()
	return arrow.NewSchema(fields, &md), fallbacks, nil
}

func mergeFields(prefix string, ex, bt []arrow.Field) ([]arrow.Field, []string, error) {
	out := append([]arrow.Field(nil), ex...)
	idx := map[string]int{}
	for i, f := range out {
		idx[f.Name] = i
	}
	var fallbacks []string
	for _, b := range bt {
		i, ok := idx[b.Name]
		if !ok {
			b.Nullable = true
			idx[b.Name] = len(out)
			out = append(out, b)
			continue
		}
		e := out[i]
		if IsJSONField(e) {
			continue
		}
		t, ok, fb, err := mergeType(prefix+b.Name, e.Type, b.Type, IsJSONField(b))
		if err != nil {
			return nil, nil, err
		}
		fallbacks = append(fallbacks, fb...)
		if ok {
			out[i].Type = t
			continue
		}
		sib := b.Name + JSONFallbackSuffix
		fallbacks = append(fallbacks, prefix+b.Name)
		if j, ok := idx[sib]; ok {
			if !IsJSONField(out[j]) {
				return nil, nil, fmt.Errorf("field %s%s: the JSON fallback column %q is taken by a column of type %s", prefix, b.Name, sib, out[j].Type)
			}
			continue
		}
		idx[sib] = len(out)
		out = append(out, jsonField(sib))
	}
	return out, fallbacks, nil
}

// mergeType merges batch type b into existing type e. ok is false when b's
// values cannot go into e (even widened).
func mergeType(path string, e, b arrow.DataType, bJSON bool) (arrow.DataType, bool, []string, error) {
	if bJSON {
		return nil, false, nil, nil
	}
	switch et := e.(type) {
	case *arrow.BooleanType, *arrow.StringType, *arrow.BinaryType:
		return e, e.ID() == b.ID(), nil, nil
	case *arrow.TimestampType:
		return e, b.ID() == arrow.TIMESTAMP, nil, nil
	case *arrow.Int32Type:
		switch b.ID() {
		case arrow.INT32:
			return e, true, nil, nil
		case arrow.INT64:
			return arrow.PrimitiveTypes.Int64, true, nil, nil
		}
	case *arrow.Int64Type:
		return e, b.ID() == arrow.INT32 || b.ID() == arrow.INT64, nil, nil
	case *arrow.Float32Type:
		switch b.ID() {
		case arrow.FLOAT32:
			return e, true, nil, nil
		case arrow.FLOAT64:
			return arrow.PrimitiveTypes.Float64, true, nil, nil
		}
	case *arrow.Float64Type:
		switch b.ID() {
		case arrow.FLOAT32, arrow.FLOAT64, arrow.INT32, arrow.INT64:
			return e, true, nil, nil
		}
	case *arrow.Decimal128Type:
		var bs, bInt int
		switch bt := b.(type) {
		case *arrow.Decimal128Type:
			bs, bInt = int(bt.Scale), int(bt.Precision-bt.Scale)
		case *arrow.Int32Type:
			bInt = 10
		case *arrow.Int64Type:
			bInt = 19
		default:
			return nil, false, nil, nil
		}
		es := int(et.Scale)
		if bs > es {
			return nil, false, nil, nil
		}
		p := es + max(int(et.Precision)-es, bInt)
		if p > 38 {
			return nil, false, nil, nil
		}
		if p == int(et.Precision) {
			return e, true, nil, nil
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: et.Scale}, true, nil, nil
	case *arrow.StructType:
		switch bt := b.(type) {
		case *arrow.StructType:
			fs, fb, err := mergeFields(path+".", et.Fields(), bt.Fields())
			if err != nil {
				return nil, false, nil, err
			}
			return arrow.StructOf(fs...), true, fb, nil
		}
	case *arrow.ListType:
		bt, ok := b.(*arrow.ListType)
		if !ok {
			return nil, false, nil, nil
		}
		ef := et.ElemField()
		t, ok, fb, err := mergeType(path+".[]", ef.Type, bt.Elem(), false)
		if err != nil || !ok {
			return nil, false, nil, err
		}
		ef.Type = t
		return arrow.ListOfField(ef), true, fb, nil
	case *arrow.MapType:
		item := et.ItemField()
		var vals []arrow.DataType
		switch bt := b.(type) {
		case *arrow.MapType:
			vals = []arrow.DataType{bt.ItemType()}
		case *arrow.StructType:
			for _, f := range bt.Fields() {
				if IsJSONField(f) {
					return nil, false, nil, nil
				}
				vals = append(vals, f.Type)
			}
		default:
			return nil, false, nil, nil
		}
		var fbs []string
		for _, v := range vals {
			t, ok, fb, err := mergeType(path+".[]", item.Type, v, false)
			if err != nil || !ok {
				return nil, false, nil, err
			}
			item.Type = t
			fbs = append(fbs, fb...)
		}
		return arrow.MapOfFields(et.KeyField(), item), true, fbs, nil
	}
	return nil, false, nil, nil
}

// ---- building records ----

// BuildRecord fills schema from docs, one row per document: fields matched
// by exact name, missing fields null, _id from IDKey of the document's _id
// when the _id column is a string, the raw column (IsRawField, added by
// InferOptions.KeepRaw) from Doc.Raw (or the document re-encoded when Raw is empty). A nil doc
// gives a row of nulls. Values that do not fit their column go to its JSON
// fallback sibling; a value that fits nowhere, or a document field the
// schema lacks (other than null, empty arrays and empty documents), is an
// error naming the field: run MergeSchema first.
func BuildRecord(docs []*Doc, schema *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	return buildDocRecord(docs, nil, nil, "", schema, mem)
}

// RowError is a value that could not be put in a record.
type RowError struct {
	Row   int
	Field string // dotted path
	Msg   string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("document %d, field %s: %s", e.Row, e.Field, e.Msg)
}

func buildDocRecord(docs []*Doc, ids, ts []string, tsName string, schema *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	fields := schema.Fields()
	db := &docBuilder{plans: map[*arrow.StructType]*levelPlan{}}
	top := newPlan(fields)
	// Columns filled from outside the document: _id, the timestamp column
	// (with ts), the raw document.
	skip := map[string]bool{DocIDColumn: true}
	idIdx, tsIdx, rawIdx := -1, -1, -1
	for i, f := range fields {
		switch {
		case f.Name == DocIDColumn:
			idIdx = i
		case tsName != "" && f.Name == tsName && ts != nil:
			tsIdx = i
			skip[f.Name] = true
		case IsRawField(f):
			rawIdx = i
			skip[f.Name] = true
		}
	}
	for r, d := range docs {
		if idIdx >= 0 {
			f, b := fields[idIdx], rb.Field(idIdx)
			var id any
			present := false
			if ids != nil && ids[r] != "" {
				id, present = ids[r], true
			} else if v, ok := d.Get(DocIDColumn); ok && v != nil {
				id, present = v, true
				if f.Type.ID() == arrow.STRING {
					id = IDKey(v)
				}
			}
			switch {
			case present:
				if !db.canAppend(id, f.Type) {
					return nil, &RowError{Row: r, Field: DocIDColumn, Msg: fmt.Sprintf("%s does not fit column type %s", kindName(id), f.Type)}
				}
				if err := db.appendValue(b, f.Type, id, r, DocIDColumn); err != nil {
					return nil, err
				}
			case !f.Nullable:
				return nil, &RowError{Row: r, Field: DocIDColumn, Msg: "no _id"}
			default:
				b.AppendNull()
			}
		}
		if tsIdx >= 0 {
			if ts[r] == "" {
				rb.Field(tsIdx).AppendNull()
			} else {
				rb.Field(tsIdx).(*array.StringBuilder).Append(ts[r])
			}
		}
		if rawIdx >= 0 {
			b := rb.Field(rawIdx).(*array.StringBuilder)
			switch {
			case d == nil:
				b.AppendNull()
			case d.Raw != "":
				b.Append(d.Raw)
			default:
				b.Append(MarshalExtJSON(d))
			}
		}
		if err := db.appendFields(top, rb.Field, d, skip, "", r); err != nil {
			return nil, err
		}
	}
	return rb.NewRecordBatch(), nil
}

// levelPlan describes one struct level (or the top level) for building:
// which fields are JSON fallback siblings of which.
type levelPlan struct {
	fields []arrow.Field
	sib    []int  // index of the field's JSON fallback sibling, or -1
	isSib  []bool // the field is the JSON fallback of another field
	isJSON []bool
	byName map[string]int // fields that take a document key (not siblings)
}

func newPlan(fields []arrow.Field) *levelPlan {
	p := &levelPlan{fields: fields, sib: make([]int, len(fields)), isSib: make([]bool, len(fields)),
		isJSON: make([]bool, len(fields)), byName: make(map[string]int, len(fields))}
	idx := make(map[string]int, len(fields))
	for i, f := range fields {
		idx[f.Name] = i
		p.sib[i] = -1
		p.isJSON[i] = IsJSONField(f)
	}
	for i, f := range fields {
		if base, ok := strings.CutSuffix(f.Name, JSONFallbackSuffix); ok && p.isJSON[i] {
			if j, ok := idx[base]; ok {
				p.isSib[i] = true
				if !p.isJSON[j] {
					p.sib[j] = i
				}
			}
		}
	}
	for i, f := range fields {
		if !p.isSib[i] {
			p.byName[f.Name] = i
		}
	}
	return p
}

// docBuilder caches the plans of the struct types of one schema.
type docBuilder struct {
	plans map[*arrow.StructType]*levelPlan
}

func (db *docBuilder) plan(st *arrow.StructType) *levelPlan {
	p, ok := db.plans[st]
	if !ok {
		p = newPlan(st.Fields())
		db.plans[st] = p
	}
	return p
}

// untyped reports whether v carries no type (null, empty arrays and
// documents, recursively): such values need no column.
func untyped(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		for _, e := range x {
			if !untyped(e) {
				return false
			}
		}
		return true
	case *Doc:
		for _, f := range x.Fields {
			if !untyped(f.Value) {
				return false
			}
		}
		return true
	}
	return false
}

// appendFields appends one row of d (nil: all null) to the builders of a
// struct level, routing misfits to JSON fallback siblings. Fields in skip
// are filled by the caller.
func (db *docBuilder) appendFields(p *levelPlan, bld func(int) array.Builder, d *Doc, skip map[string]bool, prefix string, row int) error {
	vals := make([]any, len(p.fields))
	if d != nil {
		for _, df := range d.Fields {
			if skip[df.Key] {
				continue
			}
			i, ok := p.byName[df.Key]
			if !ok {
				if !untyped(df.Value) {
					return &RowError{Row: row, Field: prefix + df.Key, Msg: fmt.Sprintf("%s has no column in the schema: merge the schema first", kindName(df.Value))}
				}
				continue
			}
			vals[i] = df.Value
		}
	}
	for i, f := range p.fields {
		if skip[f.Name] || p.isSib[i] {
			continue
		}
		v := vals[i]
		b := bld(i)
		sib := p.sib[i]
		path := prefix + f.Name
		switch {
		case v == nil:
			if !f.Nullable {
				return &RowError{Row: row, Field: path, Msg: "null or missing in a required column"}
			}
			b.AppendNull()
			if sib >= 0 {
				bld(sib).AppendNull()
			}
		case p.isJSON[i]:
			b.(*array.StringBuilder).Append(MarshalExtJSON(v))
		case db.canAppend(v, f.Type):
			if err := db.appendValue(b, f.Type, v, row, path); err != nil {
				return err
			}
			if sib >= 0 {
				bld(sib).AppendNull()
			}
		case sib >= 0 && f.Nullable:
			b.AppendNull()
			bld(sib).(*array.StringBuilder).Append(MarshalExtJSON(v))
		default:
			return &RowError{Row: row, Field: path, Msg: fmt.Sprintf("%s does not fit column type %s and there is no JSON fallback column: merge the schema first", kindName(v), f.Type)}
		}
	}
	// Siblings of fields the caller fills (or of JSON fields) stay null.
	for i, f := range p.fields {
		if !p.isSib[i] {
			continue
		}
		base := strings.TrimSuffix(f.Name, JSONFallbackSuffix)
		if j, ok := p.byName[base]; !ok || skip[base] || p.sib[j] != i {
			bld(i).AppendNull()
		}
	}
	return nil
}

// canAppend reports whether v can be appended to a column of type t
// (JSON fallback siblings of nested struct fields included).
func (db *docBuilder) canAppend(v any, t arrow.DataType) bool {
	if v == nil {
		return true
	}
	switch tt := t.(type) {
	case *arrow.BooleanType:
		_, ok := v.(bool)
		return ok
	case *arrow.Int32Type:
		switch x := v.(type) {
		case int32:
			return true
		case int64:
			return x >= math.MinInt32 && x <= math.MaxInt32
		}
	case *arrow.Int64Type:
		switch v.(type) {
		case int32, int64:
			return true
		}
	case *arrow.Float64Type:
		switch x := v.(type) {
		case float64, int32:
			return true
		case int64:
			return x <= 1<<53 && x >= -(1<<53)
		}
	case *arrow.StringType:
		switch v.(type) {
		case string, ObjectID, BSONCode:
			return true
		}
	case *arrow.BinaryType:
		_, ok := v.(BSONBinary)
		return ok
	case *arrow.TimestampType:
		x, ok := v.(DateTime)
		if !ok {
			return false
		}
		if tt.Unit == arrow.Nanosecond {
			return int64(x) <= math.MaxInt64/1000 && int64(x) >= math.MinInt64/1000
		}
		return true
	case *arrow.Decimal128Type:
		_, err := decimalAt(v, tt)
		return err == nil
	case *arrow.StructType:
		switch x := v.(type) {
		case BSONTimestamp:
			return arrow.TypeEqual(tt, tsStructType)
		case *Doc:
			p := db.plan(tt)
			for _, df := range x.Fields {
				i, ok := p.byName[df.Key]
				if !ok {
					if !untyped(df.Value) {
						return false
					}
					continue
				}
				f := p.fields[i]
				switch {
				case df.Value == nil || p.isJSON[i]:
				case db.canAppend(df.Value, f.Type):
				case p.sib[i] >= 0 && f.Nullable:
				default:
					return false
				}
			}
			for i, f := range p.fields {
				if !f.Nullable && !p.isSib[i] {
					if v, _ := x.Get(f.Name); v == nil {
						return false
					}
				}
			}
			return true
		}
	case *arrow.ListType:
		x, ok := v.([]any)
		if !ok {
			return false
		}
		ef := tt.ElemField()
		for _, e := range x {
			if e == nil {
				if !ef.Nullable {
					return false
				}
				continue
			}
			if !db.canAppend(e, ef.Type) {
				return false
			}
		}
		return true
	case *arrow.MapType:
		x, ok := v.(*Doc)
		if !ok {
			return false
		}
		item := tt.ItemField()
		for _, f := range x.Fields {
			if f.Value == nil {
				if !item.Nullable {
					return false
				}
				continue
			}
			if !db.canAppend(f.Value, item.Type) {
				return false
			}
		}
		return true
	}
	return false
}

// decimalAt returns v (a NumberDecimal or an integer) as a decimal of type t.
func decimalAt(v any, t *arrow.Decimal128Type) (decimal128.Num, error) {
	var u *big.Int
	var scale int64
	switch x := v.(type) {
	case NumberDecimal:
		if x.Special != "" {
			return decimal128.Num{}, errors.New("NaN and infinite decimals have no decimal128 value")
		}
		u, scale = x.Unscaled(), int64(x.Scale)
		if u == nil {
			return decimal128.Num{}, errors.New("bad decimal digits")
		}
	case int32:
		u = big.NewInt(int64(x))
	case int64:
		u = big.NewInt(x)
	default:
		return decimal128.Num{}, errors.New("not a number")
	}
	diff := int64(t.Scale) - scale
	if diff < 0 {
		// Only exact when the dropped digits are zeros.
		q, m := new(big.Int).QuoRem(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(-diff), nil), new(big.Int))
		if m.Sign() != 0 {
			return decimal128.Num{}, fmt.Errorf("scale %d does not fit scale %d", scale, t.Scale)
		}
		u = q
	} else if diff > 0 {
		if diff > 80 {
			return decimal128.Num{}, errors.New("out of range")
		}
		u = new(big.Int).Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(diff), nil))
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Precision)), nil)
	if new(big.Int).Abs(u).Cmp(limit) >= 0 {
		return decimal128.Num{}, fmt.Errorf("does not fit precision %d", t.Precision)
	}
	return decimal128.FromBigInt(u), nil
}

// appendValue appends non-null v, which canAppend accepted, to b.
func (db *docBuilder) appendValue(b array.Builder, t arrow.DataType, v any, row int, path string) error {
	bad := func() error {
		return &RowError{Row: row, Field: path, Msg: fmt.Sprintf("%s does not fit column type %s", kindName(v), t)}
	}
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		bb.Append(v.(bool))
	case *array.Int32Builder:
		switch x := v.(type) {
		case int32:
			bb.Append(x)
		case int64:
			bb.Append(int32(x))
		}
	case *array.Int64Builder:
		switch x := v.(type) {
		case int32:
			bb.Append(int64(x))
		case int64:
			bb.Append(x)
		}
	case *array.Float64Builder:
		switch x := v.(type) {
		case float64:
			bb.Append(x)
		case int32:
			bb.Append(float64(x))
		case int64:
			bb.Append(float64(x))
		}
	case *array.StringBuilder:
		switch x := v.(type) {
		case string:
			bb.Append(x)
		case ObjectID:
			bb.Append(string(x))
		case BSONCode:
			bb.Append(string(x))
		}
	case *array.BinaryBuilder:
		bb.Append(v.(BSONBinary).Data)
	case *array.TimestampBuilder:
		us := int64(v.(DateTime))
		switch t.(*arrow.TimestampType).Unit {
		case arrow.Second:
			us = floorDiv(us, 1e6)
		case arrow.Millisecond:
			us = floorDiv(us, 1e3)
		case arrow.Nanosecond:
			us *= 1000
		}
		bb.Append(arrow.Timestamp(us))
	case *array.Decimal128Builder:
		n, err := decimalAt(v, t.(*arrow.Decimal128Type))
		if err != nil {
			return bad()
		}
		bb.Append(n)
	case *array.StructBuilder:
		st := t.(*arrow.StructType)
		switch x := v.(type) {
		case BSONTimestamp:
			bb.Append(true)
			bb.FieldBuilder(0).(*array.Int64Builder).Append(int64(x.T))
			bb.FieldBuilder(1).(*array.Int64Builder).Append(int64(x.I))
		case *Doc:
			bb.Append(true)
			return db.appendFields(db.plan(st), bb.FieldBuilder, x, nil, path+".", row)
		default:
			return bad()
		}
	case *array.ListBuilder:
		lt := t.(*arrow.ListType)
		bb.Append(true)
		vb := bb.ValueBuilder()
		for _, e := range v.([]any) {
			if e == nil {
				vb.AppendNull()
				continue
			}
			if err := db.appendValue(vb, lt.Elem(), e, row, path+"[]"); err != nil {
				return err
			}
		}
	case *array.MapBuilder:
		mt := t.(*arrow.MapType)
		bb.Append(true)
		kb := bb.KeyBuilder().(*array.StringBuilder)
		ib := bb.ItemBuilder()
		for _, f := range v.(*Doc).Fields {
			kb.Append(f.Key)
			if f.Value == nil {
				ib.AppendNull()
				continue
			}
			if err := db.appendValue(ib, mt.ItemType(), f.Value, row, path+"."+f.Key); err != nil {
				return err
			}
		}
	default:
		return bad()
	}
	return nil
}

// ---- reading DMS files ----

// DocMode selects how ReadDocumentFile reads a file.
type DocMode int

const (
	// DocModeAuto reads files with a _doc column in document mode and the
	// others in table mode.
	DocModeAuto DocMode = iota
	// DocModeDocument wants _doc (NestingLevel=none).
	DocModeDocument
	// DocModeTable reads one column per field (NestingLevel=one).
	DocModeTable
)

// DocReadOptions tunes ReadDocumentFile.
type DocReadOptions struct {
	Mode DocMode
	// TimestampColumn is the DMS timestamp column; "" means "commit_ts"
	// when the file has it.
	TimestampColumn string
	// KeepFlat keeps table-mode columns as DMS wrote them (see TableModeDocs).
	KeepFlat bool
}

// DefaultDocTimestampColumn is the timestamp column looked for by default.
const DefaultDocTimestampColumn = "commit_ts"

// DocBatch is one DMS file of a DocumentDB/MongoDB collection.
type DocBatch struct {
	File File
	// Docs has one document per row; nil for delete rows (DMS writes only
	// the _id of a deleted document, and _doc is never read for them).
	Docs []*Doc
	// Ops is I, U or D per row (I for files without an Op column).
	Ops []byte
	// IDs is the ID key per row (see IDKey).
	IDs []string
	// TimestampColumn is the name of the DMS timestamp column found ("" if
	// none); Timestamps holds its values ("" for null), nil without one.
	TimestampColumn string
	Timestamps      []string
}

// Len returns the number of rows.
func (b *DocBatch) Len() int { return len(b.Ops) }

// Schema infers the batch's schema (the timestamp column included).
func (b *DocBatch) Schema(opt InferOptions) (*arrow.Schema, error) {
	if opt.TimestampColumn == "" && b.Timestamps != nil {
		opt.TimestampColumn = b.TimestampColumn
	}
	return InferSchemaWith(b.Docs, opt)
}

// Record fills schema with the batch: _id from IDs (delete rows carry only
// _id), the timestamp column from Timestamps, the rest as BuildRecord.
func (b *DocBatch) Record(schema *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	rec, err := buildDocRecord(b.Docs, b.IDs, b.Timestamps, b.TimestampColumn, schema, mem)
	if err != nil {
		var re *RowError
		if errors.As(err, &re) {
			return nil, &FileError{Path: b.File.Path, Row: int64(re.Row), Column: re.Field, Msg: re.Msg,
				Hint: "the table schema must be merged with this batch's (MergeSchema) first"}
		}
		return nil, &FileError{Path: b.File.Path, Row: -1, Msg: "cannot build the record", Err: err}
	}
	return rec, nil
}

func stringGetter(col arrow.Array) (func(int) string, bool) {
	switch c := col.(type) {
	case *array.String:
		return c.Value, true
	case *array.LargeString:
		return c.Value, true
	case *array.Binary:
		return func(i int) string { return string(c.Value(i)) }, true
	case *array.Int32:
		return func(i int) string { return strconv.FormatInt(int64(c.Value(i)), 10) }, true
	case *array.Int64:
		return func(i int) string { return strconv.FormatInt(c.Value(i), 10) }, true
	}
	return nil, false
}

func isMetaColumn(name, tsName string) bool {
	return strings.EqualFold(name, tsName) || strings.HasPrefix(strings.ToUpper(name), "AR_H_")
}

// ReadDocumentFile reads one DMS Parquet file of a DocumentDB/MongoDB
// collection: in document mode the _id (or oid_id) column, the _doc column
// (extended JSON, parsed for I and U rows only), Op and the timestamp
// column; in table mode every column (see TableModeDocs). Errors are
// *FileError naming the file and, where it applies, the row and column:
// invalid JSON, a null or non-object _doc in an I/U row, no _id, or an _id
// column that disagrees with the document's _id.
func ReadDocumentFile(ctx context.Context, src Source, f File, opt DocReadOptions, mem memory.Allocator) (*DocBatch, error) {
	d, err := ReadFile(ctx, src, f, mem)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return DocumentsOf(ctx, d, opt)
}

// IsDocumentFile reports whether a decoded file is DMS document-mode output
// of a DocumentDB/MongoDB collection: it has a _doc column.
func IsDocumentFile(d *Decoded) bool {
	for _, fl := range d.Record.Schema().Fields() {
		if fl.Name == DocColumn {
			return true
		}
	}
	return false
}

// DocumentsOf is ReadDocumentFile over a file already decoded by ReadFile.
// The batch does not keep d's record.
func DocumentsOf(ctx context.Context, d *Decoded, opt DocReadOptions) (*DocBatch, error) {
	f := d.File
	// Documents are read value by value: columns read as dictionaries
	// (ReadOptions.Dictionaries) are decoded first.
	rec, err := dictcol.Plain(d.Record, nil, memory.DefaultAllocator)
	if err != nil {
		return nil, &FileError{Path: f.Path, Row: -1, Msg: "cannot decode", Err: err}
	}
	defer rec.Release()
	n := int(rec.NumRows())
	out := &DocBatch{File: f, Ops: d.Ops, Docs: make([]*Doc, n), IDs: make([]string, n)}
	fe := func(row int, col, msg string, err error) *FileError {
		return &FileError{Path: f.Path, Row: int64(row), Column: col, Msg: msg, Err: err}
	}
	find := func(name string) (int, string) {
		for i, fl := range rec.Schema().Fields() {
			if strings.EqualFold(fl.Name, name) {
				return i, fl.Name
			}
		}
		return -1, ""
	}
	tsName := opt.TimestampColumn
	if tsName == "" {
		tsName = DefaultDocTimestampColumn
	}
	if i, name := find(tsName); i >= 0 {
		get, ok := stringGetter(rec.Column(i))
		if !ok {
			return nil, fe(-1, name, fmt.Sprintf("timestamp column has type %s, want a string", rec.Column(i).DataType()), nil)
		}
		out.TimestampColumn = name
		out.Timestamps = make([]string, n)
		for r := range n {
			if !rec.Column(i).IsNull(r) {
				out.Timestamps[r] = get(r)
			}
		}
	}
	docIdx, docName := find(DocColumn)
	mode := opt.Mode
	if mode == DocModeAuto {
		mode = DocModeTable
		if docIdx >= 0 {
			mode = DocModeDocument
		}
	}
	if mode == DocModeTable {
		docs, err := TableModeDocs(rec, TableModeOptions{KeepFlat: opt.KeepFlat, TimestampColumn: tsName})
		if err != nil {
			var ferr *FileError
			if errors.As(err, &ferr) {
				ferr.Path = f.Path
				return nil, ferr
			}
			return nil, fe(-1, "", "cannot read table-mode columns", err)
		}
		for r := range n {
			id, ok := docs[r].Get(DocIDColumn)
			if !ok || id == nil {
				return nil, fe(r, DocIDColumn, "the row has no _id", nil)
			}
			out.IDs[r] = IDKey(id)
			if out.Ops[r] != OpDelete {
				out.Docs[r] = docs[r]
			}
		}
		return out, nil
	}
	if docIdx < 0 {
		return nil, &FileError{Path: f.Path, Row: -1, Column: DocColumn, Msg: "no _doc column: not DMS document-mode output",
			Hint: "for NestingLevel=one output read the file in table mode"}
	}
	docCol := rec.Column(docIdx)
	getDoc, ok := stringGetter(docCol)
	if !ok {
		return nil, fe(-1, docName, fmt.Sprintf("_doc has type %s; DMS writes the document as JSON text", docCol.DataType()), nil)
	}
	idIdx, idName := find(DocIDColumn)
	if idIdx < 0 {
		idIdx, idName = find(LegacyDocIDColumn)
	}
	var getID func(int) string
	if idIdx >= 0 {
		getID, ok = stringGetter(rec.Column(idIdx))
		if !ok {
			return nil, fe(-1, idName, fmt.Sprintf("_id column has type %s; want a string", rec.Column(idIdx).DataType()), nil)
		}
	} else {
		idName = DocIDColumn
	}
	for r := range n {
		if r%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		colID := ""
		if getID != nil && !rec.Column(idIdx).IsNull(r) {
			colID = normalizeIDColumn(getID(r))
		}
		if out.Ops[r] == OpDelete {
			if colID == "" && getID == nil && !docCol.IsNull(r) {
				// No _id column at all (ExtractDocID off): the document is
				// the only place the key can be.
				doc, err := ParseDocument([]byte(getDoc(r)))
				if err == nil {
					if v, ok := doc.Get(DocIDColumn); ok && v != nil {
						colID = IDKey(v)
					}
				}
			}
			if colID == "" {
				return nil, fe(r, idName, "delete row without _id", nil)
			}
			out.IDs[r] = colID
			continue
		}
		if docCol.IsNull(r) {
			return nil, fe(r, docName, "the document is null in an insert or update row", nil)
		}
		doc, err := ParseDocument([]byte(getDoc(r)))
		if err != nil {
			return nil, fe(r, docName, "invalid extended JSON document", err)
		}
		v, has := doc.Get(DocIDColumn)
		switch {
		case has && v != nil:
			k := IDKey(v)
			if colID != "" && k != colID {
				return nil, fe(r, idName, fmt.Sprintf("the _id column says %q but the document's _id is %q", colID, k), nil)
			}
			out.IDs[r] = k
		case colID != "":
			out.IDs[r] = colID
		default:
			return nil, fe(r, idName, "the row has no _id (neither an _id column value nor a document _id)", nil)
		}
		out.Docs[r] = doc
	}
	return out, nil
}

// ---- table mode ----

// TableColumnKind says what a table-mode column holds.
type TableColumnKind int

const (
	// TablePlain is an ordinary value.
	TablePlain TableColumnKind = iota
	// TableObjectID is an ObjectId (oid__ prefix) as hex.
	TableObjectID
	// TableArray is an array as JSON text (array__ prefix).
	TableArray
)

// TableColumnPath splits a table-mode column name into the field path and
// what the column holds: "profile.age" -> [profile age]; "oid__id" and
// "oid_id" -> [_id], ObjectId; "oid__ref" -> [ref], ObjectId;
// "array__tags" -> [tags], array. A prefix may also sit on the last
// segment ("profile.array__langs").
func TableColumnPath(name string) ([]string, TableColumnKind) {
	if name == "oid__id" || name == "oid_id" {
		return []string{DocIDColumn}, TableObjectID
	}
	kind := TablePlain
	strip := func(s string) string {
		if r, ok := strings.CutPrefix(s, "oid__"); ok && r != "" {
			kind = TableObjectID
			return r
		}
		if r, ok := strings.CutPrefix(s, "array__"); ok && r != "" {
			kind = TableArray
			return r
		}
		return s
	}
	s := strip(name)
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return []string{name}, TablePlain
		}
	}
	if kind == TablePlain && len(parts) > 1 {
		parts[len(parts)-1] = strip(parts[len(parts)-1])
	}
	return parts, kind
}

// TableModeOptions tunes TableModeDocs.
type TableModeOptions struct {
	// KeepFlat keeps every column as one top-level field under its DMS
	// name, arrays as JSON text; otherwise columns are nested by their
	// dotted names, prefixes are removed, oid columns become ObjectIds and
	// array columns are parsed back into arrays.
	KeepFlat bool
	// TimestampColumn is left out of the documents, as are AR_H_* columns.
	TimestampColumn string
}

// TableModeDocs turns the rows of a table-mode record (NestingLevel=one,
// the Op column removed) into documents, so that table-mode output goes
// through the same inference as document mode. Null columns are absent
// fields. When a dotted column's parent is also a non-document column
// ("profile" and "profile.age" both set), the dotted column stays a
// top-level field under its full name. Errors are *FileError with the row
// and column (Path left empty).
func TableModeDocs(rec arrow.RecordBatch, opt TableModeOptions) ([]*Doc, error) {
	n := int(rec.NumRows())
	docs := make([]*Doc, n)
	for r := range docs {
		docs[r] = &Doc{}
	}
	for c, fl := range rec.Schema().Fields() {
		if strings.EqualFold(fl.Name, OpColumn) || isMetaColumn(fl.Name, opt.TimestampColumn) {
			continue
		}
		col := rec.Column(c)
		path, kind := TableColumnPath(fl.Name)
		if opt.KeepFlat {
			path, kind = []string{fl.Name}, TablePlain
			if fl.Name == "oid__id" || fl.Name == "oid_id" {
				path, kind = []string{DocIDColumn}, TableObjectID
			}
		}
		for r := range n {
			if col.IsNull(r) {
				continue
			}
			v, err := arrowValue(col, r)
			if err != nil {
				return nil, &FileError{Row: int64(r), Column: fl.Name, Msg: "unsupported column", Err: err}
			}
			switch kind {
			case TableObjectID:
				if s, ok := v.(string); ok {
					if oid, err := parseObjectID(s); err == nil {
						v = oid
					}
				}
			case TableArray:
				s, ok := v.(string)
				if !ok {
					return nil, &FileError{Row: int64(r), Column: fl.Name, Msg: "array column is not JSON text"}
				}
				a, err := ParseExtJSON([]byte(s))
				if err != nil {
					return nil, &FileError{Row: int64(r), Column: fl.Name, Msg: "invalid JSON array", Err: err}
				}
				if _, ok := a.([]any); !ok && a != nil {
					return nil, &FileError{Row: int64(r), Column: fl.Name, Msg: fmt.Sprintf("array column holds %s", kindName(a))}
				}
				v = a
			}
			if !setPath(docs[r], path, v) {
				if _, dup := docs[r].Get(fl.Name); dup {
					return nil, &FileError{Row: int64(r), Column: fl.Name, Msg: "two columns map to the same field"}
				}
				docs[r].Fields = append(docs[r].Fields, DocField{Key: fl.Name, Value: v})
			}
		}
	}
	return docs, nil
}

// setPath sets path in d, creating documents on the way; false when a
// non-document value is in the way or the field is already set.
func setPath(d *Doc, path []string, v any) bool {
	for i, p := range path {
		cur, ok := d.Get(p)
		if i == len(path)-1 {
			if ok {
				return false
			}
			d.Fields = append(d.Fields, DocField{Key: p, Value: v})
			return true
		}
		if !ok {
			nd := &Doc{}
			d.Fields = append(d.Fields, DocField{Key: p, Value: nd})
			d = nd
			continue
		}
		nd, isDoc := cur.(*Doc)
		if !isDoc {
			return false
		}
		d = nd
	}
	return false
}

// arrowValue returns row i of col (not null) as a document value.
func arrowValue(col arrow.Array, i int) (any, error) {
	switch c := col.(type) {
	case *array.Boolean:
		return c.Value(i), nil
	case *array.Int32:
		return c.Value(i), nil
	case *array.Int64:
		return c.Value(i), nil
	case *array.Float32:
		return float64(c.Value(i)), nil
	case *array.Float64:
		return c.Value(i), nil
	case *array.String:
		return c.Value(i), nil
	case *array.Binary:
		return BSONBinary{Data: append([]byte(nil), c.Value(i)...)}, nil
	case *array.Timestamp:
		conv := unitConverter(c.DataType().(*arrow.TimestampType).Unit, arrow.Microsecond)
		return DateTime(conv(int64(c.Value(i)))), nil
	case *array.Date32:
		return DateTime(int64(c.Value(i)) * 86400e6), nil
	case *array.Decimal128:
		dt := c.DataType().(*arrow.Decimal128Type)
		return NumberDecimal{Digits: c.Value(i).BigInt().String(), Scale: dt.Scale}, nil
	}
	return nil, fmt.Errorf("%w: %s", errUnsupported, col.DataType())
}

// UnflattenSchema nests a table-mode schema by its column names without
// looking at data: dotted names become struct fields, oid__ columns
// strings named without the prefix, and array__ columns JSON fallback
// columns (their element type is only known from the data: use
// TableModeDocs and InferSchema for real lists). Op, the timestamp column
// and AR_H_* columns stay top-level as they are. A dotted column whose
// parent is also a plain column stays flat.
func UnflattenSchema(flat *arrow.Schema, timestampColumn string) *arrow.Schema {
	type node struct {
		field    arrow.Field
		children []*node
		index    map[string]int
		leaf     bool
	}
	root := &node{index: map[string]int{}}
	var flatOut []arrow.Field
	for _, f := range flat.Fields() {
		if strings.EqualFold(f.Name, OpColumn) || isMetaColumn(f.Name, timestampColumn) {
			flatOut = append(flatOut, f)
			continue
		}
		path, kind := TableColumnPath(f.Name)
		leaf := arrow.Field{Name: path[len(path)-1], Type: f.Type, Nullable: true}
		switch kind {
		case TableArray:
			leaf = jsonField(leaf.Name)
		case TableObjectID:
			leaf.Type = arrow.BinaryTypes.String
		}
		cur := root
		ok := true
		for _, p := range path[:len(path)-1] {
			i, seen := cur.index[p]
			if !seen {
				nd := &node{field: arrow.Field{Name: p, Nullable: true}, index: map[string]int{}}
				cur.index[p] = len(cur.children)
				cur.children = append(cur.children, nd)
				cur = nd
				continue
			}
			if cur.children[i].leaf {
				ok = false
				break
			}
			cur = cur.children[i]
		}
		if _, dup := cur.index[leaf.Name]; !ok || dup {
			f.Nullable = true
			flatOut = append(flatOut, f)
			continue
		}
		cur.index[leaf.Name] = len(cur.children)
		cur.children = append(cur.children, &node{field: leaf, leaf: true})
	}
	var build func(n *node) arrow.Field
	build = func(n *node) arrow.Field {
		if n.leaf {
			return n.field
		}
		fs := make([]arrow.Field, len(n.children))
		for i, c := range n.children {
			fs[i] = build(c)
		}
		f := n.field
		f.Type = arrow.StructOf(fs...)
		return f
	}
	var out []arrow.Field
	for _, c := range root.children {
		out = append(out, build(c))
	}
	// _id first, as InferSchema does.
	for i, f := range out {
		if f.Name == DocIDColumn && i > 0 {
			copy(out[1:i+1], out[:i])
			out[0] = f
			break
		}
	}
	return arrow.NewSchema(append(out, flatOut...), nil)
}
