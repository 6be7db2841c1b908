package reader

import (
	"bytes"
	"context"
	"errors"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/gen"
)

func docs(t *testing.T, js ...string) []*Doc {
	t.Helper()
	out := make([]*Doc, len(js))
	for i, s := range js {
		d, err := ParseDocument([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out[i] = d
	}
	return out
}

func fieldByPath(t *testing.T, s *arrow.Schema, p string) arrow.Field {
	t.Helper()
	parts := strings.Split(p, ".")
	fs := s.Fields()
	for i, name := range parts {
		var found *arrow.Field
		for j := range fs {
			if fs[j].Name == name {
				found = &fs[j]
			}
		}
		if found == nil {
			t.Fatalf("no field %s in %s", p, s)
		}
		if i == len(parts)-1 {
			return *found
		}
		switch tt := found.Type.(type) {
		case *arrow.StructType:
			fs = tt.Fields()
		case *arrow.ListType:
			fs = tt.Elem().(*arrow.StructType).Fields()
		default:
			t.Fatalf("%s: %s is not nested", p, name)
		}
	}
	panic("unreachable")
}

func hasField(s *arrow.Schema, name string) bool {
	_, ok := s.FieldsByName(name)
	return ok
}

func TestInferSchemaRules(t *testing.T) {
	ds := docs(t,
		`{"i32_64":{"$numberInt":"1"},"int_float":1,"big_float":9007199254740993,"null_str":null,"str_int":"a","str_doc":"a",
		  "nested":{"x":1},"list_num":[1],"list_mixed":[1],"decimal":{"$numberDecimal":"12.50"},"dec_int":{"$numberDecimal":"0.5"},
		  "dec_nan":{"$numberDecimal":"NaN"},"dec_float":{"$numberDecimal":"1"},"when":{"$date":"2026-05-10T10:00:00Z"},"bin":{"$binary":{"base64":"AQ==","subType":"00"}},
		  "ts":{"$timestamp":{"t":1,"i":2}},"re":{"$regex":"a"},"ref":{"$oid":"5f8d0d55b54764421b7156c3"},"only_null":null,"empty_list":[],"empty_doc":{},
		  "daily":{"2026-05-10":1},"byid":{"5f8d0d55b54764421b7156c3":{"n":1}},"dotted":{"a.b":1},"wide":{"k1":1,"k2":2},
		  "list_docs":[{"a":1}],"_id":{"$oid":"5f8d0d55b54764421b7156c3"}}`,
		`{"_id":"x","i32_64":{"$numberLong":"5"},"int_float":2.5,"big_float":1.5,"null_str":"s","str_int":5,"str_doc":{"a":1},
		  "nested":{"y":"s"},"list_num":[2.5],"list_mixed":["a"],"decimal":{"$numberDecimal":"123.4"},"dec_int":7,
		  "dec_nan":{"$numberDecimal":"1"},"dec_float":1.5,"ref":"plain","only_null":null,"empty_list":[],"empty_doc":{},
		  "daily":{"2026-05-11":2.5},"wide":{"k3":"x","k4":4},"list_docs":[{"b":"x"}],"late":true}`,
		`{"_id":3}`,
	)
	s, err := InferSchemaWith(ds, InferOptions{MaxStructFields: 3, KeepRaw: true, TimestampColumn: "commit_ts"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Field(0).Name != "_id" || s.Field(0).Type.ID() != arrow.STRING || s.Field(1).Name != "commit_ts" || s.Field(s.NumFields()-1).Name != DocColumn {
		t.Fatalf("_id, commit_ts first and _doc last: %s", s)
	}
	if !IsRawField(s.Field(s.NumFields() - 1)) {
		t.Error("_doc is not marked raw")
	}
	want := map[string]string{
		"i32_64":          "int64",
		"int_float":       "float64",
		"null_str":        "utf8",
		"nested":          "struct<x: int64 nullable, y: utf8 nullable>",
		"list_num":        "list<item: float64, nullable>",
		"decimal":         "decimal(5, 2)",
		"dec_int":         "decimal(2, 1)",
		"when":            "timestamp[us, tz=UTC]",
		"bin":             "binary",
		"ts":              "struct<t: int64 nullable, i: int64 nullable>",
		"ref":             "utf8",
		"daily":           "map<utf8, float64, items_nullable>",
		"byid":            "map<utf8, struct<n: int64 nullable>, items_nullable>",
		"dotted":          "map<utf8, int64, items_nullable>",
		"wide":            "utf8", // map<utf8, int64|string> -> JSON
		"list_docs":       "list<item: struct<a: int64 nullable, b: utf8 nullable>, nullable>",
		"late":            "bool",
		"big_float":       "utf8",
		"str_int":         "utf8",
		"str_doc":         "utf8",
		"list_mixed":      "utf8",
		"dec_nan":         "utf8",
		"dec_float":       "utf8",
		"re":              "utf8",
		"list_docs.b":     "utf8",
		"nested.y":        "utf8",
		"i32_64@json":     "false",
		"big_float@json":  "true",
		"str_int@json":    "true",
		"str_doc@json":    "true",
		"list_mixed@json": "true",
		"dec_nan@json":    "true",
		"dec_float@json":  "true",
		"re@json":         "true",
		"wide@json":       "true",
		"ref@json":        "false",
	}
	for p, w := range want {
		if name, ok := strings.CutSuffix(p, "@json"); ok {
			if got := IsJSONField(fieldByPath(t, s, name)); (w == "true") != got {
				t.Errorf("%s: JSON fallback %v, want %s", name, got, w)
			}
			continue
		}
		if got := fieldByPath(t, s, p).Type.String(); got != w {
			t.Errorf("%s: %s, want %s", p, got, w)
		}
	}
	for _, gone := range []string{"only_null", "empty_list", "empty_doc"} {
		if hasField(s, gone) {
			t.Errorf("%s has a column; a field with no typed value gets none", gone)
		}
	}
	// A wide document (more keys than MaxStructFields) is a map.
	many := docs(t, `{"_id":1,"w":{"a":1,"b":2,"c":3,"d":4}}`)
	s2 := InferSchemaWith2(t, many, InferOptions{MaxStructFields: 3})
	if got := s2.Field(1).Type.String(); got != "map<utf8, int64, items_nullable>" {
		t.Errorf("wide: %s", got)
	}
	if got := InferSchema(many).Field(1).Type.String(); got != "struct<a: int64 nullable, b: int64 nullable, c: int64 nullable, d: int64 nullable>" {
		t.Errorf("default threshold: %s", got)
	}
	fb := JSONFallbackFields(s)
	sort.Strings(fb)
	wantFB := []string{"big_float", "dec_float", "dec_nan", "list_mixed", "re", "str_doc", "str_int", "wide"}
	if !reflect.DeepEqual(fb, wantFB) {
		t.Errorf("fallbacks %v, want %v", fb, wantFB)
	}
	// Collisions with the added columns are errors, not silent.
	if _, err := InferSchemaWith(docs(t, `{"_doc":1}`), InferOptions{KeepRaw: true}); err == nil {
		t.Error("a document field _doc accepted with KeepRaw")
	}

	// The schema is one Iceberg can hold, and the JSON marker survives the
	// round trip through Iceberg (as the column doc).
	ice, err := table.ArrowSchemaToIcebergWithFreshIDs(s, true)
	if err != nil {
		t.Fatalf("not an Iceberg schema: %v", err)
	}
	back, err := table.SchemaToArrowSchema(ice, nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	fb2 := JSONFallbackFields(back)
	sort.Strings(fb2)
	if !reflect.DeepEqual(fb2, wantFB) {
		t.Errorf("after Iceberg: fallbacks %v", fb2)
	}
}

func InferSchemaWith2(t *testing.T, ds []*Doc, opt InferOptions) *arrow.Schema {
	t.Helper()
	s, err := InferSchemaWith(ds, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func icebergRoundTrip(t *testing.T, s *arrow.Schema) *arrow.Schema {
	t.Helper()
	ice, err := table.ArrowSchemaToIcebergWithFreshIDs(s, true)
	if err != nil {
		t.Fatal(err)
	}
	back, err := table.SchemaToArrowSchema(ice, nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestMergeSchemaEvolution(t *testing.T) {
	first := docs(t, `{"_id":1,"n":{"$numberInt":"1"},"price":{"$numberDecimal":"1.25"},"age":30,"profile":{"city":"Lyon"},
		"items":[{"sku":"a"}],"tags":["x"],"counts":{"2026-05-10":1},"mixed":[1,"a"]}`)
	existing := icebergRoundTrip(t, InferSchema(first)) // carries field IDs, as the table's schema does
	batch := InferSchema(docs(t, `{"_id":2,"n":{"$numberLong":"5"},"price":{"$numberDecimal":"123456.5"},"age":"thirty",
		"profile":{"city":"Oslo","geo":{"lat":1.5}},"items":[{"sku":"b","qty":2}],"tags":[1],"counts":{"2026-05-11":2},"mixed":[true],"new":{"$date":"2026-05-10T00:00:00Z"}}`))
	merged, fb, err := MergeSchemaReport(existing, batch)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"n":               "int64",         // widened
		"price":           "decimal(8, 2)", // precision up, same scale
		"age":             "int64",         // unchanged
		"age__json":       "utf8",          // fallback sibling
		"profile.geo.lat": "float64",       // new nested field
		"items.qty":       "int64",         // new field in list elements
		"tags":            "list<element: utf8, nullable>",
		"tags__json":      "utf8",
		"new":             "timestamp[us, tz=UTC]",
		"mixed":           "utf8", // already JSON: takes anything
		"counts":          "map<utf8, int64, items_nullable>",
	}
	for p, w := range checks {
		if got := fieldByPath(t, merged, p).Type.String(); got != w {
			t.Errorf("%s: %s, want %s", p, got, w)
		}
	}
	sort.Strings(fb)
	if !reflect.DeepEqual(fb, []string{"age", "tags"}) {
		t.Errorf("fallbacks %v", fb)
	}
	if hasField(merged, "mixed__json") {
		t.Error("a JSON column got a fallback of its own")
	}
	// Existing fields keep order and field IDs; new ones are nullable.
	for i, f := range existing.Fields() {
		m := merged.Field(i)
		if m.Name != f.Name || !reflect.DeepEqual(m.Metadata, f.Metadata) {
			t.Errorf("field %d: %v became %v", i, f, m)
		}
	}
	for _, f := range merged.Fields()[existing.NumFields():] {
		if !f.Nullable {
			t.Errorf("new field %s is required", f.Name)
		}
	}
	// The merged schema is still an Iceberg schema and merging again is a
	// no-op.
	again, fb2, err := MergeSchemaReport(icebergRoundTrip(t, merged), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(fb2) != 2 || again.NumFields() != merged.NumFields() {
		t.Errorf("second merge: %v, %d vs %d fields", fb2, again.NumFields(), merged.NumFields())
	}
	// double takes ints; long does not take doubles; float32 widens.
	ex := arrow.NewSchema([]arrow.Field{{Name: "d", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "l", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "s__json", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	bt := arrow.NewSchema([]arrow.Field{{Name: "d", Type: arrow.PrimitiveTypes.Int64}, {Name: "l", Type: arrow.PrimitiveTypes.Float64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64}}, nil)
	m, fb3, err := MergeSchemaReport(ex, bt)
	if err != nil {
		t.Fatal(err)
	}
	if m.Field(0).Type.ID() != arrow.FLOAT64 || m.Field(2).Type.ID() != arrow.FLOAT64 || !reflect.DeepEqual(fb3, []string{"l"}) || !IsJSONField(m.Field(5)) {
		t.Errorf("numeric merge: %s %v", m, fb3)
	}
	// A sibling name held by a real column is an error, not a silent mix.
	if _, err := MergeSchema(ex, arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.PrimitiveTypes.Int64}}, nil)); err == nil {
		t.Error("fallback into a non-JSON column accepted")
	}
	if s, err := MergeSchema(nil, batch); err != nil || s != batch {
		t.Error("nil existing")
	}
}

func TestBuildRecordValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ds := docs(t,
		`{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"age":30,"p":{"city":"Lyon","tags":["a","b"]},"price":{"$numberDecimal":"1.5"},
		  "at":{"$date":"2026-05-10T10:00:00.123Z"},"m":{"2026-05-10":1},"ts":{"$timestamp":{"t":7,"i":8}},"b":{"$binary":{"base64":"AQI=","subType":"00"}},"x":"s"}`,
		`{"_id":"k2","age":"thirty","p":{"city":null,"tags":[]},"price":2,"x":{"a":1},"nulls":null}`,
	)
	existing := InferSchema(ds[:1])
	s, err := MergeSchema(existing, InferSchema(ds[1:]))
	if err != nil {
		t.Fatal(err)
	}
	// Built with KeepRaw via an added raw column.
	s = arrow.NewSchema(append(s.Fields(), arrow.Field{Name: DocColumn, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: rawMeta}), nil)
	rec, err := BuildRecord(append(ds, nil), s, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	col := func(name string) arrow.Array {
		idx := s.FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s in %s", name, s)
		}
		return rec.Column(idx[0])
	}
	str := func(name string, row int) string {
		c := col(name)
		if c.IsNull(row) {
			return "<null>"
		}
		return c.ValueStr(row)
	}
	if rec.NumRows() != 3 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	checks := []struct {
		col  string
		row  int
		want string
	}{
		{"_id", 0, "5f8d0d55b54764421b7156c3"}, {"_id", 1, "k2"}, {"_id", 2, "<null>"},
		{"age", 0, "30"}, {"age", 1, "<null>"}, {"age__json", 0, "<null>"}, {"age__json", 1, `"thirty"`},
		{"x", 0, "s"}, {"x__json", 1, `{"a":1}`},
		{"price", 0, "1.5"}, {"price", 1, "2"},
		{"at", 0, "2026-05-10T10:00:00.123Z"},
		{"b", 0, "AQI="},
		{DocColumn, 1, ds[1].Raw}, {DocColumn, 2, "<null>"},
	}
	for _, c := range checks {
		if got := str(c.col, c.row); got != c.want {
			t.Errorf("%s[%d] = %s, want %s", c.col, c.row, got, c.want)
		}
	}
	p := col("p").(*array.Struct)
	if got := p.Field(0).ValueStr(0); got != "Lyon" {
		t.Errorf("p.city = %s", got)
	}
	if !p.Field(0).IsNull(1) {
		t.Error("p.city null in row 1")
	}
	tags := p.Field(1).(*array.List)
	if s, e := tags.ValueOffsets(0); e-s != 2 {
		t.Errorf("tags[0] has %d elements", e-s)
	}
	if s, e := tags.ValueOffsets(1); e-s != 0 || tags.IsNull(1) {
		t.Errorf("tags[1] should be empty, not null: %d", e-s)
	}
	m := col("m").(*array.Map)
	if m.Keys().ValueStr(0) != "2026-05-10" || m.Items().ValueStr(0) != "1" {
		t.Errorf("map: %s", m)
	}
	ts := col("ts").(*array.Struct)
	if ts.Field(0).ValueStr(0) != "7" || ts.Field(1).ValueStr(0) != "8" {
		t.Errorf("timestamp: %s", ts)
	}

	// Fields the schema lacks, and values with no column to go to, are
	// errors naming the field, never dropped.
	_, err = BuildRecord(docs(t, `{"_id":1,"unknown":5}`), existing, mem)
	var re *RowError
	if !errors.As(err, &re) || re.Field != "unknown" {
		t.Errorf("unknown field: %v", err)
	}
	_, err = BuildRecord(docs(t, `{"_id":1,"p":{"city":5}}`), existing, mem)
	if !errors.As(err, &re) || re.Field != "p" {
		t.Errorf("misfit: %v", err)
	}
	// ...but null, [] and {} need no column.
	r2, err := BuildRecord(docs(t, `{"_id":1,"none":null,"e":[],"o":{"x":[]}}`), existing, mem)
	if err != nil {
		t.Fatal(err)
	}
	r2.Release()
	// A non-nullable _id (as the table's key) without a value is an error.
	req := arrow.NewSchema([]arrow.Field{{Name: "_id", Type: arrow.BinaryTypes.String}}, nil)
	if _, err := BuildRecord(docs(t, `{"a":null}`), req, mem); err == nil {
		t.Error("missing required _id accepted")
	}
}

func TestTableColumnPath(t *testing.T) {
	for name, want := range map[string]struct {
		path []string
		kind TableColumnKind
	}{
		"name":                 {[]string{"name"}, TablePlain},
		"profile.age":          {[]string{"profile", "age"}, TablePlain},
		"oid__id":              {[]string{"_id"}, TableObjectID},
		"oid_id":               {[]string{"_id"}, TableObjectID},
		"oid__owner":           {[]string{"owner"}, TableObjectID},
		"array__tags":          {[]string{"tags"}, TableArray},
		"profile.array__langs": {[]string{"profile", "langs"}, TableArray},
		"a..b":                 {[]string{"a..b"}, TablePlain},
	} {
		p, k := TableColumnPath(name)
		if !reflect.DeepEqual(p, want.path) || k != want.kind {
			t.Errorf("%s: %v %v, want %v %v", name, p, k, want.path, want.kind)
		}
	}
}

func tableModeRecord(t *testing.T, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{
		{Name: "oid__id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "profile.age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "profile.city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "array__tags", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "oid__owner", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	rows := [][]any{
		{"5f8d0d55b54764421b7156c3", "2026-05-10 10:00:00.000000", "ann", int32(30), "Lyon", `["a","b"]`, "5f8d0d55b54764421b7156c4"},
		{"5f8d0d55b54764421b7156c5", "2026-05-10 10:00:00.000000", "bob", nil, nil, `[1,{"$numberInt":"2"}]`, nil},
	}
	for _, r := range rows {
		for i, v := range r {
			switch x := v.(type) {
			case nil:
				b.Field(i).AppendNull()
			case string:
				b.Field(i).(*array.StringBuilder).Append(x)
			case int32:
				b.Field(i).(*array.Int32Builder).Append(x)
			}
		}
	}
	return b.NewRecordBatch()
}

func TestTableModeUnflatten(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := tableModeRecord(t, mem)
	defer rec.Release()
	ds, err := TableModeDocs(rec, TableModeOptions{TimestampColumn: "commit_ts"})
	if err != nil {
		t.Fatal(err)
	}
	want0 := `{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"name":"ann","profile":{"age":30,"city":"Lyon"},"tags":["a","b"],"owner":{"$oid":"5f8d0d55b54764421b7156c4"}}`
	if got := MarshalExtJSON(ds[0]); got != want0 {
		t.Errorf("row 0:\n got %s\nwant %s", got, want0)
	}
	s := InferSchema(ds)
	if got := s.String(); !strings.Contains(got, "profile: type=struct<age: int32 nullable, city: utf8 nullable>") || !strings.Contains(got, "tags: type=utf8") {
		// tags mixes strings and ints over the two rows: JSON.
		t.Errorf("schema %s", got)
	}
	if got := fieldByPath(t, InferSchema(ds[:1]), "tags").Type.String(); got != "list<item: utf8, nullable>" {
		t.Errorf("tags: %s", got)
	}
	// Kept flat: names as DMS wrote them, arrays as JSON text.
	flat, err := TableModeDocs(rec, TableModeOptions{KeepFlat: true, TimestampColumn: "commit_ts"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := flat[0].Get("array__tags"); v != `["a","b"]` {
		t.Errorf("flat tags %v", v)
	}
	if v, _ := flat[0].Get("profile.age"); v != int32(30) {
		t.Errorf("flat profile.age %v", v)
	}
	// Schema-only unflattening.
	us := UnflattenSchema(rec.Schema(), "commit_ts")
	if got := us.String(); !strings.Contains(got, "profile: type=struct<age: int32 nullable, city: utf8 nullable>") || us.Field(0).Name != "_id" {
		t.Errorf("unflattened %s", got)
	}
	if !IsJSONField(fieldByPath(t, us, "tags")) || !hasField(us, "commit_ts") {
		t.Errorf("unflattened %s", us)
	}
	// A dotted column whose parent is a plain column stays flat.
	clash := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.BinaryTypes.String}, {Name: "p.q", Type: arrow.BinaryTypes.String}}, nil)
	if got := UnflattenSchema(clash, ""); got.NumFields() != 2 || got.Field(1).Name != "p.q" {
		t.Errorf("clash %s", got)
	}
}

// writeDocFile writes one Parquet file with the given string columns
// (nil = null) to an in-memory source.
func writeDocFile(t *testing.T, cols []string, rows [][]any) memSource {
	t.Helper()
	var fs []arrow.Field
	for _, c := range cols {
		fs = append(fs, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	var buf bytes.Buffer
	if err := gen.WriteParquet(&buf, arrow.NewSchema(fs, nil), rows); err != nil {
		t.Fatal(err)
	}
	return memSource{buf.Bytes()}
}

var cdcFile = File{Object: Object{Path: "s/t/20260510-100000000.parquet"}, Name: "20260510-100000000.parquet", Kind: CDC}

func TestReadDocumentFileErrors(t *testing.T) {
	ctx := context.Background()
	mem := memory.DefaultAllocator
	oid := "5f8d0d55b54764421b7156c3"
	good := `{"_id":{"$oid":"` + oid + `"},"a":1}`
	tests := []struct {
		name     string
		cols     []string
		rows     [][]any
		row      int64
		column   string
		contains string
	}{
		{"invalid JSON", []string{"Op", "_id", "_doc"}, [][]any{{"I", oid, good}, {"U", oid, `{"a":`}}, 1, "_doc", "invalid extended JSON"},
		{"bad wrapper", []string{"Op", "_id", "_doc"}, [][]any{{"I", oid, `{"_id":{"$oid":"x"}}`}}, 0, "_doc", "$oid"},
		{"not an object", []string{"Op", "_id", "_doc"}, [][]any{{"I", oid, `[1]`}}, 0, "_doc", "JSON object"},
		{"null doc", []string{"Op", "_id", "_doc"}, [][]any{{"I", oid, nil}}, 0, "_doc", "null"},
		{"missing _id", []string{"Op", "_doc"}, [][]any{{"I", `{"a":1}`}}, 0, "_id", "no _id"},
		{"missing _id both", []string{"Op", "_id", "_doc"}, [][]any{{"I", nil, `{"a":1}`}}, 0, "_id", "no _id"},
		{"D without _id", []string{"Op", "_id", "_doc"}, [][]any{{"D", nil, nil}}, 0, "_id", "without _id"},
		{"mismatch", []string{"Op", "_id", "_doc"}, [][]any{{"I", "5f8d0d55b54764421b7156c4", good}}, 0, "_id", "_id column says"},
		{"legacy oid_id mismatch", []string{"Op", "oid_id", "_doc"}, [][]any{{"U", "other", good}}, 0, "oid_id", "_id column says"},
		{"no _doc", []string{"Op", "_id", "x"}, [][]any{{"I", oid, "1"}}, -1, "_doc", "no _doc column"},
	}
	for _, tc := range tests {
		src := writeDocFile(t, tc.cols, tc.rows)
		_, err := ReadDocumentFile(ctx, src, cdcFile, DocReadOptions{Mode: DocModeDocument}, mem)
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v is not a *FileError", tc.name, err)
			continue
		}
		if fe.Path != cdcFile.Path || fe.Row != tc.row || fe.Column != tc.column || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s: got %q (row %d column %q)", tc.name, err, fe.Row, fe.Column)
		}
	}
	// A D row's _doc is never parsed (garbage there is fine); the _id
	// column may hold extended JSON; a legacy oid_id column works.
	src := writeDocFile(t, []string{"Op", "commit_ts", "oid_id", "_doc"}, [][]any{
		{"D", "2026-05-10 10:00:00.000000", oid, "{not json"},
		{"I", nil, `{"$oid":"` + strings.ToUpper(oid) + `"}`, good},
	})
	b, err := ReadDocumentFile(ctx, src, cdcFile, DocReadOptions{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if b.Docs[0] != nil || b.IDs[0] != oid || b.IDs[1] != oid || string(b.Ops) != "DI" || b.TimestampColumn != "commit_ts" || b.Timestamps[0] == "" || b.Timestamps[1] != "" {
		t.Errorf("batch %+v", b)
	}
	// Without an _id column, a D row's key comes from its document.
	src = writeDocFile(t, []string{"Op", "_doc"}, [][]any{{"D", `{"_id":7}`}})
	b, err = ReadDocumentFile(ctx, src, cdcFile, DocReadOptions{}, mem)
	if err != nil || b.IDs[0] != "7" || b.Docs[0] != nil {
		t.Errorf("D without _id column: %v %+v", err, b)
	}
	// Table mode file: an array column that is not JSON names row and column.
	src = writeDocFile(t, []string{"Op", "oid__id", "array__tags"}, [][]any{{"I", oid, `["a"]`}, {"U", oid, `[oops`}})
	_, err = ReadDocumentFile(ctx, src, cdcFile, DocReadOptions{}, mem)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != cdcFile.Path || fe.Row != 1 || fe.Column != "array__tags" {
		t.Errorf("table mode: %v", err)
	}
	src = writeDocFile(t, []string{"Op", "oid__id", "array__tags", "profile.age"}, [][]any{{"I", oid, `["a"]`, "x"}, {"D", oid, nil, nil}})
	b, err = ReadDocumentFile(ctx, src, cdcFile, DocReadOptions{}, mem)
	if err != nil || MarshalExtJSON(b.Docs[0]) != `{"_id":{"$oid":"`+oid+`"},"tags":["a"],"profile":{"age":"x"}}` || b.Docs[1] != nil || b.IDs[1] != oid {
		t.Errorf("table mode: %v %+v", err, b)
	}
}

// TestDocDBModel reads the generator's DocumentDB output, replays it
// naively (LOAD rows, then CDC files by basename, rows in order; D
// deletes, I/U upsert) and compares with the generator's expected final
// documents; and it runs every batch through inference, schema evolution
// across runs and record building, as merge will.
func TestDocDBModel(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	out, err := gen.GenerateDocDB(ctx, gen.DirSink(dir), gen.DocDBConfig{Seed: 3, Docs: 60, Changes: 120, CDCFiles: 4})
	if err != nil {
		t.Fatal(err)
	}
	src := DirSource{Root: dir}
	tables, _, err := Discover(ctx, src)
	if err != nil || len(tables) != 1 {
		t.Fatalf("discover: %v %v", tables, err)
	}
	files := append(append([]File(nil), tables[0].Load...), tables[0].CDC...)
	if len(files) != len(out.LoadFiles)+len(out.CDCFiles) {
		t.Fatalf("%d files, generator wrote %v %v", len(files), out.LoadFiles, out.CDCFiles)
	}
	state := map[string]*Doc{}
	var tableSchema *arrow.Schema
	var fellBack []string
	for _, f := range files {
		b, err := ReadDocumentFile(ctx, src, f, DocReadOptions{}, mem)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			switch b.Ops[i] {
			case OpDelete:
				if b.Docs[i] != nil {
					t.Fatalf("%s row %d: delete with a document", f.Name, i)
				}
				delete(state, b.IDs[i])
			default:
				state[b.IDs[i]] = b.Docs[i]
			}
		}
		// One run per file: infer, evolve (through Iceberg, as the table
		// would), build.
		bs, err := b.Schema(InferOptions{KeepRaw: true})
		if err != nil {
			t.Fatal(err)
		}
		var fb []string
		if tableSchema == nil {
			tableSchema = bs
		} else if tableSchema, fb, err = MergeSchemaReport(icebergRoundTrip(t, tableSchema), bs); err != nil {
			t.Fatal(err)
		}
		fellBack = append(fellBack, fb...)
		rec, err := b.Record(tableSchema, mem)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if int(rec.NumRows()) != b.Len() {
			t.Fatalf("%d rows for %d", rec.NumRows(), b.Len())
		}
		ids := rec.Column(0).(*array.String)
		for i := range b.Len() {
			if ids.Value(i) != b.IDs[i] {
				t.Fatalf("%s row %d: _id %s, want %s", f.Name, i, ids.Value(i), b.IDs[i])
			}
		}
		rec.Release()
	}
	if len(state) != len(out.Final) {
		t.Fatalf("%d live documents, want %d", len(state), len(out.Final))
	}
	for id, want := range out.Final {
		got, ok := state[id]
		if !ok {
			t.Fatalf("%s missing", id)
		}
		if got.Raw != want {
			t.Fatalf("%s:\n got %s\nwant %s", id, got.Raw, want)
		}
		w, _ := ParseDocument([]byte(want))
		if MarshalExtJSON(got) != MarshalExtJSON(w) {
			t.Fatalf("%s: documents differ", id)
		}
	}
	// age drifted from int to string in the CDC stream: it fell back to
	// age__json, reported, and the nested field added late (prefs) became
	// a column; daily (keyed by dates) is a map.
	if !contains(fellBack, "age") {
		t.Errorf("fallbacks %v: age drift not reported", fellBack)
	}
	if f := fieldByPath(t, tableSchema, "age__json"); !IsJSONField(f) {
		t.Error("age__json is not a JSON column")
	}
	if got := fieldByPath(t, tableSchema, "prefs.notify.email").Type.ID(); got != arrow.BOOL {
		t.Errorf("prefs.notify.email: %s", got)
	}
	if got := fieldByPath(t, tableSchema, "daily").Type.ID(); got != arrow.MAP {
		t.Errorf("daily: %s", got)
	}
	if got := fieldByPath(t, tableSchema, "score").Type.ID(); got != arrow.DECIMAL128 {
		t.Errorf("score: %s", got)
	}
	if got := path.Base(files[0].Path); got != "LOAD00000001.parquet" {
		t.Errorf("first file %s", got)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
