package reader

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The S3-source CSV layout
//
// A DMS task reading from S3 (and DMS with PreserveTransactions) uses a
// layout of its own: full load in <schema>/<table>/LOAD001.csv, LOAD002.csv
// ... (a decimal counter, optional leading I column), and changes of every
// table in one folder, CdcPath: CDC00001.csv, CDC00002.csv ... (a decimal
// counter) or CDC_TXN-yyyyMMddHHmmssSSS.csv, rows op,table,schema,values.
// Such a "shared CDC file" is listed in the CDC list of every table (with
// Format CSVChanges), so each table moves its own checkpoint over it and
// takes only its own rows (SharedCDC.Rows).

// CSVChanges is the Format of a shared CDC file of an S3 source.
const CSVChanges = "csv-changes"

// sharedStyle says which naming style a shared CDC file has: 'N' for the
// counter (CDC00001.csv), 'T' for PreserveTransactions (CDC_TXN-...), 0 for
// a name that is not a shared CDC file.
func sharedStyle(name string) byte {
	switch {
	case csvCDCNum.MatchString(name):
		return 'N'
	case csvCDCTxn.MatchString(name):
		if _, _, ok := ParseCSVName(name); ok {
			return 'T'
		}
	}
	return 0
}

// CompareCDCNames orders two CDC file basenames of one table's stream.
// Target-style names (yyyyMMdd-HHmmssSSS) order by name; shared CDC files
// by their number (the counter of CDC00001.csv, the time of CDC_TXN-...),
// so CDC2.csv comes before CDC00010.csv whatever the widths, then by name.
func CompareCDCNames(a, b string) int {
	if sharedStyle(a) != 0 && sharedStyle(b) != 0 {
		_, na, _ := ParseCSVName(a)
		_, nb, _ := ParseCSVName(b)
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

// parseSourceLoad accepts, besides the target names ParseTargetName takes,
// an S3 source's decimal LOAD001.csv(.gz).
func parseSourceLoad(name string) (Kind, uint64, string, bool) {
	if k, n, f, ok := ParseTargetName(name); ok {
		return k, n, f, true
	}
	if csvLoadDec.MatchString(name) {
		if k, n, ok := ParseCSVName(name); ok && k == Load {
			return k, n, CSV, true
		}
	}
	return 0, 0, "", false
}

// GroupS3Source is Group for a source that may use the S3-source CSV
// layout: <schema>/<table>/LOAD001.csv files count as full load, and shared
// CDC files (CDC00001.csv, CDC_TXN-*.csv) are returned apart, in stream
// order, with Format CSVChanges. cdcPath is the folder of the shared files
// relative to the source root; "" finds them anywhere, and then they must
// all be in one folder. Mixing the counter and the CDC_TXN styles is an
// error: their numbers do not compare.
func GroupS3Source(objs []Object, cdcPath string) (tables []TableFiles, shared []File, ignored []Ignored, err error) {
	cdcPath = strings.Trim(cdcPath, "/")
	var rest []Object
	dirs := map[string]bool{}
	for _, o := range objs {
		name := path.Base(o.Path)
		style := sharedStyle(name)
		if style == 0 {
			rest = append(rest, o)
			continue
		}
		dir := strings.TrimSuffix(strings.TrimSuffix(o.Path, name), "/")
		if cdcPath != "" && dir != cdcPath {
			ignored = append(ignored, Ignored{o.Path, fmt.Sprintf("S3-source CDC file outside the CDC folder %q (--cdc-path)", cdcPath)})
			continue
		}
		dirs[dir] = true
		_, n, _ := ParseCSVName(name)
		shared = append(shared, File{Object: o, Name: name, Kind: CDC, Format: CSVChanges, Number: n})
		if sharedStyle(shared[0].Name) != style {
			return nil, nil, nil, fmt.Errorf("S3-source CDC files %s and %s have different naming styles (CDC00001.csv and CDC_TXN-...); their order is undefined: keep one style in the CDC folder", shared[0].Path, o.Path)
		}
	}
	if len(dirs) > 1 {
		var list []string
		for d := range dirs {
			list = append(list, "\""+d+"\"")
		}
		sort.Strings(list)
		return nil, nil, nil, fmt.Errorf("S3-source CDC files (CDC00001.csv, CDC_TXN-...) found in several folders (%s); changes of one stream are in one folder: name it with --cdc-path", strings.Join(list, ", "))
	}
	sort.SliceStable(shared, func(i, j int) bool { return CompareCDCNames(shared[i].Name, shared[j].Name) < 0 })
	tables, ign, err := group(rest, parseSourceLoad)
	return tables, shared, append(ignored, ign...), err
}

// SharedCDC hands each table its rows of the shared CDC files of an S3
// source, reading each file once per run when memory allows: the rows of
// the tables whose turn has not come yet are kept (up to MaxCached bytes
// of decoded data; beyond that they are dropped and the file is read again
// when such a table asks). Every table's rows of a file carry the digest
// of the whole file (Decoded.Digest, from the read itself), so that a
// shared file delivered twice is caught like any other. It is safe for
// concurrent use.
type SharedCDC struct {
	Src Source
	// Tables maps each "schema.table" that takes rows to its columns
	// (TableDef.ArrowSchema, or the existing table's).
	Tables map[string]*arrow.Schema
	// Skip reports tables whose rows are dropped (not selected).
	Skip      func(ident string) bool
	CSV       CSVOptions
	Mem       memory.Allocator
	MaxCached int64

	mu      sync.Mutex
	cache   map[string]map[string]*sharedPart // path -> table -> rows
	cached  int64
	done    map[string]bool
	reads   int
	unknown map[string]*FileError
	digests map[string]Digest // path -> digest, of the files read this run
}

// sharedPart is one table's rows of a shared file, or their error.
type sharedPart struct {
	d    *Decoded // nil: no rows
	err  error
	size int64
}

// Rows returns the rows of table (a key of Tables) in shared CDC file f, in
// file order: an empty record when the file has none. The caller owns
// (releases) the result. A bad row of table is a *FileError for this table
// only.
func (s *SharedCDC) Rows(ctx context.Context, f File, table string) (*Decoded, error) {
	sch, ok := s.Tables[table]
	if !ok {
		return nil, fmt.Errorf("table %s takes no rows of the shared CDC files: it has no columns (table definition or existing table)", table)
	}
	s.mu.Lock()
	if parts, ok := s.cache[f.Path]; ok {
		if p, ok := parts[table]; ok {
			delete(parts, table)
			s.cached -= p.size
			dg := s.digests[f.Path]
			s.mu.Unlock()
			return s.result(f, sch, p, dg)
		}
	}
	s.mu.Unlock()

	mem := s.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	opt := s.CSV
	opt.Header = false
	// The file's digest comes from this read: every table's rows of it
	// carry it, so a copy under another name is found per table like
	// any other file's (merge's duplicate check).
	src := NewDigestSource(s.Src)
	r, err := routeCSVChanges(ctx, src, f, s.Tables, s.Skip, opt, mem)
	if err != nil {
		return nil, err
	}
	dg, _ := src.Digest(f.Path)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.digests == nil {
		s.digests = map[string]Digest{}
	}
	s.digests[f.Path] = dg
	if s.unknown == nil {
		s.unknown = map[string]*FileError{}
	}
	for ident, e := range r.unknown {
		if prev, ok := s.unknown[ident]; !ok || CompareCDCNames(path.Base(e.Path), path.Base(prev.Path)) < 0 {
			s.unknown[ident] = e
		}
	}
	if s.cache == nil {
		s.cache = map[string]map[string]*sharedPart{}
	}
	parts := s.cache[f.Path]
	if parts == nil {
		parts = map[string]*sharedPart{}
		s.cache[f.Path] = parts
	}
	var mine *sharedPart
	for ident := range s.Tables {
		p := &sharedPart{d: r.rows[ident]}
		if e, bad := r.errs[ident]; bad {
			p.err = e
		}
		if p.d != nil {
			p.size = RecordBytes(p.d.Record)
		}
		switch {
		case ident == table:
			mine = p
		case s.done[ident] || parts[ident] != nil || s.MaxCached <= 0 || s.cached+p.size > s.MaxCached:
			// Not needed, already kept, or over the budget: read again
			// if asked.
			if p.d != nil {
				p.d.Release()
			}
		default:
			parts[ident] = p
			s.cached += p.size
		}
	}
	return s.result(f, sch, mine, dg)
}

// result is table's part p of shared file f, with the file's digest.
func (s *SharedCDC) result(f File, sch *arrow.Schema, p *sharedPart, dg Digest) (*Decoded, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.d != nil {
		p.d.Digest = dg
		return p.d, nil
	}
	mem := s.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	t, err := newCSVTable(f.Path, sch, mem)
	if err != nil {
		return nil, err
	}
	defer t.release()
	return &Decoded{File: f, Record: t.record(), Ops: []byte{}, Digest: dg}, nil
}

// Done says table will ask for no more rows this run: its kept rows are
// freed.
func (s *SharedCDC) Done(table string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = map[string]bool{}
	}
	s.done[table] = true
	for _, parts := range s.cache {
		if p, ok := parts[table]; ok {
			if p.d != nil {
				p.d.Release()
			}
			s.cached -= p.size
			delete(parts, table)
		}
	}
}

// Close frees everything kept.
func (s *SharedCDC) Close() {
	for t := range s.Tables {
		s.Done(t)
	}
}

// Reads is how many times a shared file was decoded.
func (s *SharedCDC) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Unknown returns, per table named by rows of the files read but not in
// Tables nor skipped, the first such row (in stream order), by table name.
func (s *SharedCDC) Unknown() []UnknownTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []UnknownTable
	for ident, e := range s.unknown {
		out = append(out, UnknownTable{Table: ident, Err: e})
	}
	slices.SortFunc(out, func(a, b UnknownTable) int { return strings.Compare(a.Table, b.Table) })
	return out
}

// UnknownTable is a table with rows in a shared CDC file and no columns to
// read them with.
type UnknownTable struct {
	Table string
	Err   *FileError
}

// RecordBytes is the size of the buffers of a record, nested columns
// included: what it takes in memory.
func RecordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += dataBytes(col.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
