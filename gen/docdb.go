package gen

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// DocumentDB / MongoDB output in document mode (NestingLevel=none,
// ExtractDocID=true), as DMS writes it:
//
//	<db>/<collection>/LOAD00000001.parquet        commit_ts, _id, _doc
//	<db>/<collection>/20260510-100000000.parquet  Op, commit_ts, _id, _doc
//
// _id is the ObjectId as 24 hex digits; _doc is the document as MongoDB
// extended JSON, some documents in relaxed form and some in canonical form.
// D rows carry only _id (_doc null). The generated "users" documents have
// nested documents, arrays, optional fields (missing or null), a map-like
// document keyed by dates, $date, $numberDecimal, $numberLong, $binary, a
// field added part way through the stream (prefs, nested) and type drift:
// age is an int in the full load and early changes and a string after
// DocDBConfig.DriftAt of the change stream.

// DocDBConfig describes a synthetic DocumentDB collection. Zero fields take
// their defaults.
type DocDBConfig struct {
	Collection    string    // "db.collection" (default "appdb.users")
	Docs          int       // full-load documents (default 50)
	Changes       int       // CDC rows (default 80)
	CDCFiles      int       // CDC files (default 3)
	CanonicalFrac float64   // share of documents written in canonical extended JSON (default 0.3; negative: none)
	DriftAt       float64   // share of the change stream after which age is a string (default 0.5)
	Seed          int64     // same config => identical output
	Start         time.Time // commit time of the first change (default DefaultStart)
}

// DocRow is one generated row. Doc is the extended JSON text written to
// _doc ("" for D rows, which carry only the _id).
type DocRow struct {
	Op  string // "I", "U", "D"; "" in LOAD files
	TS  string // commit_ts, yyyy-MM-dd HH:mm:ss.SSSSSS
	ID  string // ObjectId hex
	Doc string
}

// DocDBOutput is what GenerateDocDB wrote.
type DocDBOutput struct {
	LoadFiles, CDCFiles []string // sink paths in DMS order
	// Final maps every live _id to the extended JSON text of its latest
	// document (exactly the text of the last I or U row): the expected
	// state after replaying every file.
	Final map[string]string
}

// DocDBSchema is the schema of document-mode LOAD files; CDC files add a
// leading Op column (CDCSchema).
var DocDBSchema = arrow.NewSchema([]arrow.Field{
	nullable(TimestampColumn, arrow.BinaryTypes.String),
	nullable("_id", arrow.BinaryTypes.String),
	nullable("_doc", arrow.BinaryTypes.String),
}, nil)

func (c DocDBConfig) withDefaults() DocDBConfig {
	if c.Collection == "" {
		c.Collection = "appdb.users"
	}
	if c.Docs == 0 {
		c.Docs = 50
	}
	if c.Docs < 0 {
		c.Docs = 0
	}
	if c.Changes == 0 {
		c.Changes = 80
	}
	if c.Changes < 0 {
		c.Changes = 0
	}
	if c.CDCFiles <= 0 {
		c.CDCFiles = 3
	}
	if c.CanonicalFrac == 0 {
		c.CanonicalFrac = 0.3
	}
	if c.DriftAt == 0 {
		c.DriftAt = 0.5
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	return c
}

// GenerateDocDBChanges returns the rows GenerateDocDB writes: the LOAD rows,
// the CDC rows per file, and the expected final document per _id.
func GenerateDocDBChanges(cfg DocDBConfig) (load []DocRow, cdc [][]DocRow, final map[string]string, err error) {
	cfg = cfg.withDefaults()
	if _, _, err := splitTable(cfg.Collection); err != nil {
		return nil, nil, nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Collection))
	rnd := rand.New(rand.NewPCG(uint64(cfg.Seed), h.Sum64()))
	g := &docGen{rnd: rnd, cfg: cfg, live: map[string]*userState{}}

	loadAt := cfg.Start.Add(-time.Hour)
	for range cfg.Docs {
		u := g.newUser(loadAt, false)
		load = append(load, DocRow{TS: loadAt.Format(TimestampLayout), ID: u.id, Doc: g.encode(u.doc(false))})
	}
	flat := make([]DocRow, 0, cfg.Changes)
	at := cfg.Start
	for i := range cfg.Changes {
		if i > 0 && rnd.Float64() >= 0.25 { // a quarter of changes share a timestamp
			at = at.Add(time.Duration(1000+rnd.Int64N(1_500_000)) * time.Microsecond)
		}
		drift := float64(i) >= cfg.DriftAt*float64(cfg.Changes)
		ts := at.Format(TimestampLayout)
		r := rnd.Float64()
		switch {
		case len(g.order) == 0 || r < 0.2:
			u := g.newUser(at, drift)
			flat = append(flat, DocRow{Op: "I", TS: ts, ID: u.id, Doc: g.encode(u.doc(drift))})
		case r < 0.75:
			u := g.live[g.pick()]
			u.update(rnd, at, drift)
			flat = append(flat, DocRow{Op: "U", TS: ts, ID: u.id, Doc: g.encode(u.doc(drift))})
		case r < 0.78:
			// A delete of a document that never existed: a no-op.
			flat = append(flat, DocRow{Op: "D", TS: ts, ID: g.oid()})
		default:
			id := g.pick()
			g.remove(id)
			flat = append(flat, DocRow{Op: "D", TS: ts, ID: id})
		}
	}
	for _, part := range splitEven(len(flat), cfg.CDCFiles) {
		if len(part) > 0 {
			cdc = append(cdc, flat[part[0]:part[len(part)-1]+1:part[len(part)-1]+1])
		}
	}
	final = map[string]string{}
	for _, r := range load {
		final[r.ID] = r.Doc
	}
	for _, r := range flat {
		if r.Op == "D" {
			delete(final, r.ID)
		} else {
			final[r.ID] = r.Doc
		}
	}
	return load, cdc, final, nil
}

// GenerateDocDB writes the collection's LOAD and CDC files to sink.
func GenerateDocDB(ctx context.Context, sink Sink, cfg DocDBConfig) (DocDBOutput, error) {
	cfg = cfg.withDefaults()
	load, cdc, final, err := GenerateDocDBChanges(cfg)
	if err != nil {
		return DocDBOutput{}, err
	}
	db, coll, _ := splitTable(cfg.Collection)
	dir := db + "/" + coll + "/"
	out := DocDBOutput{Final: final}
	if len(load) > 0 {
		rows := make([][]any, len(load))
		for i, r := range load {
			rows[i] = []any{r.TS, r.ID, r.Doc}
		}
		p := dir + loadFileName(1)
		if err := writeParquetFile(ctx, sink, p, DocDBSchema, rows); err != nil {
			return out, err
		}
		out.LoadFiles = append(out.LoadFiles, p)
	}
	var prev time.Time
	for i, file := range cdc {
		rows := make([][]any, len(file))
		for j, r := range file {
			var doc any
			if r.Doc != "" {
				doc = r.Doc
			}
			rows[j] = []any{r.Op, r.TS, r.ID, doc}
		}
		t, _ := time.Parse(TimestampLayout, file[0].TS)
		t = t.Truncate(time.Millisecond)
		if i > 0 && !t.After(prev) {
			t = prev.Add(time.Millisecond)
		}
		prev = t
		p := dir + cdcFileName(t)
		if err := writeParquetFile(ctx, sink, p, CDCSchema(DocDBSchema), rows); err != nil {
			return out, err
		}
		out.CDCFiles = append(out.CDCFiles, p)
	}
	return out, nil
}

// ---- documents ----

type oidHex string

type kv struct {
	k string
	v any
}

type document []kv

type userState struct {
	id      string
	name    string
	age     int
	email   any // string or nil (null); absent when "" below
	hasMail bool
	city    string
	langs   []any
	score   Decimal
	created time.Time
	visits  int64
	tags    []any
	daily   document
	avatar  []byte
	prefs   document // nil until the stream adds it
}

type docGen struct {
	rnd   *rand.Rand
	cfg   DocDBConfig
	live  map[string]*userState
	order []string
	seq   uint32
}

var (
	cities   = []string{"Lyon", "Osaka", "Recife", "Oslo", "Perth", "Zürich", "Québec"}
	langList = []string{"en", "fr", "ja", "pt", "de"}
	tagList  = []string{"vip", "beta", "churn-risk", "newsletter", "trial"}
)

func (g *docGen) oid() string {
	g.seq++
	var b [12]byte
	ts := uint32(g.cfg.Start.Unix()) + g.seq/16
	b[0], b[1], b[2], b[3] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	for i := 4; i < 9; i++ {
		b[i] = byte(g.rnd.IntN(256))
	}
	b[9], b[10], b[11] = byte(g.seq>>16), byte(g.seq>>8), byte(g.seq)
	return fmt.Sprintf("%x", b[:])
}

func (g *docGen) pick() string {
	u := g.rnd.Float64()
	return g.order[int(float64(len(g.order))*u*u)]
}

func (g *docGen) remove(id string) {
	delete(g.live, id)
	for i, o := range g.order {
		if o == id {
			g.order = append(g.order[:i], g.order[i+1:]...)
			return
		}
	}
}

func pickN(rnd *rand.Rand, from []string, n int) []any {
	out := []any{}
	for _, i := range rnd.Perm(len(from))[:n] {
		out = append(out, from[i])
	}
	return out
}

func (g *docGen) newUser(at time.Time, drift bool) *userState {
	rnd := g.rnd
	id := g.oid()
	u := &userState{
		id:      id,
		name:    fmt.Sprintf("user-%d", g.seq),
		age:     18 + rnd.IntN(60),
		city:    cities[rnd.IntN(len(cities))],
		langs:   pickN(rnd, langList, rnd.IntN(3)),
		score:   Decimal{Unscaled: big.NewInt(rnd.Int64N(1_000_000)), Scale: 2},
		created: at.Add(-time.Duration(rnd.Int64N(int64(400 * 24 * time.Hour)))).Truncate(time.Millisecond),
		visits:  rnd.Int64N(1000) + int64(rnd.IntN(2))*(1<<40),
		tags:    pickN(rnd, tagList, rnd.IntN(4)),
	}
	switch rnd.IntN(3) {
	case 0: // no email field at all
	case 1:
		u.hasMail, u.email = true, nil
	default:
		u.hasMail, u.email = true, u.name+"@example.com"
	}
	if rnd.IntN(4) == 0 {
		u.avatar = []byte{0x89, 'P', 'N', 'G', byte(rnd.IntN(256))}
	}
	for d := range rnd.IntN(3) {
		u.daily = append(u.daily, kv{at.AddDate(0, 0, -d).Format("2006-01-02"), int64(rnd.IntN(50))})
	}
	if drift && rnd.IntN(2) == 0 {
		u.prefs = document{{"theme", "dark"}, {"notify", document{{"email", true}, {"sms", false}}}}
	}
	g.live[id] = u
	g.order = append(g.order, id)
	return u
}

func (u *userState) update(rnd *rand.Rand, at time.Time, drift bool) {
	u.age++
	u.visits += 1 + rnd.Int64N(20)
	u.score = Decimal{Unscaled: new(big.Int).Add(u.score.Unscaled, big.NewInt(rnd.Int64N(500)-100)), Scale: 2}
	if rnd.IntN(3) == 0 {
		u.tags = pickN(rnd, tagList, rnd.IntN(4))
	}
	if rnd.IntN(4) == 0 {
		u.city = cities[rnd.IntN(len(cities))]
	}
	u.daily = append(u.daily, kv{at.Format("2006-01-02") + "#" + strconv.Itoa(len(u.daily)), int64(rnd.IntN(50))})
	if drift && u.prefs == nil {
		u.prefs = document{{"theme", "light"}, {"notify", document{{"email", rnd.IntN(2) == 0}}}}
	}
}

func (u *userState) doc(drift bool) document {
	var age any = int32(u.age)
	if drift {
		age = strconv.Itoa(u.age) // type drift: the app started writing strings
	}
	d := document{
		{"_id", oidHex(u.id)},
		{"name", u.name},
		{"age", age},
	}
	if u.hasMail {
		d = append(d, kv{"email", u.email})
	}
	geo := document{{"lat", 45.75 + float64(len(u.city))/100}, {"lng", 4.85}}
	d = append(d,
		kv{"profile", document{{"city", u.city}, {"langs", u.langs}, {"geo", geo}}},
		kv{"score", u.score},
		kv{"created", u.created},
		kv{"visits", u.visits},
		kv{"tags", u.tags},
	)
	if len(u.daily) > 0 {
		daily := document{}
		for _, e := range u.daily {
			k, _, _ := strings.Cut(e.k, "#")
			if _, dup := lookup(daily, k); !dup {
				daily = append(daily, kv{k, e.v})
			}
		}
		d = append(d, kv{"daily", daily})
	}
	if u.avatar != nil {
		d = append(d, kv{"avatar", u.avatar})
	}
	if u.prefs != nil {
		d = append(d, kv{"prefs", u.prefs})
	}
	return d
}

func lookup(d document, k string) (any, bool) {
	for _, e := range d {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

func (g *docGen) encode(d document) string {
	canonical := g.rnd.Float64() < g.cfg.CanonicalFrac
	return string(appendExtJSON(nil, d, canonical))
}

func jsonString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// appendExtJSON writes v as MongoDB extended JSON, canonical or relaxed.
func appendExtJSON(b []byte, v any, canonical bool) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return jsonString(b, x)
	case int32:
		if canonical {
			return fmt.Appendf(b, `{"$numberInt":"%d"}`, x)
		}
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		if canonical || x > 1<<53 || x < -(1<<53) {
			return fmt.Appendf(b, `{"$numberLong":"%d"}`, x)
		}
		return strconv.AppendInt(b, x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") && !math.IsInf(x, 0) && !math.IsNaN(x) {
			s += ".0"
		}
		if canonical || math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Appendf(b, `{"$numberDouble":%q}`, s)
		}
		return append(b, s...)
	case Decimal:
		return fmt.Appendf(b, `{"$numberDecimal":%q}`, x.String())
	case oidHex:
		return fmt.Appendf(b, `{"$oid":%q}`, string(x))
	case time.Time:
		if canonical {
			return fmt.Appendf(b, `{"$date":{"$numberLong":"%d"}}`, x.UnixMilli())
		}
		return fmt.Appendf(b, `{"$date":%q}`, x.UTC().Format("2006-01-02T15:04:05.000Z"))
	case []byte:
		return fmt.Appendf(b, `{"$binary":{"base64":%q,"subType":"00"}}`, base64.StdEncoding.EncodeToString(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendExtJSON(b, e, canonical)
		}
		return append(b, ']')
	case document:
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonString(b, e.k)
			b = append(b, ':')
			b = appendExtJSON(b, e.v, canonical)
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("gen: no extended JSON for %T", v))
}
