package reader

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) any {
	t.Helper()
	v, err := ParseExtJSON([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestExtJSONTypes(t *testing.T) {
	date := DateTime(time.Date(2026, 5, 10, 10, 0, 0, 123e6, time.UTC).UnixMicro())
	tests := []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{`true`, true},
		{`"héllo\n"`, "héllo\n"},
		{`42`, int64(42)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`9223372036854775808`, float64(9223372036854775808)}, // beyond int64
		{`1.5`, 1.5},
		{`1e3`, 1000.0},
		{`-0.0`, math.Copysign(0, -1)},
		{`{"$numberInt":"-7"}`, int32(-7)},
		{`{"$numberLong":"9007199254740993"}`, int64(9007199254740993)},
		{`{"$numberDouble":"1.5"}`, 1.5},
		{`{"$numberDouble":"Infinity"}`, math.Inf(1)},
		{`{"$numberDouble":"-Infinity"}`, math.Inf(-1)},
		{`{"$numberDecimal":"12.50"}`, NumberDecimal{Digits: "1250", Scale: 2}},
		{`{"$numberDecimal":"-0.05"}`, NumberDecimal{Digits: "-5", Scale: 2}},
		{`{"$numberDecimal":"1E+3"}`, NumberDecimal{Digits: "1", Scale: -3}},
		{`{"$numberDecimal":"1.234567890123456789012345678901234E-10"}`, NumberDecimal{Digits: "1234567890123456789012345678901234", Scale: 43}},
		{`{"$numberDecimal":"NaN"}`, NumberDecimal{Special: "NaN"}},
		{`{"$numberDecimal":"-Infinity"}`, NumberDecimal{Special: "-Infinity"}},
		{`{"$oid":"5F8D0D55B54764421B7156C3"}`, ObjectID("5f8d0d55b54764421b7156c3")},
		{`{"$date":"2026-05-10T10:00:00.123Z"}`, date},
		{`{"$date":"2026-05-10T12:00:00.123+02:00"}`, date},
		{`{"$date":"2026-05-10T10:00:00.123+0000"}`, date},
		{`{"$date":{"$numberLong":"1778407200123"}}`, date},
		{`{"$date":1778407200123}`, date},
		{`{"$date":{"$numberLong":"-62135596800000"}}`, DateTime(-62135596800000 * 1000)},
		{`{"$binary":{"base64":"AQID","subType":"00"}}`, BSONBinary{Subtype: 0, Data: []byte{1, 2, 3}}},
		{`{"$binary":{"base64":"AQID","subType":"80"}}`, BSONBinary{Subtype: 0x80, Data: []byte{1, 2, 3}}},
		{`{"$binary":"AQID","$type":"5"}`, BSONBinary{Subtype: 5, Data: []byte{1, 2, 3}}},
		{`{"$uuid":"00112233-4455-6677-8899-aabbccddeeff"}`, BSONBinary{Subtype: 4, Data: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}},
		{`{"$timestamp":{"t":1778407200,"i":7}}`, BSONTimestamp{T: 1778407200, I: 7}},
		{`{"$regularExpression":{"pattern":"^a.*","options":"i"}}`, BSONRegex{Pattern: "^a.*", Options: "i"}},
		{`{"$regex":"^a","$options":"m"}`, BSONRegex{Pattern: "^a", Options: "m"}},
		{`{"$minKey":1}`, BSONMinKey{}},
		{`{"$maxKey":1}`, BSONMaxKey{}},
		{`{"$symbol":"sym"}`, "sym"},
		{`{"$code":"f()"}`, BSONCode("f()")},
		{`{"$code":"f()","$scope":{"x":1}}`, BSONCodeWithScope{Code: "f()", Scope: &Doc{Fields: []DocField{{"x", int64(1)}}}}},
		{`{"$dbPointer":{"$ref":"c","$id":{"$oid":"5f8d0d55b54764421b7156c3"}}}`, BSONDBPointer{Ref: "c", ID: "5f8d0d55b54764421b7156c3"}},
		{`{"$undefined":true}`, nil},
		{`[1,{"$numberInt":"2"},null,[]]`, []any{int64(1), int32(2), nil, []any{}}},
		{`{"b":1,"a":{"$ref":"x","$id":2}}`, &Doc{Fields: []DocField{{"b", int64(1)}, {"a", &Doc{Fields: []DocField{{"$ref", "x"}, {"$id", int64(2)}}}}}}},
		{`{}`, &Doc{}},
	}
	for _, tc := range tests {
		got := mustParse(t, tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.in, got, tc.want)
		}
	}
	// NaN is not equal to itself.
	if f, ok := mustParse(t, `{"$numberDouble":"NaN"}`).(float64); !ok || !math.IsNaN(f) {
		t.Error("NaN")
	}
}

// The same document in canonical and relaxed form reads the same, except
// int32, which relaxed JSON cannot tell from int64.
func TestExtJSONCanonicalAndRelaxedAgree(t *testing.T) {
	canonical := `{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"n":{"$numberLong":"5"},"d":{"$numberDouble":"2.5"},"at":{"$date":{"$numberLong":"1778407200000"}},"big":{"$numberLong":"9223372036854775807"}}`
	relaxed := `{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"n":5,"d":2.5,"at":{"$date":"2026-05-10T10:00:00Z"},"big":9223372036854775807}`
	a, b := mustParse(t, canonical), mustParse(t, relaxed)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("canonical %s\nrelaxed %s", MarshalExtJSON(a), MarshalExtJSON(b))
	}
}

func TestExtJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a":}`, `[1,]`, `{"a":1} x`, `{"a":1,"a":2}`, `nul`, `1e400`,
		`{"$oid":"123"}`, `{"$oid":5}`, `{"$oid":"5f8d0d55b54764421b7156cZ"}`, `{"$oid":"5f8d0d55b54764421b7156c3","x":1}`,
		`{"$numberInt":"2147483648"}`, `{"$numberInt":7}`, `{"$numberInt":"+7"}`, `{"$numberLong":"1.5"}`, `{"$numberLong":"9223372036854775808"}`,
		`{"$numberDouble":"abc"}`, `{"$numberDouble":"1e999"}`, `{"$numberDouble":1.5}`,
		`{"$numberDecimal":"1.2.3"}`, `{"$numberDecimal":""}`, `{"$numberDecimal":"12345678901234567890123456789012345"}`, `{"$numberDecimal":"1E+99999"}`, `{"$numberDecimal":"0x10"}`,
		`{"$date":"yesterday"}`, `{"$date":"2026-05-10T10:00:00"}`, `{"$date":true}`, `{"$date":1.5}`, `{"$date":{"$numberLong":"9223372036854775807"}}`,
		`{"$binary":{"base64":"!!","subType":"00"}}`, `{"$binary":{"base64":"AQID","subType":"zz"}}`, `{"$binary":{"base64":"AQID"}}`, `{"$binary":"AQID"}`, `{"$binary":5}`,
		`{"$uuid":"not-a-uuid"}`,
		`{"$timestamp":{"t":-1,"i":0}}`, `{"$timestamp":{"t":1}}`, `{"$timestamp":5}`,
		`{"$regularExpression":{"pattern":1,"options":""}}`, `{"$regex":"a","$flags":"i"}`,
		`{"$minKey":2}`, `{"$undefined":false}`, `{"$code":1}`, `{"$code":"x","$scope":1}`,
		`{"$dbPointer":{"$ref":"c","$id":"x"}}`,
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
	} {
		v, err := ParseExtJSON([]byte(in))
		if err == nil {
			t.Errorf("%q: accepted as %#v", in, v)
			continue
		}
		var xe *ExtJSONError
		if !errors.As(err, &xe) {
			t.Errorf("%q: error %T %v is not an *ExtJSONError", in, err, err)
		}
	}
	if _, err := ParseDocument([]byte(`[1]`)); err == nil {
		t.Error("an array accepted as a document")
	}
}

func TestExtJSONMarshalRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"a":[1,2.0,{"$numberLong":"3"}],"s":"q\"\\\u0001é"}`,
		`{"d":{"$date":"1969-12-31T23:59:59.999Z"},"e":{"$date":"2026-05-10T10:00:00.123456Z"},"f":{"$date":{"$numberLong":"253402300800000"}}}`,
		`{"x":{"$numberDecimal":"-1.50"},"y":{"$numberDecimal":"1E+5"},"z":{"$numberDecimal":"Infinity"}}`,
		`{"b":{"$binary":{"base64":"","subType":"04"}},"t":{"$timestamp":{"t":4294967295,"i":1}}}`,
		`{"r":{"$regularExpression":{"pattern":"a/b","options":"ix"}},"m":{"$minKey":1},"M":{"$maxKey":1},"c":{"$code":"f","$scope":{}},"p":{"$dbPointer":{"$ref":"c","$id":{"$oid":"5f8d0d55b54764421b7156c3"}}}}`,
		`{"f":1e300,"g":-0.0,"h":{"$numberDouble":"NaN"},"i":1.5e-300,"n":null,"l":[]}`,
	} {
		v := mustParse(t, in)
		out := MarshalExtJSON(v)
		w := mustParse(t, out)
		if MarshalExtJSON(w) != out {
			t.Errorf("not stable:\n%s\n%s", out, MarshalExtJSON(w))
		}
		if !strings.Contains(in, "NaN") && !reflect.DeepEqual(v, w) {
			t.Errorf("round trip changed %s to %s", in, out)
		}
	}
	// Relaxed JSON has no int32: {"$numberInt":"3"} is written as 3 and
	// reads back as an int64 (documented; the value is the same).
	if got := MarshalExtJSON(mustParse(t, `{"$numberInt":"3"}`)); got != "3" {
		t.Errorf("int32 written as %s", got)
	}
	if got := MarshalExtJSON(1.0); got != "1.0" {
		t.Errorf("double 1 written as %s", got)
	}
	if got := MarshalExtJSON(DateTime(1778407200123000)); got != `{"$date":"2026-05-10T10:00:00.123Z"}` {
		t.Errorf("date written as %s", got)
	}
}

func TestNumberDecimalString(t *testing.T) {
	for in, want := range map[string]string{"0.050": "0.050", "-12.5": "-12.5", "1E+3": "1E+3", "00012": "12", "-0": "0", ".5": "0.5", "5.": "5", "1.0E-2": "0.010"} {
		d, err := ParseNumberDecimal(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if d.String() != want {
			t.Errorf("%s: got %s want %s", in, d.String(), want)
		}
	}
}

// FuzzExtJSON: any input parses to a value or an *ExtJSONError, never a
// panic; a parsed value written back as relaxed extended JSON parses again
// and is written identically.
func FuzzExtJSON(f *testing.F) {
	for _, s := range []string{
		`{"_id":{"$oid":"5f8d0d55b54764421b7156c3"},"name":"a","age":{"$numberInt":"30"},"tags":["x",1,null]}`,
		`{"$date":{"$numberLong":"-1"}}`, `{"$date":"2026-05-10T10:00:00Z"}`,
		`{"$numberDecimal":"1.2345E-7"}`, `{"$numberDecimal":"NaN"}`, `{"$numberDouble":"-Infinity"}`,
		`{"$binary":{"base64":"AQID","subType":"00"}}`, `{"$binary":"AQID","$type":"00"}`,
		`{"$timestamp":{"t":1,"i":2}}`, `{"$regex":"a","$options":"i"}`, `{"$code":"x","$scope":{"y":1}}`,
		`[1, 2.5, 1e400, 9223372036854775808]`, `"\ud800"`, `{"a":{"b":{"c":[[]]}}}`, `{"a":1,"a":2}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseExtJSON([]byte(s))
		if err != nil {
			var xe *ExtJSONError
			if !errors.As(err, &xe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		out := MarshalExtJSON(v)
		w, err := ParseExtJSON([]byte(out))
		if err != nil {
			t.Fatalf("re-parsing %s (from %q): %v", out, s, err)
		}
		if again := MarshalExtJSON(w); again != out {
			t.Fatalf("unstable: %s then %s", out, again)
		}
	})
}
