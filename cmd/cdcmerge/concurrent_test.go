package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go/utils"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/gluetest"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestTwoProcessesOneTable runs two real cdcmerge processes at once on the
// same tables (MinIO source and warehouse; one SQLite catalog, or the Glue
// protocol fake), as two overlapping scheduled tasks would, and checks
// nothing is lost or applied twice: the tables equal those of a single run.
func TestTwoProcessesOneTable(t *testing.T) {
	for _, cat := range []string{"sql", "glue"} {
		t.Run(cat, func(t *testing.T) { twoProcesses(t, cat) })
	}
}

func twoProcesses(t *testing.T, catType string) {
	dir := t.TempDir()
	bin := buildFaultBinary(t, dir) // no fault is set: it runs normally
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "dms")
	srv.Bucket(t, "lake")
	gargs := []string{"--rows", "2000", "--changes", "3000", "--cdc-files", "12"}
	mustCLI(t, append([]string{"gen", "--out", "s3://dms/raw"}, gargs...)...)
	dbFile := filepath.Join(dir, "catalog.db")
	catCfg := catalog.Config{Warehouse: "s3://lake/wh", URI: dbFile, S3Endpoint: srv.Endpoint}
	catFlags := []string{"--catalog-uri", dbFile}
	if catType == "glue" {
		glue := gluetest.Start(t)
		catCfg = catalog.Config{Type: "glue", GlueEndpoint: glue.URL, Warehouse: "s3://lake/wh", S3Endpoint: srv.Endpoint}
		catFlags = []string{"--catalog", "glue", "--glue-endpoint", glue.URL}
	}
	args := runArgs("s3://dms/raw", "s3://lake/wh", append(catFlags, "--batch-files", "2", "--log-level", "info")...)

	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, err := exec.Command(bin, args...).CombinedOutput()
			outs[i], errs[i] = string(b), err
		}(i)
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	t.Logf("re-plans after conflicts: %d", strings.Count(outs[0]+outs[1], "re-planning"))

	local := t.TempDir()
	mustCLI(t, append([]string{"gen", "--out", filepath.Join(local, "dms")}, gargs...)...)
	mustCLI(t, runArgs(filepath.Join(local, "dms"), filepath.Join(local, "wh"))...)

	ctx := context.Background()
	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	cat, err := catalog.Open(ctx, catCfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  []string
	}{{"shop.orders", []string{"order_id"}}, {"shop.order_items", []string{"order_id", "line_no"}}} {
		want := rowsOf(t, filepath.Join(local, "wh"), tc.name, tc.key)
		ident, _ := catalog.Ident(tc.name)
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		got, err := testutil.ReadTable(ctx, tbl, tc.key)
		if err != nil {
			t.Fatal(err) // also fails on a key present twice
		}
		if d := testutil.Diff(want, got, 10); d != "" {
			t.Fatalf("%s after two concurrent runs:\n%s", tc.name, d)
		}
		cp, _ := catalog.CheckpointOf(tbl)
		if cp.CDCFiles != 12 {
			t.Fatalf("%s checkpoint %+v: want all 12 CDC files", tc.name, cp)
		}
	}
}

// TestRunAndCompactProcesses runs a real `run` process and, at the same
// time on the same table, a real `compact` process again and again, as a
// scheduled merge and a scheduled compaction that overlap would. Whichever
// commits second fails (compact) or re-plans (run); no row may be lost or
// resurrected: the table equals that of a run alone, in both write modes
// and on a partitioned table.
func TestRunAndCompactProcesses(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	bin := buildFaultBinary(t, dir) // no fault is set: it runs normally
	src := filepath.Join(dir, "dms")
	const cdcFiles = 16
	genSource(t, src, "--tables", "shop.orders", "--rows", "1000", "--changes", "2000", "--cdc-files", itoa(cdcFiles))
	ref := filepath.Join(dir, "ref")
	mustCLI(t, runArgs(src, ref)...)
	want := rowsOf(t, ref, "shop.orders", ordersKey)
	committed := 0
	for _, tc := range []struct{ name, mode, partition string }{
		{"copy-on-write", "copy-on-write", ""},
		{"merge-on-read", "merge-on-read", ""},
		{"merge-on-read-partitioned", "merge-on-read", "shop.orders=bucket(4,order_id)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 2; round++ {
				wh := filepath.Join(t.TempDir(), "wh")
				args := runArgs(src, wh, "--batch-files", "1", "--write-mode", tc.mode, "--log-level", "info")
				if tc.partition != "" {
					args = append(args, "--partition", tc.partition)
				}
				run := exec.Command(bin, args...)
				var runOut strings.Builder
				run.Stdout, run.Stderr = &runOut, &runOut
				if err := run.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- run.Wait() }()
				var runErr error
				finished := false
				for i := 0; i < 200 && !finished; i++ {
					select {
					case runErr = <-done:
						finished = true
						continue
					default:
					}
					// Exit 1 with the error in the summary is a compaction
					// that lost the race; logs go to stderr.
					out, err := exec.Command(bin, "compact", "--warehouse", wh, "--min-input-files", "2", "--output", "json").Output()
					var res struct {
						Tables []struct {
							RemovedDataFiles int    `json:"removed_data_files"`
							Error            string `json:"error"`
						} `json:"tables"`
					}
					if jerr := json.Unmarshal(out, &res); jerr != nil {
						t.Fatalf("compact: %v: %s", err, out)
					}
					for _, r := range res.Tables {
						if r.Error == "" && r.RemovedDataFiles > 0 {
							committed++
						}
					}
				}
				if !finished {
					runErr = <-done
				}
				if runErr != nil {
					t.Fatalf("run: %v\n%s", runErr, runOut.String())
				}
				if d := testutil.Diff(want, rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
					t.Fatalf("round %d: the table after a run with concurrent compactions differs from a run alone:\n%s", round, d)
				}
				tbl := loadTable(t, wh, "shop.orders")
				if cp, _ := catalog.CheckpointOf(tbl); cp.CDCFiles != cdcFiles {
					t.Fatalf("checkpoint %+v: want all %d CDC files", cp, cdcFiles)
				}
				if out := mustCLI(t, runArgs(src, wh)...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
					t.Fatalf("rerun: %s", out)
				}
				t.Logf("round %d: re-plans after conflicts: %d", round, strings.Count(runOut.String(), "re-planning"))
			}
		})
	}
	if committed == 0 {
		t.Fatal("no compaction committed while a run was in progress: the test proved nothing")
	}
	t.Logf("compactions committed during runs: %d", committed)
}
