package main

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/gluetest"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestRunGlueCatalog runs `run --catalog glue` with the data on MinIO and
// the catalog on the Glue protocol fake: the summary lines, both tables in
// Glue as Athena reads them (parameters, location, columns) with their
// metadata files really in the bucket, the rows equal to the replay of the
// generated stream, then a rerun that is up to date and a status.
func TestRunGlueCatalog(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "dms")
	srv.Bucket(t, "lake")
	glue := gluetest.Start(t)
	mustCLI(t, append([]string{"gen", "--out", "s3://dms/raw"}, genArgs...)...)
	flags := []string{"--catalog", "glue", "--glue-endpoint", glue.URL}

	out := mustCLI(t, runArgs("s3://dms/raw", "s3://lake/wh", flags...)...)
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		l := lineOf(out, name+": ")
		if !strings.Contains(l, "5 files, 300 rows read") || !strings.Contains(l, "1 commits") {
			t.Errorf("summary of %s = %q, want 5 files, 300 rows read, 1 commits", name, l)
		}
	}

	if got := strings.Join(glue.Tables("shop"), " "); got != "order_items orders" {
		t.Fatalf("Glue database shop holds %q", got)
	}
	if db, _ := glue.Database("shop"); db.LocationURI != "s3://lake/wh/shop.db" {
		t.Errorf("Glue database location %q", db.LocationURI)
	}
	for _, name := range []string{"order_items", "orders"} {
		gt, _ := glue.Table("shop", name)
		p := gt.Current.Parameters
		loc := "s3://lake/wh/shop.db/" + name
		if p["table_type"] != "ICEBERG" || !strings.HasPrefix(p["metadata_location"], loc+"/metadata/") {
			t.Errorf("shop.%s parameters %v", name, p)
		}
		if gt.Current.TableType != "EXTERNAL_TABLE" || gt.Current.StorageDescriptor == nil ||
			gt.Current.StorageDescriptor.Location != loc || len(gt.Current.StorageDescriptor.Columns) == 0 {
			t.Errorf("shop.%s table input %+v", name, gt.Current)
		}
		// Created, then one commit.
		if gt.VersionID != "1" || len(gt.Inputs) != 2 {
			t.Errorf("shop.%s: VersionId %s after %d inputs, want 1 after 2", name, gt.VersionID, len(gt.Inputs))
		}
		key := strings.TrimPrefix(p["metadata_location"], "s3://lake/")
		if _, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)}); err != nil {
			t.Errorf("shop.%s metadata_location %s is not in the bucket: %v", name, p["metadata_location"], err)
		}
	}
	for _, c := range glue.Calls() {
		if c.AccessKey != srv.AccessKey || c.Error == "MissingAuthenticationTokenException" {
			t.Fatalf("Glue call %+v was not signed with the credentials from the environment", c)
		}
	}

	// The rows, read back through the Glue catalog from MinIO.
	ctx := context.Background()
	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	cat, err := catalog.Open(ctx, catalog.Config{Type: "glue", GlueEndpoint: glue.URL, Warehouse: "s3://lake/wh"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		key  []string
	}{{"shop.orders", ordersKey}, {"shop.order_items", itemsKey}} {
		ident, _ := catalog.Ident(m.name)
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		got, err := testutil.ReadTable(ctx, tbl, m.key)
		if err != nil {
			t.Fatal(err)
		}
		if d := testutil.Diff(modelOf(t, genCfg, m.name).replay(4), got, 10); d != "" {
			t.Fatalf("%s differs from the replay:\n%s", m.name, d)
		}
	}

	// A rerun is up to date and writes nothing to Glue; status agrees.
	updates := len(glue.CallsTo("UpdateTable"))
	out = mustCLI(t, runArgs("s3://dms/raw", "s3://lake/wh", flags...)...)
	if strings.Count(out, "up to date") != 2 {
		t.Fatalf("rerun output:\n%s", out)
	}
	if n := len(glue.CallsTo("UpdateTable")); n != updates {
		t.Fatalf("the rerun made %d UpdateTable calls", n-updates)
	}
	st := mustCLI(t, append([]string{"status", "--source", "s3://dms/raw", "--warehouse", "s3://lake/wh"}, flags...)...)
	if strings.Count(st, "0 files pending") != 2 {
		t.Fatalf("status:\n%s", st)
	}
}

// TestRunGlueNoCreateDatabase: with --glue-no-create-database and no
// database, the run fails (exit 1) with the message saying what to do, and
// nothing is created in Glue.
func TestRunGlueNoCreateDatabase(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "lake")
	glue := gluetest.Start(t)
	src := t.TempDir()
	genSource(t, src)
	code, out, errs := cli(t, runArgs(src, "s3://lake/wh", "--catalog", "glue", "--glue-endpoint", glue.URL, "--glue-no-create-database")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out+errs, "Glue database shop does not exist; create it or drop --glue-no-create-database") {
		t.Fatalf("the error does not say what to do\nstdout:\n%s\nstderr:\n%s", out, errs)
	}
	if dbs := glue.Databases(); len(dbs) != 0 {
		t.Fatalf("databases were created: %v", dbs)
	}
}
