package gen

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Config describes a synthetic DMS output. Zero fields take their defaults;
// since zero means "default", a negative value means an explicit zero for
// Rows, Changes and the fractions (e.g. TieFrac: -1 for no ties).
type Config struct {
	Tables            []string  // "schema.table" names; the table part must be a built-in shape ("orders" or "order_items"); default {"shop.orders","shop.order_items"}
	Rows              int       // full-load rows per table (default 1000)
	Changes           int       // CDC change rows per table (default 200)
	LoadFiles         int       // number of LOAD files per table (default 1; rows split evenly)
	CDCFiles          int       // number of CDC files per table (default 4; changes split evenly, in order)
	UpdateFrac        float64   // share of changes that are U (default 0.6)
	DeleteFrac        float64   // share that are D (default 0.2); the rest are I of NEW keys
	TieFrac           float64   // share of changes whose commit timestamp equals the previous change's (default 0.3)
	KeyOnlyDeleteFrac float64   // share of D rows carrying only the key, every other column null (default 0.5)
	AbsentFrac        float64   // share of U/D changes aimed at keys that never existed (default 0.02)
	DatePartition     bool      // CDC files go under yyyy/MM/dd folders
	Seed              int64     // random seed; same Config => byte-identical output
	Start             time.Time // commit time of the first change (default 2026-05-10 10:00:00 UTC)
	Compression       string    // "snappy" (default), "zstd", "gzip", "none"
}

// Summary lists what Generate wrote.
type Summary struct{ Tables []TableSummary }

// TableSummary describes one table's files. Paths are relative to the sink
// root, slash-separated, in write (= DMS) order.
type TableSummary struct {
	Table                     string
	LoadFiles, CDCFiles       []string
	LoadRows, Changes         int
	Inserts, Updates, Deletes int
}

// Row is one generated row. Values holds one Go value per field of the
// table schema returned by GenerateChanges (commit_ts first), in schema
// order; Op is "I", "U" or "D" for CDC rows and "" for LOAD rows.
type Row struct {
	Op     string
	Values []any
}

// DefaultStart is the default commit time of the first change.
var DefaultStart = time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC)

// Column names shared by all generated files.
const (
	OpColumn        = "Op"
	TimestampColumn = "commit_ts"
)

func (c Config) withDefaults() (Config, error) {
	if len(c.Tables) == 0 {
		c.Tables = []string{"shop.orders", "shop.order_items"}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			*v = 0
		}
	}
	defFrac := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			*v = 0
		}
	}
	defInt(&c.Rows, 1000)
	defInt(&c.Changes, 200)
	if c.LoadFiles <= 0 {
		c.LoadFiles = 1
	}
	if c.CDCFiles <= 0 {
		c.CDCFiles = 4
	}
	defFrac(&c.UpdateFrac, 0.6)
	defFrac(&c.DeleteFrac, 0.2)
	defFrac(&c.TieFrac, 0.3)
	defFrac(&c.KeyOnlyDeleteFrac, 0.5)
	defFrac(&c.AbsentFrac, 0.02)
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if _, err := compressionOf(c.Compression); err != nil {
		return c, err
	}
	for _, f := range []float64{c.UpdateFrac, c.DeleteFrac, c.TieFrac, c.KeyOnlyDeleteFrac, c.AbsentFrac} {
		if f > 1 {
			return c, fmt.Errorf("gen: fraction %v above 1", f)
		}
	}
	if c.UpdateFrac+c.DeleteFrac > 1 {
		return c, fmt.Errorf("gen: UpdateFrac+DeleteFrac = %v, above 1", c.UpdateFrac+c.DeleteFrac)
	}
	return c, nil
}

func splitTable(name string) (schema, table string, err error) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
		return "", "", fmt.Errorf("gen: table %q is not schema.table", name)
	}
	return schema, table, nil
}

// Generate writes the full load and the CDC files of every table in cfg to
// sink, laid out as AWS DMS does, and returns what it wrote.
func Generate(ctx context.Context, sink Sink, cfg Config) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
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
		comp := WithCompression(cfg.Compression)

		// LOAD files: rows split evenly; each file is its own "transfer".
		for _, part := range splitEven(len(load), cfg.LoadFiles) {
			if len(part) == 0 {
				continue
			}
			rows := make([][]any, 0, len(part))
			for _, r := range load[part[0] : part[len(part)-1]+1] {
				rows = append(rows, r.Values)
			}
			p := dir + loadFileName(len(ts.LoadFiles)+1)
			if err := writeParquetFile(ctx, sink, p, schema, rows, comp); err != nil {
				return sum, err
			}
			ts.LoadFiles = append(ts.LoadFiles, p)
		}

		cdcSchema := withOp(schema)
		names := cdcFileNames(cdc)
		for i, file := range cdc {
			rows := make([][]any, 0, len(file))
			for _, r := range file {
				rows = append(rows, append([]any{r.Op}, r.Values...))
				ts.count(r.Op)
			}
			p := cdcPath(dir, names[i], cfg.DatePartition, ".parquet")
			if err := writeParquetFile(ctx, sink, p, cdcSchema, rows, comp); err != nil {
				return sum, err
			}
			ts.CDCFiles = append(ts.CDCFiles, p)
		}
		sum.Tables = append(sum.Tables, ts)
	}
	return sum, nil
}

func writeParquetFile(ctx context.Context, sink Sink, p string, schema *arrow.Schema, rows [][]any, opts ...WriteOption) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteParquet(&buf, schema, rows, opts...); err != nil {
		return fmt.Errorf("gen: %s: %w", p, err)
	}
	return writeFile(ctx, sink, p, buf.Bytes())
}

// loadFileName returns LOAD followed by n as 8 upper-case hex digits.
func loadFileName(n int) string { return fmt.Sprintf("LOAD%08X.parquet", n) }

// cdcFileName formats t as yyyyMMdd-HHmmssSSS.parquet.
func cdcFileName(t time.Time) string {
	return cdcBaseName(t) + ".parquet"
}

// cdcBaseName is a CDC file's name without its extension: yyyyMMdd-HHmmssSSS.
func cdcBaseName(t time.Time) string {
	return fmt.Sprintf("%s%03d", t.Format("20060102-150405"), t.Nanosecond()/1e6)
}

// cdcPath is where a CDC file named by time t goes under a table folder:
// in a yyyy/MM/dd folder with date partitioning (DatePartitionSequence
// YYYYMMDD, delimiter SLASH).
func cdcPath(dir string, t time.Time, datePartition bool, ext string) string {
	if datePartition {
		dir += t.Format("2006/01/02") + "/"
	}
	return dir + cdcBaseName(t) + ext
}

// count adds one change with operation op to the summary's counts.
func (ts *TableSummary) count(op string) {
	ts.Changes++
	switch op {
	case "I":
		ts.Inserts++
	case "U":
		ts.Updates++
	case "D":
		ts.Deletes++
	}
}

// cdcFileNames returns, per CDC file, the time its name encodes: the commit
// time of its first change truncated to milliseconds, bumped by 1 ms when
// needed so names are strictly increasing.
func cdcFileNames(cdc [][]Row) []time.Time {
	out := make([]time.Time, len(cdc))
	var prev time.Time
	for i, file := range cdc {
		t, _ := time.Parse(TimestampLayout, file[0].Values[0].(string))
		t = t.Truncate(time.Millisecond)
		if i > 0 && !t.After(prev) {
			t = prev.Add(time.Millisecond)
		}
		out[i] = t
		prev = t
	}
	return out
}

// splitEven splits [0,n) into k contiguous parts of near-equal size (some
// may be empty when n < k), returned as index lists.
func splitEven(n, k int) [][]int {
	parts := make([][]int, k)
	for i := range k {
		lo, hi := i*n/k, (i+1)*n/k
		for j := lo; j < hi; j++ {
			parts[i] = append(parts[i], j)
		}
	}
	return parts
}

// withOp returns schema with a leading nullable string Op field.
func withOp(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field{{Name: OpColumn, Type: arrow.BinaryTypes.String, Nullable: true}}, s.Fields()...)
	return arrow.NewSchema(fields, nil)
}

// CDCSchema returns the schema of CDC files for a table schema returned by
// GenerateChanges: the same fields preceded by the Op column.
func CDCSchema(table *arrow.Schema) *arrow.Schema { return withOp(table) }

// ---- table shapes ----

type shape struct {
	schema *arrow.Schema
	keys   []string
	// keyValues returns the key column values of key id k.
	keyValues func(k int64) []any
	// values returns a fresh full row (without commit_ts) for key k, written at
	// commit time at; prev is the previous image (nil for a new row).
	values func(rnd *rand.Rand, k int64, at time.Time, prev []any) []any
}

func nullable(name string, t arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: true}
}

var orderStatuses = []string{"new", "paid", "shipped", "delivered", "cancelled", "returned"}

var noteWords = []string{"leave at door", "call first", "gift wrap", "fragile", "côté jardin", "配達は午前中", "👍 thanks", ""}

func randDecimal(rnd *rand.Rand, lo, hi int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(lo + rnd.Int64N(hi-lo)), Scale: scale}
}

var ordersShape = shape{
	schema: arrow.NewSchema([]arrow.Field{
		nullable(TimestampColumn, arrow.BinaryTypes.String),
		nullable("order_id", arrow.PrimitiveTypes.Int64),
		nullable("customer_id", arrow.PrimitiveTypes.Int32),
		nullable("status", arrow.BinaryTypes.String),
		nullable("amount", &arrow.Decimal128Type{Precision: 12, Scale: 2}),
		nullable("created_at", &arrow.TimestampType{Unit: arrow.Microsecond}),
		nullable("note", arrow.BinaryTypes.String),
		nullable("is_gift", arrow.FixedWidthTypes.Boolean),
	}, nil),
	keys:      []string{"order_id"},
	keyValues: func(k int64) []any { return []any{k} },
	values: func(rnd *rand.Rand, k int64, at time.Time, prev []any) []any {
		var note any
		if rnd.Float64() >= 0.2 {
			note = fmt.Sprintf("%s #%d", noteWords[rnd.IntN(len(noteWords))], rnd.IntN(1000))
		}
		row := []any{
			k,
			int32(1 + rnd.IntN(50000)),
			orderStatuses[rnd.IntN(len(orderStatuses))],
			randDecimal(rnd, -5000, 10_000_000, 2), // a few refunds are negative
			TimestampOf(at.Add(-time.Duration(rnd.Int64N(int64(30 * 24 * time.Hour))))),
			note,
			rnd.IntN(10) == 0,
		}
		if prev != nil {
			// An update keeps who and when, changes the rest; amount always
			// changes so every U differs from its before-image.
			row[1], row[4] = prev[1], prev[4]
			if a, ok := prev[3].(Decimal); ok && a.Equal(row[3].(Decimal)) {
				row[3] = Decimal{Unscaled: new(big.Int).Add(a.Unscaled, big.NewInt(1)), Scale: 2}
			}
		}
		return row
	},
}

// order_items key id k maps to (order_id, line_no) = (k/4+1, k%4+1).
var orderItemsShape = shape{
	schema: arrow.NewSchema([]arrow.Field{
		nullable(TimestampColumn, arrow.BinaryTypes.String),
		nullable("order_id", arrow.PrimitiveTypes.Int64),
		nullable("line_no", arrow.PrimitiveTypes.Int32),
		nullable("sku", arrow.BinaryTypes.String),
		nullable("qty", arrow.PrimitiveTypes.Int32),
		nullable("price", &arrow.Decimal128Type{Precision: 10, Scale: 2}),
		nullable("updated_at", &arrow.TimestampType{Unit: arrow.Microsecond}),
	}, nil),
	keys:      []string{"order_id", "line_no"},
	keyValues: func(k int64) []any { return []any{k/4 + 1, int32(k%4 + 1)} },
	values: func(rnd *rand.Rand, k int64, at time.Time, prev []any) []any {
		row := []any{
			k/4 + 1,
			int32(k%4 + 1),
			fmt.Sprintf("SKU-%05d", rnd.IntN(100000)),
			int32(1 + rnd.IntN(20)),
			randDecimal(rnd, 1, 100_000_000, 2),
			TimestampOf(at),
		}
		if prev != nil {
			row[2] = prev[2] // same product, new qty/price
			if q, ok := prev[3].(int32); ok && q == row[3].(int32) {
				row[3] = q%20 + 1
			}
		}
		return row
	},
}

func shapeOf(table string) (shape, bool) {
	switch table {
	case "orders":
		return ordersShape, true
	case "order_items":
		return orderItemsShape, true
	}
	return shape{}, false
}

// absentBase is where key ids of rows that never existed start; new keys
// are allocated from 1 upwards and never get there.
const absentBase = int64(1) << 40

// GenerateChanges returns the rows Generate writes for table ("schema.table"):
// the full-load rows, the CDC rows per file, the table schema (commit_ts,
// then the table's columns; CDC files add a leading Op column, see
// CDCSchema) and the key column names. It is deterministic for cfg.Seed and
// table; zero fields of cfg take their defaults as in Generate.
func GenerateChanges(cfg Config, table string) (load []Row, cdc [][]Row, schema *arrow.Schema, keys []string, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return generateChanges(cfg, table)
}

// generateChanges is GenerateChanges for a cfg whose defaults were applied
// (applying them twice would turn explicit zeros back into defaults).
func generateChanges(cfg Config, table string) (load []Row, cdc [][]Row, schema *arrow.Schema, keys []string, err error) {
	_, tableName, err := splitTable(table)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sh, ok := shapeOf(tableName)
	if !ok {
		return nil, nil, nil, nil, fmt.Errorf("gen: table %q: no built-in shape %q (want orders or order_items)", table, tableName)
	}
	h := fnv.New64a()
	h.Write([]byte(table))
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), h.Sum64()))

	g := &stream{shape: sh, rnd: rnd, index: map[int64]int{}, images: map[int64][]any{}}

	// Full load: keys 1..Rows, loaded an hour before the first change; each
	// LOAD file carries the time it was transferred.
	loadStart := cfg.Start.Add(-time.Hour)
	for f, part := range splitEven(cfg.Rows, cfg.LoadFiles) {
		at := loadStart.Add(time.Duration(f) * time.Second)
		for range part {
			k := g.newKey()
			vals := sh.values(rnd, k, at, nil)
			g.setLive(k, vals)
			load = append(load, Row{Values: append([]any{at.Format(TimestampLayout)}, vals...)})
		}
	}

	// CDC stream: one flat, ordered list, then split into files.
	flat := make([]Row, 0, cfg.Changes)
	at := cfg.Start
	for i := range cfg.Changes {
		if i > 0 && rnd.Float64() >= cfg.TieFrac {
			// Advance by 1 ms to 2 s, at microsecond precision.
			at = at.Add(time.Duration(1000+rnd.Int64N(2_000_000-1000+1)) * time.Microsecond)
		}
		var row Row
		r := rnd.Float64()
		switch {
		case len(g.live) == 0:
			row = g.insert(at)
		case r < cfg.UpdateFrac:
			row = g.update(at, cfg.AbsentFrac)
		case r < cfg.UpdateFrac+cfg.DeleteFrac:
			row = g.delete(at, cfg.AbsentFrac, cfg.KeyOnlyDeleteFrac)
		default:
			row = g.insert(at)
		}
		row.Values = append([]any{at.Format(TimestampLayout)}, row.Values...)
		flat = append(flat, row)
	}
	for _, part := range splitEven(len(flat), cfg.CDCFiles) {
		if len(part) > 0 {
			cdc = append(cdc, flat[part[0]:part[len(part)-1]+1:part[len(part)-1]+1])
		}
	}
	return load, cdc, sh.schema, append([]string(nil), sh.keys...), nil
}

// stream tracks which keys are live while generating changes.
type stream struct {
	shape   shape
	rnd     *rand.Rand
	live    []int64         // live key ids, in insertion order (swap-removed)
	index   map[int64]int   // key -> position in live
	images  map[int64][]any // key -> current image (without commit_ts)
	deleted []int64         // deleted, not re-inserted keys
	next    int64           // last allocated new key id
	absent  int64           // last allocated never-existing key id
}

func (g *stream) newKey() int64 { g.next++; return g.next }

func (g *stream) setLive(k int64, vals []any) {
	if _, ok := g.index[k]; !ok {
		g.index[k] = len(g.live)
		g.live = append(g.live, k)
	}
	g.images[k] = vals
}

func (g *stream) removeLive(k int64) {
	i := g.index[k]
	last := g.live[len(g.live)-1]
	g.live[i] = last
	g.index[last] = i
	g.live = g.live[:len(g.live)-1]
	delete(g.index, k)
	delete(g.images, k)
}

// pickLive picks a live key with a strong skew towards the front of the
// list, so a few keys change many times.
func (g *stream) pickLive() int64 {
	u := g.rnd.Float64()
	return g.live[int(float64(len(g.live))*u*u*u)]
}

func (g *stream) absentKey() int64 {
	g.absent++
	return absentBase + g.absent
}

func (g *stream) update(at time.Time, absentFrac float64) Row {
	if g.rnd.Float64() < absentFrac {
		k := g.absentKey()
		return Row{Op: "U", Values: g.shape.values(g.rnd, k, at, nil)}
	}
	k := g.pickLive()
	vals := g.shape.values(g.rnd, k, at, g.images[k])
	g.images[k] = vals
	return Row{Op: "U", Values: vals}
}

func (g *stream) delete(at time.Time, absentFrac, keyOnlyFrac float64) Row {
	var k int64
	var before []any
	if g.rnd.Float64() < absentFrac {
		k = g.absentKey()
		before = g.shape.values(g.rnd, k, at, nil)
	} else {
		k = g.pickLive()
		before = g.images[k]
		g.removeLive(k)
		g.deleted = append(g.deleted, k)
	}
	if g.rnd.Float64() < keyOnlyFrac {
		before = make([]any, len(g.shape.schema.Fields())-1)
		copy(before, g.shape.keyValues(k))
	}
	return Row{Op: "D", Values: before}
}

func (g *stream) insert(at time.Time) Row {
	var k int64
	if len(g.deleted) > 0 && g.rnd.IntN(10) == 0 {
		// Occasionally re-insert a deleted key.
		i := g.rnd.IntN(len(g.deleted))
		k = g.deleted[i]
		last := g.deleted[len(g.deleted)-1]
		g.deleted[i] = last
		g.deleted = g.deleted[:len(g.deleted)-1]
	} else {
		k = g.newKey()
	}
	vals := g.shape.values(g.rnd, k, at, nil)
	g.setLive(k, vals)
	return Row{Op: "I", Values: vals}
}
