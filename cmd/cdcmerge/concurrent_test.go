package main

import (
	"context"
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
