package gen

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

var (
	loadNameRE = regexp.MustCompile(`^LOAD[0-9A-F]{8}\.parquet$`)
	cdcNameRE  = regexp.MustCompile(`^\d{8}-\d{9}\.parquet$`)
)

// readArrow reads a whole Parquet file with pqarrow and returns its schema
// and its rows as Go values (see goValue).
func readArrow(t *testing.T, data []byte) (*arrow.Schema, [][]any) {
	t.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), parquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("pqarrow.ReadTable: %v", err)
	}
	defer tbl.Release()
	rows := make([][]any, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]any, tbl.NumCols())
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][c] = goValue(t, chunk, i)
				r++
			}
		}
	}
	return tbl.Schema(), rows
}

// goValue converts one arrow value to the Go value WriteParquet takes.
func goValue(t *testing.T, arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Int8:
		return a.Value(i)
	case *array.Int16:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return a.Value(i)
	case *array.Uint16:
		return a.Value(i)
	case *array.Uint32:
		return a.Value(i)
	case *array.Uint64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return slices.Clone(a.Value(i))
	case *array.Decimal128:
		return Decimal{Unscaled: a.Value(i).BigInt(), Scale: a.DataType().(*arrow.Decimal128Type).Scale}
	case *array.Date32:
		return Date(a.Value(i))
	case *array.Time32:
		if a.DataType().(*arrow.Time32Type).Unit == arrow.Second {
			return Time(int64(a.Value(i)) * 1e6)
		}
		return Time(int64(a.Value(i)) * 1e3)
	case *array.Time64:
		if a.DataType().(*arrow.Time64Type).Unit == arrow.Nanosecond {
			return Time(int64(a.Value(i)) / 1e3)
		}
		return Time(a.Value(i))
	case *array.Timestamp:
		v := int64(a.Value(i))
		switch a.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			return Timestamp(v * 1e6)
		case arrow.Millisecond:
			return Timestamp(v * 1e3)
		case arrow.Nanosecond:
			return Timestamp(v / 1e3)
		}
		return Timestamp(v)
	}
	t.Fatalf("goValue: unsupported arrow type %s", arr.DataType())
	return nil
}

// sameFields compares names, types and nullability (pqarrow adds field-id
// metadata on read).
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) || fa.Nullable != fb.Nullable {
			return false
		}
	}
	return true
}

func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

func rowsEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !valuesEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// readTree returns every regular file under dir by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testConfig(seed int64) Config {
	return Config{
		Rows:          300,
		Changes:       600,
		LoadFiles:     3,
		CDCFiles:      5,
		DatePartition: true,
		Seed:          seed,
		// Start close to midnight so changes cross into the next day folder.
		Start: time.Date(2026, 5, 10, 23, 55, 0, 0, time.UTC),
	}
}

func TestGenerateDeterministic(t *testing.T) {
	ctx := context.Background()
	gen := func(seed int64) (Summary, map[string][]byte) {
		dir := t.TempDir()
		sum, err := Generate(ctx, DirSink(dir), testConfig(seed))
		if err != nil {
			t.Fatal(err)
		}
		return sum, readTree(t, dir)
	}
	s1, f1 := gen(42)
	s2, f2 := gen(42)
	if !reflect.DeepEqual(s1, s2) {
		t.Fatalf("summaries differ for the same seed:\n%+v\n%+v", s1, s2)
	}
	if len(f1) == 0 || len(f1) != len(f2) {
		t.Fatalf("file counts: %d vs %d", len(f1), len(f2))
	}
	for p, data := range f1 {
		if !bytes.Equal(data, f2[p]) {
			t.Errorf("%s differs between two runs with the same seed", p)
		}
	}
	s3, f3 := gen(43)
	same := reflect.DeepEqual(s1, s3) && len(f1) == len(f3)
	if same {
		for p, data := range f1 {
			if !bytes.Equal(data, f3[p]) {
				same = false
				break
			}
		}
	}
	if same {
		t.Fatal("seeds 42 and 43 produced identical output")
	}
}

func TestGenerateDMSLayoutAndContent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(7)
	sum, err := Generate(ctx, DirSink(dir), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Tables) != 2 || sum.Tables[0].Table != "shop.orders" || sum.Tables[1].Table != "shop.order_items" {
		t.Fatalf("tables: %+v", sum.Tables)
	}
	tree := readTree(t, dir)
	listed := 0
	for _, ts := range sum.Tables {
		listed += len(ts.LoadFiles) + len(ts.CDCFiles)
	}
	if listed != len(tree) {
		t.Errorf("summary lists %d files, directory has %d (%v)", listed, len(tree), mapsKeys(tree))
	}

	for _, ts := range sum.Tables {
		t.Run(ts.Table, func(t *testing.T) {
			schemaName, tableName, _ := strings.Cut(ts.Table, ".")
			prefix := schemaName + "/" + tableName + "/"
			load, cdc, schema, keys, err := GenerateChanges(cfg, ts.Table)
			if err != nil {
				t.Fatal(err)
			}
			if schema.Field(0).Name != TimestampColumn {
				t.Fatalf("schema must start with commit_ts: %s", schema)
			}
			keyIdx := make([]int, len(keys))
			for i, k := range keys {
				idx := schema.FieldIndices(k)
				if len(idx) != 1 {
					t.Fatalf("key %s not in schema", k)
				}
				keyIdx[i] = idx[0]
			}
			keyOf := func(vals []any) string { // vals in table-schema order
				var parts []string
				for _, i := range keyIdx {
					parts = append(parts, fmt.Sprint(vals[i]))
				}
				return strings.Join(parts, "/")
			}

			// LOAD files.
			if len(ts.LoadFiles) != cfg.LoadFiles {
				t.Errorf("%d LOAD files, want %d", len(ts.LoadFiles), cfg.LoadFiles)
			}
			loadRows := 0
			loadKeys := map[string]bool{}
			for i, p := range ts.LoadFiles {
				base := path.Base(p)
				if !loadNameRE.MatchString(base) || p != prefix+base {
					t.Errorf("bad LOAD path %s", p)
				}
				if want := fmt.Sprintf("LOAD%08X.parquet", i+1); base != want {
					t.Errorf("LOAD file %d is %s, want %s", i, base, want)
				}
				sc, rows := readArrow(t, tree[p])
				if !sameFields(sc, schema) {
					t.Errorf("%s schema:\n%s\nwant\n%s", p, sc, schema)
				}
				if sc.HasField(OpColumn) {
					t.Errorf("%s has an Op column", p)
				}
				for _, r := range rows {
					if !rowsEqual(r, load[loadRows].Values) {
						t.Fatalf("%s row differs from GenerateChanges:\n%v\n%v", p, r, load[loadRows].Values)
					}
					loadRows++
					k := keyOf(r)
					if loadKeys[k] {
						t.Errorf("full load repeats key %s", k)
					}
					loadKeys[k] = true
					if r[0].(string) >= cfg.Start.Format(TimestampLayout) {
						t.Errorf("load timestamp %s not before Start", r[0])
					}
				}
			}
			if loadRows != ts.LoadRows || loadRows != cfg.Rows {
				t.Errorf("load rows %d, summary %d, config %d", loadRows, ts.LoadRows, cfg.Rows)
			}

			// CDC files.
			if len(ts.CDCFiles) != cfg.CDCFiles || len(cdc) != cfg.CDCFiles {
				t.Errorf("%d CDC files (%d from GenerateChanges), want %d", len(ts.CDCFiles), len(cdc), cfg.CDCFiles)
			}
			var (
				prevBase, prevTS                       string
				n, ins, upd, del, ties, keyOnly, image int
				absent, reinserts                      int
				perKey                                 = map[string]int{}
				repeatedInFile                         bool
				live                                   = maps(loadKeys)
				everSeen                               = maps(loadKeys)
				deleted                                = map[string]bool{}
			)
			for fi, p := range ts.CDCFiles {
				base := path.Base(p)
				if !cdcNameRE.MatchString(base) {
					t.Errorf("bad CDC name %s", base)
				}
				if base <= prevBase {
					t.Errorf("CDC basenames not strictly increasing: %s after %s", base, prevBase)
				}
				prevBase = base
				nameTime, err := time.Parse("20060102-150405.000", base[:15]+"."+base[15:18])
				if err != nil {
					t.Fatal(err)
				}
				if want := prefix + nameTime.Format("2006/01/02") + "/" + base; p != want {
					t.Errorf("CDC path %s, want %s", p, want)
				}
				sc, rows := readArrow(t, tree[p])
				if sc.Field(0).Name != OpColumn || sc.Field(1).Name != TimestampColumn {
					t.Fatalf("%s: first columns %s, %s; want Op, commit_ts", p, sc.Field(0).Name, sc.Field(1).Name)
				}
				if !sameFields(sc, CDCSchema(schema)) {
					t.Errorf("%s schema:\n%s\nwant\n%s", p, sc, CDCSchema(schema))
				}
				for _, f := range sc.Fields() {
					if !f.Nullable {
						t.Errorf("%s: column %s is required, DMS writes optional columns", p, f.Name)
					}
				}
				if len(rows) != len(cdc[fi]) {
					t.Fatalf("%s has %d rows, GenerateChanges %d", p, len(rows), len(cdc[fi]))
				}
				first, _ := time.Parse(TimestampLayout, rows[0][1].(string))
				if nameTime.Before(first.Truncate(time.Millisecond)) {
					t.Errorf("%s named before its first change %s", base, rows[0][1])
				}
				inFile := map[string]int{}
				for ri, r := range rows {
					n++
					op, _ := r[0].(string)
					vals := r[1:]
					if op != cdc[fi][ri].Op || !rowsEqual(vals, cdc[fi][ri].Values) {
						t.Fatalf("%s row %d differs from GenerateChanges:\n%v\n%s %v", p, ri, r, cdc[fi][ri].Op, cdc[fi][ri].Values)
					}
					ts := vals[0].(string)
					if _, err := time.Parse(TimestampLayout, ts); err != nil || len(ts) != len("2026-05-10 10:00:00.000000") {
						t.Errorf("bad commit_ts %q", ts)
					}
					if ts < prevTS {
						t.Errorf("commit_ts goes backwards: %s after %s", ts, prevTS)
					}
					if ts == prevTS {
						ties++
					}
					prevTS = ts
					k := keyOf(vals)
					perKey[k]++
					inFile[k]++
					if inFile[k] > 1 {
						repeatedInFile = true
					}
					if !everSeen[k] && op != "I" {
						absent++
					}
					switch op {
					case "I":
						ins++
						if deleted[k] {
							reinserts++
						}
						if !deleted[k] && everSeen[k] {
							t.Errorf("I of key %s that was never deleted", k)
						}
						live[k], deleted[k] = true, false
					case "U":
						upd++
					case "D":
						del++
						if live[k] {
							deleted[k] = true
							live[k] = false
						}
						allNull := true
						for i, v := range vals {
							if i != 0 && !slices.Contains(keyIdx, i) && v != nil {
								allNull = false
							}
						}
						if allNull {
							keyOnly++
						} else {
							image++
						}
					default:
						t.Errorf("Op %q not one of I, U, D", r[0])
					}
					if op != "D" {
						for i, v := range vals {
							if v == nil && schema.Field(i).Name != "note" {
								t.Errorf("%s row has null %s", op, schema.Field(i).Name)
							}
						}
					}
					everSeen[k] = true
				}
			}
			if n != ts.Changes || n != cfg.Changes || ins != ts.Inserts || upd != ts.Updates || del != ts.Deletes {
				t.Errorf("counted %d changes (I %d U %d D %d), summary %+v", n, ins, upd, del, ts)
			}
			if ties == 0 {
				t.Error("no same-timestamp ties")
			}
			if keyOnly == 0 || image == 0 {
				t.Errorf("deletes: %d key-only, %d with before-image; want both", keyOnly, image)
			}
			if !repeatedInFile {
				t.Error("no key changes twice within one file")
			}
			maxPerKey := 0
			for _, c := range perKey {
				maxPerKey = max(maxPerKey, c)
			}
			if maxPerKey < 4 {
				t.Errorf("hottest key changes only %d times", maxPerKey)
			}
			if absent == 0 {
				t.Error("no U/D of a key that never existed")
			}
			if reinserts == 0 {
				t.Error("no I re-inserting a deleted key")
			}
			frac := float64(ties) / float64(n)
			if frac < 0.2 || frac > 0.4 {
				t.Errorf("tie share %.2f, want about 0.3", frac)
			}
			t.Logf("%s: %d changes, I %d U %d D %d (%d key-only), ties %d, absent %d, re-inserts %d, hottest key %d changes",
				ts.Table, n, ins, upd, del, keyOnly, ties, absent, reinserts, maxPerKey)
		})
	}
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mapsKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestGenerateOptions(t *testing.T) {
	ctx := context.Background()
	// No date partitions, no ties, only inserts, many small files, zstd.
	cfg := Config{Tables: []string{"app.orders"}, Rows: 20, Changes: 30, LoadFiles: 20, CDCFiles: 3,
		UpdateFrac: -1, DeleteFrac: -1, TieFrac: -1, Compression: "zstd", Seed: 1}
	dir := t.TempDir()
	sum, err := Generate(ctx, DirSink(dir), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := sum.Tables[0]
	if len(ts.LoadFiles) != 20 || ts.LoadFiles[9] != "app/orders/LOAD0000000A.parquet" || ts.LoadFiles[19] != "app/orders/LOAD00000014.parquet" {
		t.Errorf("LOAD files: %v", ts.LoadFiles)
	}
	if ts.Inserts != 30 || ts.Updates != 0 || ts.Deletes != 0 {
		t.Errorf("want only inserts: %+v", ts)
	}
	tree := readTree(t, dir)
	prev := ""
	for _, p := range ts.CDCFiles {
		if path.Dir(p) != "app/orders" {
			t.Errorf("CDC file %s not directly under the table folder", p)
		}
		_, rows := readArrow(t, tree[p])
		for _, r := range rows {
			if r[1].(string) <= prev {
				t.Errorf("TieFrac<0 still gives ties or disorder: %s after %s", r[1], prev)
			}
			prev = r[1].(string)
		}
	}
	md, err := file.NewParquetReader(bytes.NewReader(tree[ts.CDCFiles[0]]))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := md.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if c := cc.Compression(); !strings.EqualFold(c.String(), "zstd") {
		t.Errorf("compression %s, want ZSTD", c)
	}

	for _, bad := range []Config{
		{Tables: []string{"shop.customers"}},
		{Tables: []string{"orders"}},
		{Compression: "lz5"},
		{UpdateFrac: 0.7, DeleteFrac: 0.5},
	} {
		if _, err := Generate(ctx, DirSink(t.TempDir()), bad); err == nil {
			t.Errorf("Generate(%+v) succeeded", bad)
		}
	}
}

func TestWriteParquetAllTypes(t *testing.T) {
	fields := []arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 38, Scale: 6}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "t32", Type: arrow.FixedWidthTypes.Time32ms, Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "req", Type: arrow.PrimitiveTypes.Int64},
	}
	schema := arrow.NewSchema(fields, nil)
	bigDec, _ := new(big.Int).SetString("-12345678901234567890123456789012", 10)
	var rows [][]any
	for i := range 10 {
		row := []any{
			int8(-i), int16(300 * i), int32(-70000 * i), int64(i) << 40,
			uint8(250 + i%5), uint16(65000 + i), uint32(4_000_000_000 + i), uint64(1)<<63 + uint64(i),
			float32(i) / 4, float64(i) * 1e100, i%2 == 0, fmt.Sprintf("s%d ✓", i), []byte{0, byte(i), 0xFF},
			Decimal{Unscaled: new(big.Int).Add(bigDec, big.NewInt(int64(i))), Scale: 6},
			Date(20583 + i), Time(int64(i) * 3_600_000_000), Time(int64(i)*1_000_001 + 7),
			Timestamp(int64(i) * 1e6), Timestamp(int64(i) * 1e3), Timestamp(1778407200123456 + int64(i)), Timestamp(-int64(i)),
			int64(i),
		}
		if i == 3 {
			for c := range len(row) - 1 {
				row[c] = nil
			}
		}
		rows = append(rows, row)
	}
	for _, comp := range []string{"", "snappy", "zstd", "gzip", "none"} {
		var buf bytes.Buffer
		if err := WriteParquet(&buf, schema, rows, WithCompression(comp), WithRowGroupSize(3), WithDataPageV2(), WithDictionary(false)); err != nil {
			t.Fatalf("%q: %v", comp, err)
		}
		rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if rdr.NumRowGroups() != 4 {
			t.Errorf("%q: %d row groups, want 4", comp, rdr.NumRowGroups())
		}
		sc, got := readArrow(t, buf.Bytes())
		if sc.NumFields() != len(fields) || sc.Field(0).Name != "i8" || sc.Field(len(fields)-1).Nullable {
			t.Errorf("schema read back: %s", sc)
		}
		for i := range rows {
			if !rowsEqual(got[i], rows[i]) {
				t.Errorf("%q row %d:\n got %v\nwant %v", comp, i, got[i], rows[i])
			}
		}
	}

	// Errors: wrong Go type, overflow, null in a required column, wrong arity, bad codec.
	one := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int8, Nullable: true}}, nil)
	req := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	dec := arrow.NewSchema([]arrow.Field{{Name: "x", Type: &arrow.Decimal128Type{Precision: 3, Scale: 1}, Nullable: true}}, nil)
	for i, tc := range []struct {
		schema *arrow.Schema
		rows   [][]any
		opts   []WriteOption
	}{
		{one, [][]any{{"a"}}, nil},
		{one, [][]any{{300}}, nil},
		{req, [][]any{{nil}}, nil},
		{one, [][]any{{int8(1), int8(2)}}, nil},
		{one, [][]any{{int8(1)}}, []WriteOption{WithCompression("lz5")}},
		{dec, [][]any{{NewDecimal(1000, 1)}}, nil},
		{dec, [][]any{{NewDecimal(1, 2)}}, nil},
	} {
		if err := WriteParquet(&bytes.Buffer{}, tc.schema, tc.rows, tc.opts...); err == nil {
			t.Errorf("case %d: WriteParquet succeeded", i)
		}
	}
}

// wantFixture is the physical layout each fixture column must have.
var wantFixture = map[string]string{
	"Op":               "BYTE_ARRAY STRING",
	"commit_ts":        "BYTE_ARRAY STRING",
	"id":               "INT64 INT(64,true)",
	"c_int8":           "INT32 INT(8,true)",
	"c_int16":          "INT32 INT(16,true)",
	"c_int32":          "INT32 -",
	"c_int64":          "INT64 -",
	"c_uint8":          "INT32 INT(8,false)",
	"c_uint16":         "INT32 INT(16,false)",
	"c_uint32":         "INT32 INT(32,false)",
	"c_uint64":         "INT64 INT(64,false)",
	"c_float":          "FLOAT -",
	"c_double":         "DOUBLE -",
	"c_bool":           "BOOLEAN -",
	"c_string":         "BYTE_ARRAY STRING",
	"c_binary":         "BYTE_ARRAY -",
	"c_date":           "INT32 DATE",
	"c_time_ms":        "INT32 TIME(isAdjustedToUTC=true,unit=MILLIS)",
	"c_ts_ms":          "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MILLIS)",
	"c_ts_us":          "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)",
	"c_ts_us_utc":      "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
	"c_ts_int64_plain": "INT64 -",
	"c_ts_int96":       "INT96 -",
	"c_dec9_2":         "INT32 DECIMAL(9,2)",
	"c_dec18_4":        "INT64 DECIMAL(18,4)",
	"c_dec38_10":       "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)",
	"c_dec20_3":        "BYTE_ARRAY DECIMAL(20,3)",
}

// toIceberg converts a value read by pqarrow to the Go type TypeCase
// promises for its Iceberg type.
func toIceberg(v any) any {
	switch x := v.(type) {
	case int8:
		return int32(x)
	case int16:
		return int32(x)
	case uint8:
		return int32(x)
	case uint16:
		return int32(x)
	case uint32:
		return int64(x)
	case uint64:
		return Decimal{Unscaled: new(big.Int).SetUint64(x), Scale: 0}
	}
	return v
}

func TestWriteTypesFixture(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cases, err := WriteTypesFixture(ctx, DirSink(dir), "src", "alltypes")
	if err != nil {
		t.Fatal(err)
	}
	tree := readTree(t, dir)
	loadPath, cdcPath := "src/alltypes/LOAD00000001.parquet", "src/alltypes/20260510-100000000.parquet"
	if len(tree) != 2 || tree[loadPath] == nil || tree[cdcPath] == nil {
		t.Fatalf("fixture files: %v", mapsKeys(tree))
	}

	// Physical layout, read with parquet-go's low-level metadata.
	for _, p := range []string{loadPath, cdcPath} {
		f, err := pq.OpenFile(bytes.NewReader(tree[p]), int64(len(tree[p])))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, el := range f.Metadata().Schema[1:] {
			names = append(names, el.Name)
			typ, _ := el.Type.Get()
			got := typ.String()
			if typ == format.FixedLenByteArray {
				n, _ := el.TypeLength.Get()
				got += fmt.Sprintf("(%d)", n)
			}
			if lt := el.LogicalType.String(); lt != "" {
				got += " " + lt
			} else {
				got += " -"
			}
			if rep, _ := el.RepetitionType.Get(); rep != format.Optional {
				t.Errorf("%s: %s is %v, want optional", p, el.Name, rep)
			}
			if want := wantFixture[el.Name]; got != want {
				t.Errorf("%s: column %s is %q, want %q", p, el.Name, got, want)
			}
			// Non-UTC timestamps must not carry the legacy converted type (it means UTC).
			if ct, ok := el.ConvertedType.Get(); ok && strings.Contains(el.LogicalType.String(), "isAdjustedToUTC=false") {
				t.Errorf("%s: %s has converted type %v", p, el.Name, ct)
			}
		}
		wantNames := []string{"commit_ts"}
		if p == cdcPath {
			wantNames = []string{"Op", "commit_ts"}
		}
		for _, c := range cases {
			wantNames = append(wantNames, c.Column)
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s columns %v, want %v", p, names, wantNames)
		}
	}
	if len(cases) != len(wantFixture)-2 {
		t.Errorf("%d type cases, want %d", len(cases), len(wantFixture)-2)
	}

	// Merge the two files (read with pqarrow, an independent decoder) and
	// compare with what the TypeCases promise.
	_, loadRows := readArrow(t, tree[loadPath])
	cdcSchema, cdcRows := readArrow(t, tree[cdcPath])
	state := map[int64][]any{}
	for _, r := range loadRows {
		state[r[1].(int64)] = r[1:]
	}
	if len(state) != 5 {
		t.Fatalf("LOAD ids: %d rows", len(state))
	}
	var ops []string
	for _, r := range cdcRows {
		id := r[2].(int64)
		ops = append(ops, fmt.Sprintf("%s%d", r[0], id))
		if r[0] == "D" {
			for i, v := range r[3:] {
				if v != nil {
					t.Errorf("D row column %s not null: %v", cdcSchema.Field(i+3).Name, v)
				}
			}
			delete(state, id)
		} else {
			state[id] = r[2:]
		}
	}
	if got := strings.Join(ops, " "); got != "U2 D3 I6" {
		t.Errorf("CDC ops %q", got)
	}
	for ci, c := range cases {
		if !regexp.MustCompile(`^(int|long|float|double|boolean|string|binary|date|time|timestamp|timestamptz|decimal\(\d+, \d+\))$`).MatchString(c.Iceberg) || c.Layout == "" {
			t.Errorf("%s: bad Iceberg %q / Layout %q", c.Column, c.Iceberg, c.Layout)
		}
		if len(c.Values) != 5 {
			t.Errorf("%s: %d values, want ids 1,2,4,5,6", c.Column, len(c.Values))
		}
		for id, row := range state {
			want, ok := c.Values[id]
			if !ok {
				t.Errorf("%s: no value for id %d", c.Column, id)
				continue
			}
			got := toIceberg(row[ci])
			if !valuesEqual(got, want) {
				t.Errorf("%s id %d: file holds %#v (%T), TypeCase says %#v (%T)", c.Column, id, got, got, want, want)
			}
			if id == 5 && c.Column != "id" && want != nil {
				t.Errorf("%s id 5 should be null", c.Column)
			}
		}
	}
	byName := map[string]TypeCase{}
	for _, c := range cases {
		byName[c.Column] = c
	}
	spot := []struct {
		col     string
		id      int64
		iceberg string
		want    string
	}{
		{"c_uint64", 4, "decimal(20, 0)", "9223372036854775813"},
		{"c_uint64", 2, "decimal(20, 0)", "9223372036854775808"},
		{"c_uint32", 2, "long", "2147483648"},
		{"c_dec20_3", 4, "decimal(20, 3)", "-0.128"},
		{"c_dec9_2", 4, "decimal(9, 2)", "-12.34"},
		{"c_dec38_10", 1, "decimal(38, 10)", "-9999999999999999999999999999.9999999999"},
		{"c_ts_int96", 6, "timestamp", "2026-05-10 10:00:00.000000"},
		{"c_ts_int96", 2, "timestamp", "1970-01-01 23:59:59.999999"},
		{"c_time_ms", 1, "time", "00:00:00.000000"},
		{"c_time_ms", 4, "time", "00:00:00.001000"},
		{"c_ts_ms", 4, "timestamp", "9999-12-31 23:59:59.999000"},
		{"c_ts_us_utc", 1, "timestamptz", "1970-01-01 00:00:00.000000"},
		{"c_ts_int64_plain", 6, "long", "1"},
		{"c_date", 6, "date", "1969-12-31"},
		{"c_int8", 1, "int", "-128"},
	}
	for _, s := range spot {
		c := byName[s.col]
		if c.Iceberg != s.iceberg || fmt.Sprint(c.Values[s.id]) != s.want {
			t.Errorf("%s id %d: %s %v, want %s %s", s.col, s.id, c.Iceberg, c.Values[s.id], s.iceberg, s.want)
		}
	}
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		d    Decimal
		want string
	}{
		{NewDecimal(-1234, 2), "-12.34"},
		{NewDecimal(5, 2), "0.05"},
		{NewDecimal(-5, 3), "-0.005"},
		{NewDecimal(100, 0), "100"},
		{NewDecimal(7, -2), "700"},
		{NewDecimal(0, 4), "0.0000"},
		{Decimal{}, "0"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%v/%d: %q, want %q", tc.d.Unscaled, tc.d.Scale, got, tc.want)
		}
	}
}

func TestDirSink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := DirSink(dir)
	w, err := s.Create(ctx, "a/b/c.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a/b/c.parquet")); !os.IsNotExist(err) {
		t.Errorf("file visible before Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tree := readTree(t, dir)
	if len(tree) != 1 || string(tree["a/b/c.parquet"]) != "hello" {
		t.Errorf("tree after Close: %v", mapsKeys(tree))
	}
	for _, bad := range []string{"", "/abs", "../up", "a/../../up", "."} {
		if _, err := s.Create(ctx, bad); err == nil {
			t.Errorf("Create(%q) succeeded", bad)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cctx, s, Config{}); err == nil {
		t.Error("Generate with a cancelled context succeeded")
	}
}
