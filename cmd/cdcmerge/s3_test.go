package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/utils"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestRunS3MinIO runs the README's local MinIO recipe through the CLI:
// gen into a bucket, run from it into an s3:// warehouse, rerun, status;
// and checks the table against a run of the same data from local disk.
func TestRunS3MinIO(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "dms")
	srv.Bucket(t, "lake")
	dbFile := filepath.Join(t.TempDir(), "catalog.db")
	mustCLI(t, append([]string{"gen", "--out", "s3://dms/raw"}, genArgs...)...)
	args := runArgs("s3://dms/raw", "s3://lake/warehouse", "--catalog-uri", dbFile)
	out := mustCLI(t, args...)
	if !strings.Contains(out, "shop.orders: 5 files") {
		t.Fatalf("run output:\n%s", out)
	}
	if out := mustCLI(t, args...); strings.Count(out, "up to date") != 2 {
		t.Fatalf("rerun output:\n%s", out)
	}
	st := mustCLI(t, "status", "--source", "s3://dms/raw", "--warehouse", "s3://lake/warehouse", "--catalog-uri", dbFile)
	if strings.Count(st, "0 files pending") != 2 {
		t.Fatalf("status:\n%s", st)
	}

	local := t.TempDir()
	genSource(t, filepath.Join(local, "dms"))
	mustCLI(t, runArgs(filepath.Join(local, "dms"), filepath.Join(local, "wh"))...)
	want := rowsOf(t, filepath.Join(local, "wh"), "shop.orders", []string{"order_id"})

	ctx := context.Background()
	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: "s3://lake/warehouse", URI: dbFile, S3Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, []string{"shop", "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tbl.Location(), "s3://lake/warehouse/") {
		t.Fatalf("table location %s", tbl.Location())
	}
	got, err := testutil.ReadTable(ctx, tbl, []string{"order_id"})
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.Diff(want, got, 10); d != "" {
		t.Fatalf("S3 table differs from the local one:\n%s", d)
	}
}
