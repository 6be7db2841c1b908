package merge_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go/utils"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestS3SourceAndWarehouse reads DMS output from a real S3 server (MinIO on
// loopback) and writes the table into an s3:// warehouse, then checks the
// table equals the one built from the same files on local disk.
func TestS3SourceAndWarehouse(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "dms")
	srv.Bucket(t, "lake")
	ctx := context.Background()
	cfg := gen.Config{Tables: []string{"shop.orders"}, Rows: 3000, Changes: 1500, CDCFiles: 6, DatePartition: true, Seed: 11}
	if _, err := gen.Generate(ctx, gen.S3Sink(srv.Client(), "dms", "raw/"), cfg); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	if _, err := gen.Generate(ctx, gen.DirSink(local), cfg); err != nil {
		t.Fatal(err)
	}

	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	client, err := s3util.Client(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := reader.S3Source{Client: client, Bucket: "dms", Prefix: "raw/"}
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: "s3://lake/warehouse", URI: filepath.Join(t.TempDir(), "catalog.db"), S3Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	tables, _, err := reader.Discover(ctx, src)
	if err != nil || len(tables) != 1 {
		t.Fatalf("discover: %v %v", tables, err)
	}
	ident := []string{"shop", "orders"}
	st, err := merge.Table(ctx, cat, src, tables[0], ident, merge.Options{Key: []string{"order_id"}, BatchFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 7 || st.Commits != 3 {
		t.Fatalf("stats %+v", st)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if loc := tbl.Location(); loc[:len("s3://lake/warehouse/")] != "s3://lake/warehouse/" {
		t.Fatalf("table location %s is not in the s3 warehouse", loc)
	}
	got, err := testutil.ReadTable(ctx, tbl, []string{"order_id"})
	if err != nil {
		t.Fatal(err)
	}

	lsrc := reader.DirSource{Root: local}
	lcat := openCatalog(t, filepath.Join(t.TempDir(), "wh"))
	if _, err := merge.Table(ctx, lcat, lsrc, tableFiles(t, lsrc, "shop.orders"), ident, merge.Options{Key: []string{"order_id"}}); err != nil {
		t.Fatal(err)
	}
	ltbl, _ := lcat.LoadTable(ctx, ident)
	want, err := testutil.ReadTable(ctx, ltbl, []string{"order_id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 3000 {
		t.Fatalf("local table has only %d rows", len(want))
	}
	if d := testutil.Diff(want, got, 10); d != "" {
		t.Fatalf("s3 table differs from local:\n%s", d)
	}
	// A rerun against S3 applies nothing.
	st, err = merge.Table(ctx, cat, src, tables[0], ident, merge.Options{Key: []string{"order_id"}})
	if err != nil || st.Commits != 0 {
		t.Fatalf("rerun: %+v %v", st, err)
	}
}
