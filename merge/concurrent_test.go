package merge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestConcurrentWriters runs two writers, each with its own catalog
// connection (as two scheduled tasks would), on the same table at once,
// round after round as files arrive, and checks the table against the
// model after every round: nothing lost, nothing applied twice.
func TestConcurrentWriters(t *testing.T) {
	for seed := 0; seed < 4; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewSource(int64(100 + seed)))
			s := newStream(r, seed%2 == 1)
			for len(s.files) < 8 {
				s = newStream(r, seed%2 == 1)
			}
			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			wh := filepath.Join(root, "wh")
			ident := []string{s.schema, s.table}
			revealed := 0
			var commits int
			logs := &syncBuffer{}
			for revealed < len(s.files) {
				for i := 0; i < 1+r.Intn(4) && revealed < len(s.files); i++ {
					s.write(t, src.Root, s.files[revealed])
					revealed++
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				stats := make([]merge.Stats, 2)
				for w := 0; w < 2; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						cat, err := catalog.Open(ctx, catalog.Config{Warehouse: wh})
						if err != nil {
							errs[w] = err
							return
						}
						stats[w], errs[w] = merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident,
							merge.Options{Key: s.key, BatchFiles: 1 + w, Log: slog.New(slog.NewTextHandler(logs, nil))})
					}(w)
				}
				wg.Wait()
				for w, err := range errs {
					if err != nil {
						t.Fatalf("writer %d: %v", w, err)
					}
				}
				commits += stats[0].Commits + stats[1].Commits
				cat := openCatalog(t, wh)
				tbl, err := cat.LoadTable(ctx, ident)
				if err != nil {
					t.Fatal(err)
				}
				got, err := testutil.ReadTable(ctx, tbl, s.key)
				if err != nil {
					t.Fatal(err)
				}
				if d := testutil.Diff(s.replay(revealed), got, 10); d != "" {
					t.Fatalf("after %d files:\n%s", revealed, d)
				}
				cp, _ := catalog.CheckpointOf(tbl)
				if last := s.files[revealed-1].name; cp.CDCLast != last && cp.LoadLast != last {
					t.Fatalf("checkpoint %+v, want %s", cp, last)
				}
			}
			if commits == 0 {
				t.Fatal("no commits counted")
			}
			t.Logf("%d commits, %d re-plans after conflicts", commits, strings.Count(logs.String(), "re-planning"))
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withHook installs a fault hook for the test.
func withHook(t *testing.T, h func(point string) error) {
	t.Helper()
	fault.Hook = h
	t.Cleanup(func() { fault.Hook = nil })
}

// TestCommitOutcomes covers a commit whose reply is lost (it happened) and
// a commit that fails with the table unchanged (it is retried), and checks
// the result is the same as an undisturbed run, applied once.
func TestCommitOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		point string
		times int
	}{
		{"reply lost", fault.AfterCommitReply, 1},
		{"transient failure", fault.Commit, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStream(rand.New(rand.NewSource(7)), false)
			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			for _, f := range s.files {
				s.write(t, src.Root, f)
			}
			left := tc.times
			withHook(t, func(p string) error {
				if p == tc.point && left > 0 {
					left--
					return errors.New("injected: " + p)
				}
				return nil
			})
			cat := openCatalog(t, filepath.Join(root, "wh"))
			ident := []string{s.schema, s.table}
			st, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, merge.Options{Key: s.key, BatchFiles: 2})
			if err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Fatalf("fault point %s not reached", tc.point)
			}
			tbl, _ := cat.LoadTable(ctx, ident)
			got, err := testutil.ReadTable(ctx, tbl, s.key)
			if err != nil {
				t.Fatal(err)
			}
			if d := testutil.Diff(s.replay(len(s.files)), got, 10); d != "" {
				t.Fatalf("table differs from the model:\n%s", d)
			}
			if want := (len(s.files) + 1) / 2; st.Commits != want {
				t.Fatalf("%d commits counted, want %d (one per batch, none twice)", st.Commits, want)
			}
			n := 0
			for range tbl.Metadata().Snapshots() {
				n++
			}
			if n != (len(s.files)+1)/2 {
				t.Fatalf("%d snapshots, want %d", n, (len(s.files)+1)/2)
			}
		})
	}
}

// TestConflictReplans makes a second writer commit while the first is just
// before its commit, so the first must find the conflict, re-plan and
// still leave the table equal to the model.
func TestConflictReplans(t *testing.T) {
	for _, otherBatch := range []int{1, 100} {
		t.Run(fmt.Sprintf("other-batch-files=%d", otherBatch), func(t *testing.T) {
			ctx := context.Background()
			s := newStream(rand.New(rand.NewSource(9)), true)
			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			for _, f := range s.files {
				s.write(t, src.Root, f)
			}
			wh := filepath.Join(root, "wh")
			ident := []string{s.schema, s.table}
			tf := tableFiles(t, src, s.schema+"."+s.table)
			interfered := false
			withHook(t, func(p string) error {
				if p != fault.BeforeCommit || interfered {
					return nil
				}
				interfered = true
				other := openCatalog(t, wh)
				if _, err := merge.Table(ctx, other, src, tf, ident, merge.Options{Key: s.key, BatchFiles: otherBatch}); err != nil {
					t.Errorf("interfering writer: %v", err)
				}
				return nil
			})
			logs := &syncBuffer{}
			cat := openCatalog(t, wh)
			if _, err := merge.Table(ctx, cat, src, tf, ident, merge.Options{Key: s.key, BatchFiles: 2, Log: slog.New(slog.NewTextHandler(logs, nil))}); err != nil {
				t.Fatal(err)
			}
			if !interfered || !strings.Contains(logs.String(), "re-planning") {
				t.Fatalf("no conflict was provoked: %s", logs.String())
			}
			s.check(t, cat, len(s.files), "table differs from the model")
		})
	}
}

// TestMaintenanceRaces: a compaction that commits while a run is about to
// commit makes the run re-plan; a compaction planned on a table a run has
// since committed to fails without touching it. Either way nothing is lost,
// in every write mode and delete strategy.
func TestMaintenanceRaces(t *testing.T) {
	for _, mm := range modelModes() {
		t.Run(mm.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStream(rand.New(rand.NewSource(21)), false)
			root := t.TempDir()
			src := reader.DirSource{Root: filepath.Join(root, "dms")}
			half := len(s.files) / 2
			for _, f := range s.files[:half] {
				s.write(t, src.Root, f)
			}
			wh := filepath.Join(root, "wh")
			ident := []string{s.schema, s.table}
			cat := openCatalog(t, wh)
			opt := mm.opt
			opt.Key, opt.BatchFiles = s.key, 1
			if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); err != nil {
				t.Fatal(err)
			}
			stale, _ := cat.LoadTable(ctx, ident)
			for _, f := range s.files[half:] {
				s.write(t, src.Root, f)
			}
			compacted := false
			withHook(t, func(p string) error {
				if p != fault.BeforeCommit || compacted {
					return nil
				}
				compacted = true
				tbl, _ := openCatalog(t, wh).LoadTable(ctx, ident)
				if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{TargetFileSize: 1 << 20, MinInputFiles: 2}); err != nil {
					t.Errorf("compaction during the run: %v", err)
				}
				return nil
			})
			if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); err != nil {
				t.Fatal(err)
			}
			if !compacted {
				t.Fatal("the compaction never ran")
			}
			// The stale handle predates both commits: its compaction must fail.
			if _, err := merge.Compact(ctx, stale, merge.CompactOptions{TargetFileSize: 1 << 20, MinInputFiles: 2}); err == nil {
				t.Log("compaction on a stale table found nothing to do or succeeded; checking the rows anyway")
			}
			s.check(t, cat, len(s.files), "table differs from the model")
		})
	}
}
