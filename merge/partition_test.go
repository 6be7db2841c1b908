package merge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

func mustPartition(t testing.TB, s string) []merge.PartitionField {
	t.Helper()
	p, err := merge.ParsePartition(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestModelPartitioned runs the model test on partitioned tables, in both
// write modes, with every supported transform: partitions on value columns
// (rows move between partitions when an update changes the value, and
// key-only deletes carry no partition value) and on key columns.
func TestModelPartitioned(t *testing.T) {
	specs := []struct {
		spec      string
		composite bool
	}{
		{"v_bool", false},                 // identity on a value column
		{"day(v_ts)", false},              // rows move between days
		{"month(v_ts)", false},            //
		{"hour(v_ts)", false},             // many small partitions
		{"bucket(4, id)", false},          // the key decides the partition
		{"truncate(5, v_str)", false},     //
		{"bucket(3,id),day(v_ts)", false}, // two fields
		{"k2", true},                      // identity on a key column
		{"truncate(1, k1),bucket(2, k2)", true},
	}
	seeds := 2
	if testing.Short() {
		seeds = 1
	}
	for _, sp := range specs {
		for _, mm := range partitionModes() {
			for seed := 0; seed < seeds; seed++ {
				t.Run(fmt.Sprintf("%s/%s/seed%d", sp.spec, mm.name, seed), func(t *testing.T) {
					t.Parallel()
					r := rand.New(rand.NewSource(int64(100 + seed)))
					s := newStream(r, sp.composite)
					runModel(t, r, s, mm, mustPartition(t, sp.spec), checkPartitions)
				})
			}
		}
	}
}

// partitionModes are the model modes a partitioned table runs in: equality
// deletes are refused on tables partitioned by a column outside the key.
func partitionModes() []modelMode {
	var out []modelMode
	for _, mm := range modelModes() {
		if mm.opt.DeleteStrategy != merge.DeleteEquality {
			out = append(out, mm)
		}
	}
	return out
}

// checkPartitions checks that the table is partitioned as its spec says:
// every live row of a data file maps to the file's partition value (so
// writes fan out by partition and compaction never mixes partitions), and
// every position delete file has the partition and spec of the data file
// it applies to.
func checkPartitions(t *testing.T, tbl *table.Table) {
	t.Helper()
	ctx := context.Background()
	spec := tbl.Spec()
	if spec.IsUnpartitioned() {
		t.Fatal("the table is not partitioned")
	}
	scan := tbl.Scan()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := tbl.Schema()
	for _, task := range tasks {
		part := task.File.Partition()
		for _, del := range append(task.DeleteFiles, task.DeletionVectorFiles...) {
			if del.SpecID() != task.File.SpecID() || fmt.Sprint(del.Partition()) != fmt.Sprint(part) {
				t.Fatalf("delete file %s has partition %v (spec %d) but its data file %s has %v (spec %d)",
					del.FilePath(), del.Partition(), del.SpecID(), task.File.FilePath(), part, task.File.SpecID())
			}
		}
		_, recs, err := scan.ReadTasks(ctx, []table.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			for _, pf := range spec.Fields() {
				name, _ := sc.FindColumnName(pf.SourceID())
				col := rec.Column(rec.Schema().FieldIndices(name)[0])
				want := fmt.Sprint(part[pf.FieldID])
				for i := 0; i < col.Len(); i++ {
					got := pf.Transform.Apply(literalAt(t, col, i))
					g := "<nil>"
					if got.Valid {
						g = fmt.Sprint(got.Val.Any())
					}
					if g != want {
						t.Fatalf("data file %s is in partition %s=%s but row %d has %s=%s, which maps to %s",
							task.File.FilePath(), pf.Name, want, i, name, col.ValueStr(i), g)
					}
				}
			}
			rec.Release()
		}
	}
}

func literalAt(t *testing.T, col arrow.Array, i int) iceberg.Optional[iceberg.Literal] {
	if col.IsNull(i) {
		return iceberg.Optional[iceberg.Literal]{}
	}
	var lit iceberg.Literal
	switch c := col.(type) {
	case *array.Int64:
		lit = iceberg.NewLiteral(c.Value(i))
	case *array.Int32:
		lit = iceberg.NewLiteral(c.Value(i))
	case *array.String:
		lit = iceberg.NewLiteral(c.Value(i))
	case *array.Boolean:
		lit = iceberg.NewLiteral(c.Value(i))
	case *array.Timestamp:
		lit = iceberg.NewLiteral(iceberg.Timestamp(c.Value(i)))
	default:
		t.Fatalf("no literal for %s", col.DataType())
	}
	return iceberg.Optional[iceberg.Literal]{Val: lit, Valid: true}
}

func TestParsePartition(t *testing.T) {
	got, err := merge.ParsePartition("day(updated_at), bucket(16,order_id),customer_id, truncate( 4 , name),month(x),hour(x),year(x)")
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := "day(updated_at) bucket(16, order_id) customer_id truncate(4, name) month(x) hour(x) year(x)"
	if strings.Join(s, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(s, " "), want)
	}
	for in, msg := range map[string]string{
		"week(x)":         `unknown transform "week"`,
		"bucket(x)":       "bucket takes a number and a column",
		"bucket(0, x)":    "positive number",
		"truncate(a, x)":  "positive number",
		"day(x":           "missing closing parenthesis",
		"day()":           "day takes one column",
		"a,,b":            `partition field ""`,
		"day(a, b)":       "day takes one column",
		"bucket(4, a, b)": "bucket takes a number and a column",
	} {
		_, err := merge.ParsePartition(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want an error with %q", in, err, msg)
		}
	}
}

// TestPartitionErrors checks that a partition spec the table's columns
// cannot take fails before the table is created, naming the table, the
// field and the problem, and that an existing table's partitioning cannot
// be changed by a run.
func TestPartitionErrors(t *testing.T) {
	ctx := context.Background()
	s := newStream(rand.New(rand.NewSource(1)), false)
	src, cat, ident := stage(t, s)
	tf := tableFiles(t, src, s.schema+"."+s.table)
	for spec, msg := range map[string]string{
		"day(nope)":         `column "nope" is not in the table; columns are commit_ts, id,`,
		"day(commit_ts)":    "day cannot be applied to column commit_ts of type string",
		"hour(v_int)":       "hour cannot be applied to column v_int of type int",
		"truncate(2, v_ts)": "truncate cannot be applied to column v_ts of type timestamp",
		"bucket(2, v_f64)":  "bucket cannot be applied to column v_f64 of type double",
		"v_int,v_int":       "partition field v_int is given twice",
	} {
		_, err := merge.Table(ctx, cat, src, tf, ident, merge.Options{Key: s.key, Partition: mustPartition(t, spec)})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "table db.single") {
			t.Errorf("%s: got %v, want an error naming the table with %q", spec, err, msg)
		}
		if tbl, _ := cat.LoadTable(ctx, ident); tbl != nil {
			t.Fatalf("%s: the table was created", spec)
		}
	}
	if _, err := merge.Table(ctx, cat, src, tf, ident, merge.Options{Key: s.key, Partition: mustPartition(t, "bucket(4, ID)")}); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if spec := tbl.Spec(); spec.NumFields() != 1 || spec.Field(0).Name != "id_bucket" {
		t.Fatalf("spec %v", spec)
	}
	// The same spec (column case aside) is fine; another one is not.
	if _, err := merge.Table(ctx, cat, src, tf, ident, merge.Options{Key: s.key, Partition: mustPartition(t, "bucket(4,id)")}); err != nil {
		t.Fatal(err)
	}
	_, err = merge.Table(ctx, cat, src, tf, ident, merge.Options{Key: s.key, Partition: mustPartition(t, "bucket(8, id)")})
	if err == nil || !strings.Contains(err.Error(), "is partitioned by (bucket(4, id)) but the config asks for (bucket(8, id))") {
		t.Fatalf("got %v", err)
	}
}

// TestPartitionWriteLosesNoRows: a partition whose file cannot be written
// (here a NUL byte in an identity partition value, which a local file
// system refuses in a path) must fail the batch. iceberg-go v0.7.0's
// fanout writer sometimes drops such a partition without an error; the
// writer's row count check catches it, so the rows are never lost
// silently and the table is left as it was.
func TestPartitionWriteLosesNoRows(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewSource(1))
	s := newStream(r, true)
	s.files = []modelFile{{name: "LOAD00000001.parquet", load: true}}
	for i, k1 := range []string{"a", "b", "d\x00e", "c"} {
		rw := []any{"2026-05-10 09:00:00.000000", k1, int32(i)}
		for _, f := range valueCols {
			rw = append(rw, randomValue(r, f))
		}
		s.files[0].rows = append(s.files[0].rows, rw)
	}
	for try := 0; try < 5; try++ {
		root := t.TempDir()
		src := reader.DirSource{Root: filepath.Join(root, "dms")}
		s.write(t, src.Root, s.files[0])
		cat := openCatalog(t, filepath.Join(root, "wh"))
		ident := []string{s.schema, s.table}
		_, err := merge.Table(ctx, cat, src, tableFiles(t, src, "db.composite"), ident, merge.Options{Key: s.key, Partition: mustPartition(t, "k1")})
		if err == nil {
			t.Fatal("a partition that cannot be written was not reported")
		}
		if tbl, _ := cat.LoadTable(ctx, ident); tbl != nil && tbl.CurrentSnapshot() != nil {
			t.Fatalf("a snapshot was committed: %v", tbl.CurrentSnapshot())
		}
	}
}

// TestKeyPartitionPruning: when a partition field is derived from the key
// alone (bucket, identity or truncate of a key column), a batch reads the
// keys of the files of its keys' partitions only; partitions on other
// columns prune nothing. The rows are checked by the model test.
func TestKeyPartitionPruning(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		prune bool
	}{
		{"bucket(8, id)", true},
		{"truncate(10, id)", true},
		{"id", true},
		{"bucket(8, id),v_bool", true},
		{"v_bool", false},
	} {
		for _, mode := range []string{merge.CopyOnWrite, merge.MergeOnRead} {
			t.Run(tc.spec+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				r := rand.New(rand.NewSource(3))
				s := newStream(r, false)
				load := modelFile{name: "LOAD00000001.parquet", load: true}
				for id := int64(0); id < 200; id++ {
					rw := []any{"2026-05-10 09:00:00.000000", id}
					for _, f := range valueCols {
						rw = append(rw, randomValue(r, f))
					}
					load.rows = append(load.rows, rw)
				}
				// One update and one key-only delete.
				cdc := modelFile{name: "20260510-100000000.parquet", rows: [][]any{
					append([]any{"U", "2026-05-10 10:00:00.000000", int64(7)}, load.rows[7][2:]...),
					{"D", "2026-05-10 10:00:01.000000", int64(150), nil, nil, nil, nil, nil, nil},
				}}
				s.files = []modelFile{load, cdc}
				root := t.TempDir()
				src := reader.DirSource{Root: filepath.Join(root, "dms")}
				cat := openCatalog(t, filepath.Join(root, "wh"))
				ident := []string{s.schema, s.table}
				var logs bytes.Buffer
				opt := merge.Options{Key: s.key, WriteMode: mode, Partition: mustPartition(t, tc.spec),
					Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
				for _, f := range s.files {
					s.write(t, src.Root, f)
					logs.Reset()
					if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, "db.single"), ident, opt); err != nil {
						t.Fatal(err)
					}
				}
				var line struct {
					Candidates int `json:"candidates"`
					DataFiles  int `json:"data_files"`
				}
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, `"batch committed"`) {
						if err := json.Unmarshal([]byte(l), &line); err != nil {
							t.Fatal(err)
						}
					}
				}
				if line.DataFiles < 3 {
					t.Fatalf("%d data files; the test needs several partitions", line.DataFiles)
				}
				// Pruned: at most the files of the two keys' partitions
				// (bucket x v_bool: 3 files each), a quarter of all.
				if tc.prune && line.Candidates*4 > line.DataFiles || !tc.prune && line.Candidates != line.DataFiles {
					t.Fatalf("read the keys of %d of %d data files (prune=%v)", line.Candidates, line.DataFiles, tc.prune)
				}
				tbl, _ := cat.LoadTable(ctx, ident)
				checkRows(t, tbl, s)
				checkPartitions(t, tbl)
			})
		}
	}
}

// stage writes every file of s into a fresh source folder, and opens a
// fresh catalog for its table.
func stage(t *testing.T, s modelStream) (reader.DirSource, icecat.Catalog, []string) {
	t.Helper()
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	for _, f := range s.files {
		s.write(t, src.Root, f)
	}
	return src, openCatalog(t, filepath.Join(root, "wh")), []string{s.schema, s.table}
}
