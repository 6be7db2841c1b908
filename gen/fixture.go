package gen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// TypeCase is one column of the every-type fixture and what it must hold
// once the fixture's LOAD and CDC files are merged.
type TypeCase struct {
	Column  string        // column name in the files
	Layout  string        // human description, e.g. "DECIMAL(9,2) as INT32"
	Iceberg string        // expected Iceberg type as iceberg-go prints it, e.g. "decimal(9, 2)"
	Values  map[int64]any // expected final value per key id (nil = null); deleted ids are absent
}

// orderedGroup is a Parquet group whose fields keep the given order
// (parquet.Group sorts its fields by name).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }
func (g *orderedGroup) String() string {
	s := "message {"
	for _, f := range g.fields {
		s += " " + f.Name() + ";"
	}
	return s + " }"
}

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

func (f *orderedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Interface {
		base = base.Elem()
	}
	if base.Kind() == reflect.Map {
		return base.MapIndex(reflect.ValueOf(f.name))
	}
	return reflect.Value{}
}

func newOrderedGroup(names []string, nodes []parquet.Node) *orderedGroup {
	g := &orderedGroup{Group: parquet.Group{}}
	for i, name := range names {
		g.Group[name] = nodes[i]
		g.fields = append(g.fields, &orderedField{Node: nodes[i], name: name})
	}
	return g
}

// plainType is a physical type with no logical or converted annotation
// (parquet-go annotates its INT32/INT64 types with INT(32/64, signed)).
type plainType struct{ parquet.Type }

func (plainType) LogicalType() *format.LogicalType         { return nil }
func (plainType) ConvertedType() *deprecated.ConvertedType { return nil }
func (t plainType) String() string                         { return t.Type.Kind().String() }

func plain(t parquet.Type) parquet.Node { return parquet.Leaf(plainType{t}) }

// localType drops the legacy converted type, which parquet-go sets even for
// isAdjustedToUTC=false timestamps, where the format says it must not be
// (TIMESTAMP_MILLIS/MICROS imply UTC).
type localType struct{ parquet.Type }

func (localType) ConvertedType() *deprecated.ConvertedType { return nil }

func localTimestamp(unit parquet.TimeUnit) parquet.Node {
	return parquet.Leaf(localType{parquet.TimestampAdjusted(unit, false).Type()})
}

// fixtureColumn describes one fixture column: its Parquet node, the raw
// values written (ids 1..4 in LOAD, then the U of id 2 and the I of id 6),
// how a raw value becomes a Parquet value and what it means after the merge.
type fixtureColumn struct {
	name, layout, iceberg string
	node                  parquet.Node
	load                  [4]any // ids 1..4 (id 5 is all nulls)
	upd, ins              any    // U of id 2, I of id 6
	enc                   func(any) parquet.Value
	exp                   func(any) any // nil = identity
}

func encInt32(v any) parquet.Value {
	switch x := v.(type) {
	case int32:
		return parquet.Int32Value(x)
	case uint8:
		return parquet.Int32Value(int32(x))
	case uint16:
		return parquet.Int32Value(int32(x))
	case uint32:
		return parquet.Int32Value(int32(x))
	}
	panic(fmt.Sprintf("gen: encInt32(%T)", v))
}

func encInt64(v any) parquet.Value {
	switch x := v.(type) {
	case int64:
		return parquet.Int64Value(x)
	case uint64:
		return parquet.Int64Value(int64(x))
	}
	panic(fmt.Sprintf("gen: encInt64(%T)", v))
}

func encFloat(v any) parquet.Value  { return parquet.FloatValue(v.(float32)) }
func encDouble(v any) parquet.Value { return parquet.DoubleValue(v.(float64)) }
func encBool(v any) parquet.Value   { return parquet.BooleanValue(v.(bool)) }
func encString(v any) parquet.Value { return parquet.ByteArrayValue([]byte(v.(string))) }
func encBytes(v any) parquet.Value  { return parquet.ByteArrayValue(v.([]byte)) }

// julianEpochDay is the Julian day number of 1970-01-01.
const julianEpochDay = 2440588

// int96Timestamp encodes nanoseconds since the epoch as an INT96 timestamp:
// 8 bytes nanoseconds of the day then 4 bytes Julian day, little-endian.
func int96Timestamp(nanos int64) deprecated.Int96 {
	const nsPerDay = int64(24 * time.Hour)
	day := floorDiv(nanos, nsPerDay)
	ns := uint64(nanos - day*nsPerDay)
	return deprecated.Int96{uint32(ns), uint32(ns >> 32), uint32(day + julianEpochDay)}
}

func encInt96(v any) parquet.Value { return parquet.Int96Value(int96Timestamp(v.(int64))) }

// twosComplement returns v as big-endian two's complement in n bytes, or in
// the fewest bytes that hold it when n == 0.
func twosComplement(v *big.Int, n int) []byte {
	if n == 0 {
		n = 1
		for {
			lim := new(big.Int).Lsh(big.NewInt(1), uint(8*n-1))
			if v.Cmp(lim) < 0 && v.Cmp(new(big.Int).Neg(lim)) >= 0 {
				break
			}
			n++
		}
	}
	u := new(big.Int).Set(v)
	if u.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	return u.FillBytes(make([]byte, n))
}

func encFLBA16(v any) parquet.Value {
	return parquet.FixedLenByteArrayValue(twosComplement(v.(*big.Int), 16))
}
func encVarDecimal(v any) parquet.Value {
	return parquet.ByteArrayValue(twosComplement(v.(*big.Int), 0))
}

func expDecimal(scale int32) func(any) any {
	return func(v any) any {
		switch x := v.(type) {
		case int32:
			return NewDecimal(int64(x), scale)
		case int64:
			return NewDecimal(x, scale)
		case uint64:
			return Decimal{Unscaled: new(big.Int).SetUint64(x), Scale: scale}
		case *big.Int:
			return Decimal{Unscaled: new(big.Int).Set(x), Scale: scale}
		}
		panic(fmt.Sprintf("gen: expDecimal(%T)", v))
	}
}

func bigPow10(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }
func bigStr(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("gen: bad big int " + s)
	}
	return v
}
func days(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func fixtureColumns() []fixtureColumn {
	opt := parquet.Optional
	nines38 := new(big.Int).Sub(bigPow10(38), big.NewInt(1))
	nines20 := new(big.Int).Sub(bigPow10(20), big.NewInt(1))
	toInt32 := func(v any) any {
		switch x := v.(type) {
		case uint8:
			return int32(x)
		case uint16:
			return int32(x)
		}
		return v
	}
	ts2026us := time.Date(2026, 5, 10, 10, 0, 0, 123456000, time.UTC).UnixMicro()
	return []fixtureColumn{
		{name: "id", layout: "INT64 annotated INT(64,signed), key", iceberg: "long", node: opt(parquet.Int(64)), enc: encInt64},
		{name: "c_int8", layout: "INT32 annotated INT(8,signed)", iceberg: "int", node: opt(parquet.Int(8)), enc: encInt32,
			load: [4]any{int32(math.MinInt8), int32(math.MaxInt8), int32(0), int32(-1)}, upd: int32(42), ins: int32(-7)},
		{name: "c_int16", layout: "INT32 annotated INT(16,signed)", iceberg: "int", node: opt(parquet.Int(16)), enc: encInt32,
			load: [4]any{int32(math.MinInt16), int32(math.MaxInt16), int32(0), int32(-300)}, upd: int32(1234), ins: int32(-2)},
		{name: "c_int32", layout: "INT32 unannotated", iceberg: "int", node: opt(plain(parquet.Int32Type)), enc: encInt32,
			load: [4]any{int32(math.MinInt32), int32(math.MaxInt32), int32(0), int32(-1)}, upd: int32(100000), ins: int32(7)},
		{name: "c_int64", layout: "INT64 unannotated", iceberg: "long", node: opt(plain(parquet.Int64Type)), enc: encInt64,
			load: [4]any{int64(math.MinInt64), int64(math.MaxInt64), int64(0), int64(-1)}, upd: int64(1) << 40, ins: int64(-9)},
		{name: "c_uint8", layout: "INT32 annotated UINT_8", iceberg: "int", node: opt(parquet.Uint(8)), enc: encInt32, exp: toInt32,
			load: [4]any{uint8(0), uint8(math.MaxUint8), uint8(1), uint8(128)}, upd: uint8(200), ins: uint8(17)},
		{name: "c_uint16", layout: "INT32 annotated UINT_16", iceberg: "int", node: opt(parquet.Uint(16)), enc: encInt32, exp: toInt32,
			load: [4]any{uint16(0), uint16(math.MaxUint16), uint16(1), uint16(40000)}, upd: uint16(50000), ins: uint16(3)},
		{name: "c_uint32", layout: "INT32 annotated UINT_32", iceberg: "long", node: opt(parquet.Uint(32)), enc: encInt32,
			exp:  func(v any) any { return int64(v.(uint32)) },
			load: [4]any{uint32(0), uint32(math.MaxUint32), uint32(1), uint32(3_000_000_000)}, upd: uint32(1) << 31, ins: uint32(5)},
		{name: "c_uint64", layout: "INT64 annotated UINT_64", iceberg: "decimal(20, 0)", node: opt(parquet.Uint(64)), enc: encInt64, exp: expDecimal(0),
			load: [4]any{uint64(0), uint64(math.MaxUint64), uint64(1), uint64(1)<<63 + 5}, upd: uint64(1) << 63, ins: uint64(12345)},
		{name: "c_float", layout: "FLOAT", iceberg: "float", node: opt(parquet.Leaf(parquet.FloatType)), enc: encFloat,
			load: [4]any{float32(-math.MaxFloat32), float32(math.MaxFloat32), float32(0), float32(math.SmallestNonzeroFloat32)}, upd: float32(-1.5), ins: float32(3.25)},
		{name: "c_double", layout: "DOUBLE", iceberg: "double", node: opt(parquet.Leaf(parquet.DoubleType)), enc: encDouble,
			load: [4]any{-math.MaxFloat64, math.MaxFloat64, float64(0), math.SmallestNonzeroFloat64}, upd: -2.5e-300, ins: math.Pi},
		{name: "c_bool", layout: "BOOLEAN", iceberg: "boolean", node: opt(parquet.Leaf(parquet.BooleanType)), enc: encBool,
			load: [4]any{true, false, true, false}, upd: true, ins: false},
		{name: "c_string", layout: "BYTE_ARRAY annotated STRING (UTF8)", iceberg: "string", node: opt(parquet.String()), enc: encString,
			load: [4]any{"", "hello", "héllo wörld ✓ 日本語 🎉", "comma, \"quote\"\nnew line\ttab"}, upd: "updated ünïcödé", ins: "x"},
		{name: "c_binary", layout: "BYTE_ARRAY unannotated (binary)", iceberg: "binary", node: opt(parquet.Leaf(parquet.ByteArrayType)), enc: encBytes,
			load: [4]any{[]byte{}, []byte{0x00}, []byte{0x00, 0xFF, 0x10, 0x80}, []byte{0xFF, 0xFE, 0x00}}, upd: []byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00}, ins: []byte{0x01}},
		{name: "c_date", layout: "INT32 annotated DATE", iceberg: "date", node: opt(parquet.Date()), enc: encInt32,
			exp:  func(v any) any { return Date(v.(int32)) },
			load: [4]any{days(1900, 1, 1), days(9999, 12, 31), int32(0), days(2026, 5, 10)}, upd: days(2000, 2, 29), ins: int32(-1)},
		{name: "c_time_ms", layout: "INT32 annotated TIME(MILLIS)", iceberg: "time", node: opt(parquet.Time(parquet.Millisecond)), enc: encInt32,
			exp:  func(v any) any { return Time(int64(v.(int32)) * 1000) },
			load: [4]any{int32(0), int32(86_399_999), int32(12*3_600_000 + 34*60_000 + 56_789), int32(1)}, upd: int32(3_600_000), ins: int32(999)},
		{name: "c_ts_ms", layout: "INT64 annotated TIMESTAMP(MILLIS, isAdjustedToUTC=false)", iceberg: "timestamp", node: opt(localTimestamp(parquet.Millisecond)), enc: encInt64,
			exp:  func(v any) any { return Timestamp(v.(int64) * 1000) },
			load: [4]any{int64(0), int64(-1), ts2026us / 1000, int64(253_402_300_799_999)}, upd: int64(-2_208_988_800_000), ins: int64(946_684_800_000)},
		{name: "c_ts_us", layout: "INT64 annotated TIMESTAMP(MICROS, isAdjustedToUTC=false)", iceberg: "timestamp", node: opt(localTimestamp(parquet.Microsecond)), enc: encInt64,
			exp:  func(v any) any { return Timestamp(v.(int64)) },
			load: [4]any{int64(0), int64(-1), ts2026us, int64(253_402_300_799_999_999)}, upd: int64(-2_208_988_800_000_000), ins: ts2026us + 1},
		{name: "c_ts_us_utc", layout: "INT64 annotated TIMESTAMP(MICROS, isAdjustedToUTC=true)", iceberg: "timestamptz", node: opt(parquet.TimestampAdjusted(parquet.Microsecond, true)), enc: encInt64,
			exp:  func(v any) any { return Timestamp(v.(int64)) },
			load: [4]any{int64(0), int64(-1), ts2026us, int64(253_402_300_799_999_999)}, upd: int64(-2_208_988_800_000_000), ins: ts2026us + 1},
		{name: "c_ts_int64_plain", layout: "INT64 unannotated holding epoch micros", iceberg: "long", node: opt(plain(parquet.Int64Type)), enc: encInt64,
			load: [4]any{int64(0), int64(-1), ts2026us, int64(253_402_300_799_999_999)}, upd: ts2026us + 7, ins: int64(1)},
		{name: "c_ts_int96", layout: "INT96 timestamp (nanos, Julian day)", iceberg: "timestamp", node: opt(parquet.Leaf(parquet.Int96Type)), enc: encInt96,
			exp:  func(v any) any { return Timestamp(v.(int64) / 1000) }, // all raw values are >= 0 or whole micros
			load: [4]any{int64(0), ts2026us*1000 + 789, int64(-2_208_988_800_000_000_000), int64(946_684_800_000_000_999)},
			upd:  int64(86_399_999_999_999), ins: int64(1_778_407_200_000_000_001)},
		{name: "c_dec9_2", layout: "DECIMAL(9,2) as INT32", iceberg: "decimal(9, 2)", node: opt(parquet.Decimal(2, 9, parquet.Int32Type)), enc: encInt32, exp: expDecimal(2),
			load: [4]any{int32(-999_999_999), int32(999_999_999), int32(0), int32(-1234)}, upd: int32(12345), ins: int32(-1)},
		{name: "c_dec18_4", layout: "DECIMAL(18,4) as INT64", iceberg: "decimal(18, 4)", node: opt(parquet.Decimal(4, 18, parquet.Int64Type)), enc: encInt64, exp: expDecimal(4),
			load: [4]any{int64(-999_999_999_999_999_999), int64(999_999_999_999_999_999), int64(0), int64(-50_000)}, upd: int64(123_456_789), ins: int64(-1)},
		{name: "c_dec38_10", layout: "DECIMAL(38,10) as FIXED_LEN_BYTE_ARRAY(16)", iceberg: "decimal(38, 10)", node: opt(parquet.Decimal(10, 38, parquet.FixedLenByteArrayType(16))), enc: encFLBA16, exp: expDecimal(10),
			load: [4]any{new(big.Int).Neg(nines38), nines38, big.NewInt(0), bigStr("-12345678901234567890123")}, upd: big.NewInt(1), ins: new(big.Int).Neg(bigPow10(20))},
		{name: "c_dec20_3", layout: "DECIMAL(20,3) as BYTE_ARRAY (variable-length two's complement)", iceberg: "decimal(20, 3)", node: opt(parquet.Decimal(3, 20, parquet.ByteArrayType)), enc: encVarDecimal, exp: expDecimal(3),
			load: [4]any{new(big.Int).Neg(nines20), nines20, big.NewInt(0), big.NewInt(-128)}, upd: big.NewInt(255), ins: big.NewInt(-1)},
	}
}

// fixtureSchema returns the Parquet schema of the fixture's LOAD (cdc=false)
// or CDC (cdc=true) file.
func fixtureSchema(cols []fixtureColumn, cdc bool) *parquet.Schema {
	var names []string
	var nodes []parquet.Node
	if cdc {
		names = append(names, OpColumn)
		nodes = append(nodes, parquet.Optional(parquet.String()))
	}
	names = append(names, TimestampColumn)
	nodes = append(nodes, parquet.Optional(parquet.String()))
	for _, c := range cols {
		names = append(names, c.name)
		nodes = append(nodes, c.node)
	}
	return parquet.NewSchema("dms", newOrderedGroup(names, nodes))
}

// fixtureRow is one row of the fixture: op ("" in LOAD), commit time, id
// and raw values per non-key column (nil = null).
type fixtureRow struct {
	op  string
	ts  string
	id  int64
	raw []any
}

func writeFixtureFile(schema *parquet.Schema, cols []fixtureColumn, rows []fixtureRow, cdc bool) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema,
		parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("cdcmerge-gen", "0", "fixture"))
	var prows []parquet.Row
	for _, r := range rows {
		var row parquet.Row
		add := func(v parquet.Value, null bool) {
			col := len(row)
			if null {
				row = append(row, parquet.NullValue().Level(0, 0, col))
			} else {
				row = append(row, v.Level(0, 1, col))
			}
		}
		if cdc {
			add(parquet.ByteArrayValue([]byte(r.op)), false)
		}
		add(parquet.ByteArrayValue([]byte(r.ts)), false)
		add(parquet.Int64Value(r.id), false)
		for i, c := range cols[1:] {
			v := r.raw[i]
			if v == nil {
				add(parquet.Value{}, true)
			} else {
				add(c.enc(v), false)
			}
		}
		prows = append(prows, row)
	}
	if _, err := w.WriteRows(prows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Fixture file names and times.
const (
	fixtureLoadTS  = "2026-05-10 09:00:00.000000"
	fixtureCDCTS   = "2026-05-10 10:00:00.000000"
	fixtureCDCFile = "20260510-100000000.parquet"
)

// WriteTypesFixture writes one LOAD file and one CDC file under <schema>/<table>/ in sink, covering every
// physical/logical layout DMS may produce, and returns what each column must hold after the merge.
//
// Files: <schema>/<table>/LOAD00000001.parquet (commit_ts, id, columns; ids
// 1..5, id 5 null in every non-key column) and
// <schema>/<table>/20260510-100000000.parquet (Op, commit_ts, id, columns:
// U id 2, D id 3 key only, I id 6). All columns are optional; the key is id.
// The first TypeCase is the key column id itself.
func WriteTypesFixture(ctx context.Context, sink Sink, schema, table string) ([]TypeCase, error) {
	if schema == "" || table == "" {
		return nil, fmt.Errorf("gen: WriteTypesFixture needs a schema and a table name")
	}
	cols := fixtureColumns()
	nonKey := len(cols) - 1

	var load []fixtureRow
	for id := int64(1); id <= 5; id++ {
		raw := make([]any, nonKey)
		if id <= 4 {
			for i, c := range cols[1:] {
				raw[i] = c.load[id-1]
			}
		}
		load = append(load, fixtureRow{ts: fixtureLoadTS, id: id, raw: raw})
	}
	upd := make([]any, nonKey)
	ins := make([]any, nonKey)
	for i, c := range cols[1:] {
		upd[i], ins[i] = c.upd, c.ins
	}
	changes := []fixtureRow{
		{op: "U", ts: fixtureCDCTS, id: 2, raw: upd},
		{op: "D", ts: fixtureCDCTS, id: 3, raw: make([]any, nonKey)},
		{op: "I", ts: fixtureCDCTS, id: 6, raw: ins},
	}

	dir := schema + "/" + table + "/"
	data, err := writeFixtureFile(fixtureSchema(cols, false), cols, load, false)
	if err != nil {
		return nil, fmt.Errorf("gen: fixture LOAD file: %w", err)
	}
	if err := writeFile(ctx, sink, dir+loadFileName(1), data); err != nil {
		return nil, err
	}
	data, err = writeFixtureFile(fixtureSchema(cols, true), cols, changes, true)
	if err != nil {
		return nil, fmt.Errorf("gen: fixture CDC file: %w", err)
	}
	if err := writeFile(ctx, sink, dir+fixtureCDCFile, data); err != nil {
		return nil, err
	}

	// Final state: id 1 and 4 from LOAD, id 2 updated, id 3 deleted, id 5
	// all null, id 6 inserted.
	cases := make([]TypeCase, 0, len(cols))
	for _, c := range cols {
		exp := c.exp
		if exp == nil {
			exp = func(v any) any { return v }
		}
		tc := TypeCase{Column: c.name, Layout: c.layout, Iceberg: c.iceberg, Values: map[int64]any{}}
		if c.name == "id" {
			for _, id := range []int64{1, 2, 4, 5, 6} {
				tc.Values[id] = id
			}
		} else {
			tc.Values[1] = exp(c.load[0])
			tc.Values[2] = exp(c.upd)
			tc.Values[4] = exp(c.load[3])
			tc.Values[5] = nil
			tc.Values[6] = exp(c.ins)
		}
		cases = append(cases, tc)
	}
	return cases, nil
}
