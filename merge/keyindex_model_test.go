package merge_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// keyIndexFiles lists the key index files under the table's location (a
// local warehouse).
func keyIndexFiles(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	var out []string
	root := strings.TrimPrefix(tbl.Location(), "file://")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".keyidx") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// indexedCount sums the "indexed" field (candidates answered by a key
// index) of the debug log's committed batches.
func indexedCount(t *testing.T, logs string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, `"batch committed"`) {
			continue
		}
		var line struct {
			Indexed int `json:"indexed"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		n += line.Indexed
	}
	return n
}

// TestModelKeyIndexDamaged runs the model test in the merge-on-read modes
// that read key indexes (position deletes, deletion vectors) and, after
// every run and maintenance step, damages the table's key indexes at
// random: deletes them, flips a byte, cuts them short, or puts another
// data file's index in their place. Every run must still leave the table
// equal to the model (a damaged index is refused and the file scanned),
// and the runs must have found rows through indexes.
func TestModelKeyIndexDamaged(t *testing.T) {
	var mu sync.Mutex
	seen, used := 0, 0
	t.Run("seeds", func(t *testing.T) {
		for _, mm := range modelModes()[1:3] {
			for seed := range 8 {
				t.Run(fmt.Sprintf("%s/seed%d", mm.name, seed), func(t *testing.T) {
					t.Parallel()
					r := rand.New(rand.NewSource(int64(100 + seed)))
					s := newStream(r, false)
					logs := &syncBuffer{}
					mm.opt.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
					damage := rand.New(rand.NewSource(int64(seed)))
					runModel(t, r, s, mm, nil, func(t *testing.T, tbl *table.Table) {
						checkDeleteFiles(t, tbl, mm)
						files := keyIndexFiles(t, tbl)
						mu.Lock()
						seen += len(files)
						mu.Unlock()
						content := make([][]byte, len(files))
						for i, f := range files {
							var err error
							if content[i], err = os.ReadFile(f); err != nil {
								t.Fatal(err)
							}
						}
						for i, f := range files {
							damageKeyIndex(t, damage, f, content[i], content)
						}
					})
					mu.Lock()
					used += indexedCount(t, logs.String())
					mu.Unlock()
				})
			}
		}
	})
	if !t.Failed() && (seen == 0 || used == 0) {
		t.Fatalf("%d key index files seen after runs, %d candidates answered by one: the test needs both", seen, used)
	}
}

// damageKeyIndex leaves the index at f (content b) alone or damages it,
// at random; all is the content of every index of the table.
func damageKeyIndex(t *testing.T, r *rand.Rand, f string, b []byte, all [][]byte) {
	t.Helper()
	if len(b) < 56 {
		return // cut short by an earlier step and not rewritten since
	}
	b = slices.Clone(b)
	var err error
	switch r.Intn(8) {
	case 0:
		err = os.Remove(f)
	case 1, 2:
		// A byte of the packed keys and positions (between the 56-byte
		// header with its 12-byte directory entries and the 9 padding
		// bytes before the checksum), where a change not refused would
		// give wrong rows; else any byte.
		at := r.Intn(len(b))
		if nb := int(binary.LittleEndian.Uint32(b[32:])); r.Intn(4) > 0 && len(b)-13 > 56+12*nb {
			at = 56 + 12*nb + r.Intn(len(b)-13-56-12*nb)
		}
		b[at] ^= byte(1 + r.Intn(255))
		err = os.WriteFile(f, b, 0o644)
	case 3:
		err = os.WriteFile(f, b[:r.Intn(len(b))], 0o644)
	case 4:
		err = os.WriteFile(f, all[r.Intn(len(all))], 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestCleanOrphansKeyIndexes: clean-orphans keeps the key indexes of live
// data files (and status's orphan list does not show them), and removes
// those of data files the table no longer references once their snapshots
// are expired, those whose data file is gone, and a temporary file an
// index write left.
func TestCleanOrphansKeyIndexes(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewSource(3))
	s := newStream(r, false)
	for len(s.files) < 8 {
		s = newStream(r, false)
	}
	src, cat, ident := stage(t, s)
	opt := merge.Options{Key: s.key, WriteMode: merge.MergeOnRead, BatchFiles: 1}
	run := func() *table.Table { return runAndCheck(ctx, t, cat, src, s, opt) }
	tbl := run()
	live := liveDataFiles(t, tbl)
	indexes := keyIndexFiles(t, tbl)
	if len(indexes) == 0 {
		t.Fatal("no key index written; the test needs some")
	}
	for _, f := range indexes {
		if !live[dataFileOf(f)] {
			t.Fatalf("index %s of a data file the table does not hold", f)
		}
	}
	// Planted: the index of a data file that is gone, and a temporary
	// file of an index write that died.
	gone := filepath.Join(filepath.Dir(indexes[0]), "gone.parquet.k2.keyidx")
	tmp := indexes[0] + ".tmp-1234"
	for _, p := range []string{gone, tmp} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orphans, err := merge.CleanOrphans(ctx, tbl, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(orphans)
	if want := slices.Sorted(slices.Values([]string{gone, tmp})); !slices.Equal(orphans, want) {
		t.Fatalf("orphans %v, want %v", orphans, want)
	}
	// Compaction replaces every data file; after expiry the old ones and
	// their indexes are orphans, and the new files' indexes are not.
	if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1}); err != nil {
		t.Fatal(err)
	}
	tbl, _ = cat.LoadTable(ctx, ident)
	if err := merge.Expire(ctx, tbl, 0, 1); err != nil {
		t.Fatal(err)
	}
	tbl, _ = cat.LoadTable(ctx, ident)
	s.files = append(s.files, modelFile{name: "20270101-000000000.parquet", rows: [][]any{
		append([]any{"U", "2027-01-01 00:00:00.000000", s.files[len(s.files)-1].rows[0][2]}, make([]any, len(valueCols))...)}})
	s.write(t, src.Root, s.files[len(s.files)-1])
	tbl = run() // writes the new files' indexes
	checkRows(t, tbl, s)
	live = liveDataFiles(t, tbl)
	before := keyIndexFiles(t, tbl)
	var keep, drop []string
	for _, f := range before {
		if live[dataFileOf(f)] {
			keep = append(keep, f)
		} else {
			drop = append(drop, f)
		}
	}
	if len(keep) == 0 || len(drop) == 0 {
		t.Fatalf("%d indexes of live and %d of dead data files; the test needs both", len(keep), len(drop))
	}
	time.Sleep(10 * time.Millisecond) // files are orphans once older than the age margin
	deleted, err := merge.CleanOrphans(ctx, tbl, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(drop, gone, tmp) {
		if !slices.Contains(deleted, f) {
			t.Errorf("%s not deleted (deleted: %v)", f, deleted)
		}
	}
	after := keyIndexFiles(t, tbl)
	slices.Sort(keep)
	if !slices.Equal(after, keep) {
		t.Fatalf("indexes left %v, want those of live data files %v", after, keep)
	}
	checkRows(t, tbl, s)
}

// runAndCheck runs the engine on the files of s in src and checks that the
// table equals the model of all of them.
func runAndCheck(ctx context.Context, t *testing.T, cat icecat.Catalog, src reader.Source, s modelStream, opt merge.Options) *table.Table {
	t.Helper()
	ident := []string{s.schema, s.table}
	if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, tbl, s)
	return tbl
}

// liveDataFiles is the set of data file paths (local, without a scheme)
// of the table's current snapshot.
func liveDataFiles(t *testing.T, tbl *table.Table) map[string]bool {
	t.Helper()
	tasks, err := tbl.Scan().PlanFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, task := range tasks {
		out[strings.TrimPrefix(task.File.FilePath(), "file://")] = true
	}
	return out
}

// dataFileOf is the data file of the key index at path.
func dataFileOf(path string) string {
	s := strings.TrimSuffix(path, ".keyidx")
	return s[:strings.LastIndex(s, ".k")]
}
