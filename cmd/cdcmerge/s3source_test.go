package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/reader"
)

// sharedModel replays, per table, the full load and the table's rows of
// the first n shared CDC files, naively.
func sharedModel(t *testing.T, cfg gen.Config, files []gen.SharedFile, name string, n int) testutil.Rows {
	t.Helper()
	m := modelOf(t, cfg, name)
	state := m.replay(0)
	for _, f := range files[:n] {
		for _, r := range f.Rows {
			if r.Table == name {
				m.apply(state, r.Row.Op, r.Row.Values)
			}
		}
	}
	return state
}

// crashAfterCommits makes the in-process run "die" at the n-th commit of
// the run: that commit lands, and every later step of every table fails,
// as if the process had been killed there.
func crashAfterCommits(n int) (crashed func() bool) {
	hits, dead := 0, false
	fault.Hook = func(point string) error {
		if dead {
			return errors.New("injected crash: process gone")
		}
		if point == fault.AfterCommit {
			if hits++; hits == n {
				dead = true
				return errors.New("injected crash after a commit")
			}
		}
		return nil
	}
	return func() bool { return dead }
}

// TestRunS3SourceModel: random multi-table streams in the S3-source layout
// (LOAD001.csv per table, shared CDC00001.csv or CDC_TXN-*.csv files with
// rows of both tables; ties, repeated keys, key-only deletes, deletes and
// updates of absent keys) revealed over several runs with random batchings
// and crashes between one table's commit and the next table's; after every
// run each table equals a naive replay of its own rows.
func TestRunS3SourceModel(t *testing.T) {
	t.Cleanup(func() { fault.Hook = nil })
	tables := []string{"shop.orders", "shop.order_items"}
	splitCrashes := 0
	for seed := 0; seed < 10; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(int64(seed)))
			cfg := gen.Config{Tables: tables, Seed: int64(seed + 10), Rows: []int{-1, 5, 40}[r.Intn(3)], Changes: 20 + r.Intn(120),
				LoadFiles: 1 + r.Intn(2), CDCFiles: 3 + r.Intn(10), TieFrac: 0.1 + 0.6*r.Float64(), KeyOnlyDeleteFrac: 0.5, AbsentFrac: 0.1}
			opt := gen.S3SourceOptions{CDCPath: []string{"cdc", "changes/all"}[r.Intn(2)], PreserveTransactions: r.Intn(2) == 0, LoadOp: r.Intn(2) == 0}
			csvOpt := gen.CSVOptions{OpWords: r.Intn(2) == 0, Gzip: r.Intn(3) == 0}
			dir := t.TempDir()
			stage := filepath.Join(dir, "stage")
			if _, err := gen.GenerateS3Source(context.Background(), gen.DirSink(stage), cfg, csvOpt, opt); err != nil {
				t.Fatal(err)
			}
			files, err := gen.SharedChanges(cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			def := filepath.Join(dir, "def.json")
			f, err := os.Create(def)
			if err != nil {
				t.Fatal(err)
			}
			if err := gen.WriteTableDefinition(f, tables); err != nil {
				t.Fatal(err)
			}
			f.Close()
			src, wh := filepath.Join(dir, "src"), filepath.Join(dir, "wh")
			// The full load first, then the shared files a few at a time.
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, tb := range tables {
				rel := filepath.FromSlash(strings.ReplaceAll(tb, ".", "/"))
				if _, err := os.Stat(filepath.Join(stage, rel)); err == nil {
					copyTree(t, filepath.Join(stage, rel), filepath.Join(src, rel))
				}
			}
			ext := ".csv"
			if csvOpt.Gzip {
				ext = ".csv.gz"
			}
			mode := []string{"copy-on-write", "merge-on-read"}[seed%2]
			revealed := 0
			for revealed < len(files) {
				revealed = min(len(files), revealed+r.Intn(4))
				for _, sf := range files[:revealed] {
					rel := opt.CDCPath + "/" + strings.TrimSuffix(sf.Name, ".csv") + ext
					if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
						b, err := os.ReadFile(filepath.Join(stage, rel))
						if err != nil {
							t.Fatal(err)
						}
						writeFile(t, src, rel, b)
					}
				}
				args := []string{"run", "--source", src, "--warehouse", wh, "--table-definition", def, "--log-level", "warn",
					"--batch-files", itoa(1 + r.Intn(4)), "--write-mode", mode}
				if r.Intn(2) == 0 {
					args = append(args, "--cdc-path", opt.CDCPath)
				}
				if r.Intn(3) == 0 {
					crashed := crashAfterCommits(1 + r.Intn(3))
					code, out, errs := cli(t, args...)
					fault.Hook = nil
					if crashed() {
						if code != 1 {
							t.Fatalf("crashed run: exit %d\n%s\n%s", code, out, errs)
						}
						var cps [2]string
						for i, tb := range tables {
							if loadTable(t, wh, tb) != nil {
								cp := stateOf(t, wh, tb).checkpoint
								cps[i] = cp.LoadLast + "/" + cp.CDCLast
							}
						}
						if cps[0] != cps[1] {
							splitCrashes++
						}
					} else if code != 0 {
						t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
					}
				}
				out := mustCLI(t, args...)
				for _, tb := range tables {
					key := ordersKey
					if tb == "shop.order_items" {
						key = itemsKey
					}
					want := sharedModel(t, cfg, files, tb, revealed)
					if len(want) == 0 && loadTable(t, wh, tb) == nil {
						continue // nothing to create the table from yet
					}
					if d := testutil.Diff(want, rowsOf(t, wh, tb, key), 10); d != "" {
						t.Fatalf("%s after %d of %d shared files:\n%s\nrun output:\n%s", tb, revealed, len(files), d, out)
					}
					if cp := stateOf(t, wh, tb).checkpoint; revealed > 0 && !strings.HasPrefix(cp.CDCLast, strings.TrimSuffix(files[revealed-1].Name, ".csv")) {
						t.Fatalf("%s: checkpoint %+v, want the last shared file %s", tb, cp, files[revealed-1].Name)
					}
				}
			}
		})
	}
	t.Logf("crashes leaving tables at different checkpoints: %d", splitCrashes)
	if splitCrashes == 0 {
		t.Fatal("no crash left the two tables at different checkpoints: the crash case was not exercised")
	}
}

// TestRunS3SourceTables: `gen --layout s3-source` writes the layout; rows of
// a table with no definition fail that table with an error naming the
// file, row and table while the others are merged; --tables leaves them
// out silently; each shared file is read once per run.
func TestRunS3SourceTables(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	def := filepath.Join(dir, "def.json")
	mustCLI(t, "gen", "--out", src, "--format", "csv", "--layout", "s3-source", "--definition-out", def,
		"--tables", "shop.orders,shop.order_items,other.orders", "--rows", "30", "--changes", "60", "--cdc-files", "4")
	// A definition of the shop tables only; other.orders has rows in the
	// shared files and nothing else.
	f, err := os.Create(def)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteTableDefinition(f, []string{"shop.orders", "shop.order_items"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.RemoveAll(filepath.Join(src, "other")); err != nil {
		t.Fatal(err)
	}
	cfg := gen.Config{Tables: []string{"shop.orders", "shop.order_items", "other.orders"}, Rows: 30, Changes: 60, CDCFiles: 4, Seed: 1}
	files, err := gen.SharedChanges(cfg, gen.S3SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	firstOther := ""
	for _, sf := range files {
		for i, r := range sf.Rows {
			if r.Table == "other.orders" && firstOther == "" {
				firstOther = fmt.Sprintf("file cdc/%s, row %d", sf.Name, i+1)
			}
		}
	}

	wh := filepath.Join(dir, "wh")
	code, out, errs := cli(t, "run", "--source", src, "--warehouse", wh, "--table-definition", def, "--log-level", "info")
	if code != 1 || !strings.Contains(lineOf(out, "other.orders: FAILED"), firstOther) || !strings.Contains(out, "not in the table definition") {
		t.Fatalf("want other.orders to fail naming %q: exit %d\n%s", firstOther, code, out)
	}
	if !strings.Contains(errs, `"msg":"shared CDC files","files":4,"reads":4`) {
		t.Fatalf("each shared file must be read once per run:\n%s", errs)
	}
	for _, tb := range []string{"shop.orders", "shop.order_items"} {
		key := ordersKey
		if tb == "shop.order_items" {
			key = itemsKey
		}
		if d := testutil.Diff(sharedModel(t, cfg, files, tb, len(files)), rowsOf(t, wh, tb, key), 10); d != "" {
			t.Fatalf("%s:\n%s", tb, d)
		}
	}
	wh2 := filepath.Join(dir, "wh2")
	out = mustCLI(t, "run", "--source", src, "--warehouse", wh2, "--table-definition", def, "--tables", "shop.*", "--log-level", "warn")
	if strings.Contains(out, "other.orders") {
		t.Fatalf("--tables shop.*: %s", out)
	}
	// status sees the shared files as each table's pending CDC files.
	out = mustCLI(t, "status", "--source", src, "--warehouse", filepath.Join(dir, "wh3"), "--table-definition", def, "--tables", "shop.*")
	if !strings.Contains(lineOf(out, "shop.orders: "), "5 files pending") {
		t.Fatalf("status: %s", out)
	}
	if _, err := reader.DecodeCheckpoint(stateOf(t, wh2, "shop.orders").checkpoint.Encode()); err != nil {
		t.Fatalf("checkpoint naming a shared file does not decode: %v", err)
	}
}

// TestRunS3SourceDuplicateDelivery: a shared CDC file delivered again
// under the next name is refused for every table with rows in it, naming
// both files, whether the original was applied by an earlier run (the
// checkpoint's recent digests) or comes in the same run; under
// quarantine the copy is skipped. The digest comes from the shared
// reader's one read of each file.
func TestRunS3SourceDuplicateDelivery(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	def := filepath.Join(dir, "def.json")
	mustCLI(t, "gen", "--out", src, "--format", "csv", "--layout", "s3-source", "--definition-out", def,
		"--tables", "shop.orders,shop.order_items", "--rows", "30", "--changes", "60", "--cdc-files", "4")
	cfg := gen.Config{Tables: []string{"shop.orders", "shop.order_items"}, Rows: 30, Changes: 60, CDCFiles: 4, Seed: 1}
	files, err := gen.SharedChanges(cfg, gen.S3SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := files[len(files)-1]
	for _, tb := range cfg.Tables {
		n := 0
		for _, r := range last.Rows {
			if r.Table == tb {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("the last shared file %s has no rows of %s; the test needs some", last.Name, tb)
		}
	}
	data, err := os.ReadFile(filepath.Join(src, "cdc", last.Name))
	if err != nil {
		t.Fatal(err)
	}
	const copyName = "CDC00005.csv"
	orig, dup := "cdc/"+last.Name, "cdc/"+copyName
	args := func(wh string, more ...string) []string {
		return append([]string{"run", "--source", src, "--warehouse", wh, "--table-definition", def, "--log-level", "warn"}, more...)
	}
	keys := map[string][]string{"shop.orders": ordersKey, "shop.order_items": itemsKey}

	// Applied by an earlier run, then delivered again.
	wh := filepath.Join(dir, "wh")
	mustCLI(t, args(wh)...)
	writeFile(t, src, dup, data)
	code, out, errs := cli(t, args(wh)...)
	if code != 1 {
		t.Fatalf("a copy of an applied shared file: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, tb := range cfg.Tables {
		l := lineOf(out, tb+": ")
		for _, want := range []string{"FAILED", dup, orig, "applied earlier", "duplicate delivery"} {
			if !strings.Contains(l, want) {
				t.Errorf("%s: %q does not say %q", tb, l, want)
			}
		}
		if cp := stateOf(t, wh, tb).checkpoint; cp.CDCLast != last.Name {
			t.Errorf("%s: checkpoint %+v moved past %s", tb, cp, last.Name)
		}
	}
	// Under quarantine the copy is skipped and the checkpoint passes it.
	out = mustCLI(t, args(wh, "--on-bad-file", "quarantine")...)
	for _, tb := range cfg.Tables {
		if cp := stateOf(t, wh, tb).checkpoint; cp.CDCLast != copyName {
			t.Errorf("quarantine: %s: checkpoint %+v, want past the copy\n%s", tb, cp, out)
		}
		if d := testutil.Diff(sharedModel(t, cfg, files, tb, len(files)), rowsOf(t, wh, tb, keys[tb]), 10); d != "" {
			t.Fatalf("quarantine: %s: the copy was applied:\n%s", tb, d)
		}
	}

	// Original and copy new in one run.
	wh2 := filepath.Join(dir, "wh2")
	code, out, errs = cli(t, args(wh2)...)
	if code != 1 {
		t.Fatalf("a shared file and its copy in one run: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, tb := range cfg.Tables {
		l := lineOf(out, tb+": ")
		for _, want := range []string{"FAILED", dup, orig, "same batch"} {
			if !strings.Contains(l, want) {
				t.Errorf("same run: %s: %q does not say %q", tb, l, want)
			}
		}
	}
}
