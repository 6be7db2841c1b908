package merge_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// modelFile is one DMS file of a random stream.
type modelFile struct {
	name string
	load bool
	rows [][]any // CDC rows start with the Op value
	// rowGroup is the rows per Parquet row group (0: one row group).
	rowGroup int
}

// modelStream is a random change stream for one table.
type modelStream struct {
	schema string
	table  string
	key    []string
	cols   *arrow.Schema // table columns (commit_ts first), no Op
	files  []modelFile
}

var valueCols = []arrow.Field{
	{Name: "v_int", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "v_str", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v_dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "v_ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "v_bool", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "v_f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}

func randomValue(r *rand.Rand, f arrow.Field) any {
	if r.Intn(5) == 0 {
		return nil
	}
	switch f.Name {
	case "v_int":
		return int32(r.Intn(2000) - 1000)
	case "v_str":
		return fmt.Sprintf("str-%d-%s", r.Intn(1000), strings.Repeat("x", r.Intn(4)))
	case "v_dec":
		return gen.NewDecimal(int64(r.Intn(2000000)-1000000), 2)
	case "v_ts":
		return gen.Timestamp(1700000000000000 + r.Int63n(1e12))
	case "v_bool":
		return r.Intn(2) == 0
	case "v_f64":
		return float64(r.Intn(100000)) / 7
	}
	panic(f.Name)
}

// newStream builds a random stream: LOAD files with distinct keys, then CDC
// files with repeated keys, same-timestamp ties, key-only deletes, deletes
// and updates of absent keys, and inserts of present keys.
func newStream(r *rand.Rand, composite bool) modelStream {
	s := modelStream{schema: "db", table: "single"}
	fields := []arrow.Field{{Name: "commit_ts", Type: arrow.BinaryTypes.String, Nullable: true}}
	var keyOf func() []any
	if composite {
		s.table = "composite"
		s.key = []string{"k1", "k2"}
		fields = append(fields,
			arrow.Field{Name: "k1", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "k2", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
		keyOf = func() []any {
			return []any{[]string{"a", "b", "c", "d\x00e"}[r.Intn(4)], int32(r.Intn(8))}
		}
	} else {
		s.key = []string{"id"}
		fields = append(fields, arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
		n := 10 + r.Intn(40)
		keyOf = func() []any { return []any{int64(r.Intn(n) - 3)} }
	}
	fields = append(fields, valueCols...)
	s.cols = arrow.NewSchema(fields, nil)
	nk := len(s.key)

	row := func(ts string, key []any, keyOnly bool) []any {
		out := []any{ts}
		out = append(out, key...)
		for _, f := range valueCols {
			if keyOnly {
				out = append(out, nil)
			} else {
				out = append(out, randomValue(r, f))
			}
		}
		return out
	}
	// Full load: distinct keys.
	loadTS := "2026-05-10 09:00:00.000000"
	seen := map[string]bool{}
	nload := r.Intn(3)
	for f := 0; f < nload; f++ {
		mf := modelFile{name: fmt.Sprintf("LOAD%08X.parquet", f+1), load: true}
		for i := 0; i < r.Intn(15); i++ {
			k := keyOf()
			ks := fmt.Sprint(k)
			if seen[ks] {
				continue
			}
			seen[ks] = true
			mf.rows = append(mf.rows, row(loadTS, k, false))
		}
		if len(mf.rows) > 0 {
			s.files = append(s.files, mf)
		}
	}
	// CDC: non-decreasing commit timestamps with ties, as DMS writes them.
	t := time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC)
	name := t
	ncdc := 2 + r.Intn(10)
	for f := 0; f < ncdc; f++ {
		name = name.Add(time.Duration(1+r.Intn(3000)) * time.Millisecond)
		mf := modelFile{name: name.Format("20060102-150405") + fmt.Sprintf("%03d.parquet", name.Nanosecond()/1e6)}
		for i := 0; i < 1+r.Intn(25); i++ {
			if r.Intn(10) < 6 {
				t = t.Add(time.Duration(r.Intn(3)) * time.Second)
			}
			ts := t.Format("2006-01-02 15:04:05.000000")
			var op string
			switch x := r.Intn(10); {
			case x < 3:
				op = "I"
			case x < 7:
				op = "U"
			default:
				op = "D"
			}
			rw := row(ts, keyOf(), op == "D" && r.Intn(2) == 0)
			mf.rows = append(mf.rows, append([]any{op}, rw...))
		}
		s.files = append(s.files, mf)
	}
	_ = nk
	return s
}

// create creates file f of s in the source folder and returns it with
// its columns (the Op column first in CDC files).
func (s modelStream) create(t *testing.T, root string, f modelFile) (*os.File, *arrow.Schema) {
	t.Helper()
	dir := filepath.Join(root, s.schema, s.table)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sc := s.cols
	if !f.load {
		sc = gen.CDCSchema(s.cols)
	}
	out, err := os.Create(filepath.Join(dir, f.name))
	if err != nil {
		t.Fatal(err)
	}
	return out, sc
}

// write puts file f of s into the source folder.
func (s modelStream) write(t *testing.T, root string, f modelFile) {
	t.Helper()
	out, sc := s.create(t, root, f)
	var opts []gen.WriteOption
	if f.rowGroup > 0 {
		opts = append(opts, gen.WithRowGroupSize(int64(f.rowGroup)))
	}
	// WriteParquet closes the writer it is given.
	if err := gen.WriteParquet(out, sc, f.rows, opts...); err != nil {
		t.Fatal(err)
	}
}

// replay is the model: the rules of the README applied naively, row by row,
// to the first n files.
func (s modelStream) replay(n int) testutil.Rows {
	type change struct {
		op   string
		ts   string
		file int
		pos  int
		row  []any
	}
	state := testutil.Rows{}
	var cdc []change
	for fi, f := range s.files[:n] {
		for ri, rw := range f.rows {
			if f.load {
				s.apply(state, "I", rw)
				continue
			}
			cdc = append(cdc, change{op: rw[0].(string), ts: rw[1].(string), file: fi, pos: ri, row: rw[1:]})
		}
	}
	sort.SliceStable(cdc, func(a, b int) bool { return cdc[a].ts < cdc[b].ts })
	for _, c := range cdc {
		s.apply(state, c.op, c.row)
	}
	return state
}

// check loads the table and compares it with the model of the first n
// files; when says when, for the failure message.
func (s modelStream) check(t *testing.T, cat icecat.Catalog, n int, when string) *table.Table {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, []string{s.schema, s.table})
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.ReadTable(ctx, tbl, s.key)
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.Diff(s.replay(n), got, 10); d != "" {
		t.Fatalf("%s:\n%s", when, d)
	}
	return tbl
}

func (s modelStream) apply(state testutil.Rows, op string, rw []any) {
	var kp []string
	for i := range s.key {
		kp = append(kp, testutil.Value(rw[1+i]))
	}
	k := strings.Join(kp, "|")
	if op == "D" {
		delete(state, k)
		return
	}
	m := map[string]string{}
	for i, f := range s.cols.Fields() {
		m[f.Name] = testutil.Value(rw[i])
	}
	state[k] = m
}

func openCatalog(t testing.TB, wh string) icecat.Catalog {
	t.Helper()
	cat, err := catalog.Open(context.Background(), catalog.Config{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func tableFiles(t *testing.T, src reader.Source, ident string) reader.TableFiles {
	t.Helper()
	tables, _, err := reader.Discover(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tf := range tables {
		if tf.Ident() == ident {
			return tf
		}
	}
	return reader.TableFiles{}
}

// modelMode is one way of writing a table the model test runs in.
type modelMode struct {
	name string
	opt  merge.Options
	// upgraded: a v3 table upgraded from v2 keeps its position delete
	// files (deletion vectors written later carry their positions).
	upgraded bool
}

// modelModes are every write mode and delete strategy: copy-on-write,
// merge-on-read with position deletes (v2), deletion vectors (v3) and
// equality deletes (v2 and v3).
func modelModes() []modelMode {
	return []modelMode{
		{"cow", merge.Options{WriteMode: merge.CopyOnWrite}, false},
		{"mor-v2-position", merge.Options{WriteMode: merge.MergeOnRead}, false},
		{"mor-v3-dv", merge.Options{WriteMode: merge.MergeOnRead, FormatVersion: 3}, false},
		{"mor-v2-equality", merge.Options{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality}, false},
		{"mor-v3-equality", merge.Options{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality, FormatVersion: 3}, false},
	}
}

// TestModel replays random streams through the engine in random run splits
// and batchings and compares the table with the model after every run.
func TestModel(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	modes := modelModes()
	for i := 0; i < len(modes)*seeds; i++ {
		seed, mm := i/len(modes), modes[i%len(modes)]
		composite := seed%2 == 1
		t.Run(fmt.Sprintf("%s/seed%d", mm.name, seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewSource(int64(seed)))
			runModel(t, r, newStream(r, composite), mm, nil, func(t *testing.T, tbl *table.Table) { checkDeleteFiles(t, tbl, mm) })
		})
	}
}

// runModel reveals the files of s a few at a time, runs the engine after
// each step in mode mm (creating the table with partition), with
// compaction and expiry interleaved at random, and compares the table with
// the model after every step; check, when set, inspects the table too. At
// the end a full compaction must fold every delete file away.
func runModel(t *testing.T, r *rand.Rand, s modelStream, mm modelMode, partition []merge.PartitionField, check func(*testing.T, *table.Table)) {
	ctx := context.Background()
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	cat := openCatalog(t, filepath.Join(root, "wh"))
	ident := []string{s.schema, s.table}
	spill := filepath.Join(root, "spill")
	if err := os.Mkdir(spill, 0o755); err != nil {
		t.Fatal(err)
	}
	if check == nil {
		check = func(*testing.T, *table.Table) {}
	}
	revealed := 0
	for revealed < len(s.files) {
		step := 1 + r.Intn(4)
		for i := 0; i < step && revealed < len(s.files); i++ {
			s.write(t, src.Root, s.files[revealed])
			revealed++
		}
		opt := mm.opt
		opt.Key, opt.BatchFiles, opt.Partition = s.key, 1+r.Intn(4), partition
		if r.Intn(3) == 0 {
			opt.BatchBytes = 1 // one file per batch
		}
		st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt)
		if err != nil {
			t.Fatalf("run after %d files: %v", revealed, err)
		}
		tbl := s.check(t, cat, revealed, fmt.Sprintf("after %d of %d files (stats %+v)", revealed, len(s.files), st))
		check(t, tbl)
		if opt.WriteMode == merge.MergeOnRead {
			// Merge-on-read never rewrites a data file: it only adds
			// data files and delete files.
			for _, snap := range tbl.Metadata().Snapshots() {
				if snap.Summary.Properties["cdcmerge.files"] == "" {
					continue // a compaction, not a merge
				}
				if v := snap.Summary.Properties["deleted-data-files"]; v != "" && v != "0" {
					t.Fatalf("merge-on-read snapshot %d removed %s data files", snap.SnapshotID, v)
				}
			}
		}
		if want := s.files[revealed-1].name; st.Checkpoint.CDCLast != want && st.Checkpoint.LoadLast != want {
			t.Fatalf("checkpoint %+v does not name the last file %s", st.Checkpoint, want)
		}
		// Maintenance interleaved at random: compaction folds delete
		// files and small files together, expiry drops old
		// snapshots; the table and its checkpoint must survive both.
		if r.Intn(3) == 0 {
			// Sorted or not, with or without a memory budget; under
			// the tiny one a sorted compaction spills every batch it
			// reads and merges the runs.
			copt := merge.CompactOptions{TargetFileSize: 1 << 20, MinInputFiles: 2, SortByKey: r.Intn(2) == 0, Memory: []int64{0, 1 << 10, 1 << 10}[r.Intn(3)], TempDir: spill}
			res, err := merge.Compact(ctx, tbl, copt)
			if err != nil {
				t.Fatalf("compact: %v", err)
			}
			tbl, _ = cat.LoadTable(ctx, ident)
			if copt.SortByKey && res.RemovedDataFiles > 0 {
				checkSortedCompaction(t, tbl, s.key)
			}
			if left, err := os.ReadDir(spill); err != nil || len(left) != 0 {
				t.Fatalf("%d entries left in the spill directory after a compaction (%v)", len(left), err)
			}
			if r.Intn(2) == 0 {
				if err := merge.Expire(ctx, tbl, 0, 1); err != nil {
					t.Fatalf("expire: %v", err)
				}
				tbl, _ = cat.LoadTable(ctx, ident)
				if _, err := merge.CleanOrphans(ctx, tbl, 0, false); err != nil {
					t.Fatalf("clean orphans: %v", err)
				}
			}
			tbl = s.check(t, cat, revealed, fmt.Sprintf("after maintenance, %d files", revealed))
			check(t, tbl)
		}
		// A rerun with nothing new must change nothing.
		before := tbl.CurrentSnapshot().SnapshotID
		st2, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt)
		if err != nil {
			t.Fatal(err)
		}
		tbl2, _ := cat.LoadTable(ctx, ident)
		if st2.Commits != 0 || tbl2.CurrentSnapshot().SnapshotID != before {
			t.Fatalf("rerun committed: %+v", st2)
		}
	}
	// A full compaction folds every delete file away, in every mode.
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{TargetFileSize: 1 << 20, MinInputFiles: 1}); err != nil {
		t.Fatalf("final compact: %v", err)
	}
	tbl = s.check(t, cat, len(s.files), "after the final compaction")
	check(t, tbl)
	if live, err := merge.LiveDeleteFiles(ctx, tbl); err != nil || len(live) != 0 {
		t.Fatalf("after a full compaction %d delete files are left (%v)", len(live), err)
	}
}

// checkDeleteFiles checks that a table holds only the delete files its
// mode writes: none for copy-on-write, position delete files on v2,
// deletion vectors on v3 (at most one per data file), equality delete
// files for the equality strategy.
func checkDeleteFiles(t *testing.T, tbl *table.Table, mm modelMode) {
	t.Helper()
	live, err := merge.LiveDeleteFiles(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	perData := map[string]int{}
	for _, f := range live {
		var ok bool
		switch {
		case mm.opt.WriteMode == merge.CopyOnWrite:
		case mm.opt.DeleteStrategy == merge.DeleteEquality:
			ok = f.ContentType() == iceberg.EntryContentEqDeletes
		case mm.opt.FormatVersion == 3 && table.IsDeletionVector(f):
			ok = true
			perData[*f.ReferencedDataFile()]++
		case mm.opt.FormatVersion == 3:
			ok = mm.upgraded && f.ContentType() == iceberg.EntryContentPosDeletes
		default:
			ok = f.ContentType() == iceberg.EntryContentPosDeletes && !table.IsDeletionVector(f)
		}
		if !ok {
			t.Fatalf("mode %s: unexpected delete file %s (content %s, format %s)", mm.name, f.FilePath(), f.ContentType(), f.FileFormat())
		}
	}
	for data, n := range perData {
		if n > 1 {
			t.Fatalf("data file %s has %d live deletion vectors; the spec allows one", data, n)
		}
	}
}
