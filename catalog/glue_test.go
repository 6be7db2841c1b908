package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/gluetest"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

const (
	testAccessKey = "AKIDGLUETEST"
	testCatalogID = "210987654321"
)

// glueEnv makes the AWS default chain find static test credentials and
// nothing else: no profile, no instance metadata, no endpoint variables.
func glueEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_S3_ENDPOINT"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Setenv(k, "") // restores the value when the test ends
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "glue-test-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

func openGlue(t *testing.T, srv *gluetest.Server, wh string, noCreate bool) icecat.Catalog {
	t.Helper()
	cat, err := catalog.Open(context.Background(), catalog.Config{Type: "glue", GlueEndpoint: srv.URL,
		GlueCatalogID: testCatalogID, GlueNoCreateDBs: noCreate, Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// genSource writes generated DMS output for both built-in tables into a
// temp folder and returns the source and its tables by name.
func genSource(t *testing.T, cfg gen.Config) (reader.Source, map[string]reader.TableFiles) {
	t.Helper()
	dir := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.DirSink(dir), cfg); err != nil {
		t.Fatal(err)
	}
	src := reader.DirSource{Root: dir}
	tables, _, err := reader.Discover(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reader.TableFiles{}
	for _, tf := range tables {
		out[tf.Ident()] = tf
	}
	return src, out
}

func fileURI(p string) string { return "file://" + filepath.ToSlash(p) }

var (
	ordersKey = []string{"order_id"}
	itemsKey  = []string{"order_id", "line_no"}
)

// TestGlueCatalog merges generated DMS output through iceberg-go's Glue
// catalog against the protocol fake and checks what Athena and the Glue
// console would read (parameters, columns, location), the VersionId
// handshake of every commit, the data against the SQL catalog, and that a
// rerun commits nothing.
func TestGlueCatalog(t *testing.T) {
	glueEnv(t)
	ctx := context.Background()
	srv := gluetest.Start(t)
	wh := t.TempDir()
	cat := openGlue(t, srv, wh, false)
	src, tables := genSource(t, gen.Config{Rows: 1500, Changes: 900, CDCFiles: 6, Seed: 5})
	orders := tables["shop.orders"]
	if len(orders.CDC) != 6 {
		t.Fatalf("generated %d CDC files", len(orders.CDC))
	}
	ident := table.Identifier{"shop", "orders"}

	// First run: the full load and half of the CDC files.
	first := orders
	first.CDC = orders.CDC[:3]
	st, err := merge.Table(ctx, cat, src, first, ident, merge.Options{Key: ordersKey})
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits == 0 {
		t.Fatalf("first run committed nothing: %+v", st)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	wantLoc := fileURI(filepath.Join(wh, "shop.db", "orders"))
	if tbl.Location() != wantLoc {
		t.Fatalf("table location %s, want %s", tbl.Location(), wantLoc)
	}
	if db, ok := srv.Database("shop"); !ok || db.LocationURI != fileURI(filepath.Join(wh, "shop.db")) {
		t.Fatalf("Glue database shop: %+v %v", db, ok)
	}
	gt, ok := srv.Table("shop", "orders")
	if !ok {
		t.Fatal("the Glue fake has no table shop.orders")
	}
	checkAthena(t, gt, tbl)
	wantCols := []struct{ name, typ string }{
		{"commit_ts", "string"}, {"order_id", "bigint"}, {"customer_id", "int"}, {"status", "string"},
		{"amount", "decimal(12,2)"}, {"created_at", "timestamp"}, {"note", "string"}, {"is_gift", "boolean"},
	}
	cols := gt.Current.StorageDescriptor.Columns
	if len(cols) != len(wantCols) {
		t.Fatalf("Glue columns %+v, want %v", cols, wantCols)
	}
	for i, w := range wantCols {
		c := cols[i]
		if c.Name != w.name || c.Type != w.typ {
			t.Errorf("Glue column %d is %s %s, want %s %s", i, c.Name, c.Type, w.name, w.typ)
		}
		f, ok := tbl.Schema().FindFieldByName(w.name)
		if !ok || c.Parameters["iceberg.field.id"] != strconv.Itoa(f.ID) || c.Parameters["iceberg.field.optional"] != strconv.FormatBool(!f.Required) {
			t.Errorf("Glue column %s parameters %v do not match field %+v", c.Name, c.Parameters, f)
		}
	}
	if gt.Current.StorageDescriptor.Location != wantLoc {
		t.Errorf("StorageDescriptor.Location %s, want %s", gt.Current.StorageDescriptor.Location, wantLoc)
	}

	// Second run: the other three CDC files, one commit each. Every commit
	// is an UpdateTable carrying the VersionId it read.
	v0, _ := strconv.Atoi(gt.VersionID)
	before := len(srv.CallsTo("UpdateTable"))
	st, err = merge.Table(ctx, cat, src, orders, ident, merge.Options{Key: ordersKey, BatchFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Commits != 3 {
		t.Fatalf("second run: %+v", st)
	}
	updates := srv.CallsTo("UpdateTable")[before:]
	if len(updates) != 3 {
		t.Fatalf("second run made %d UpdateTable calls, want 3: %+v", len(updates), updates)
	}
	for i, c := range updates {
		if c.Error != "" || c.VersionID != strconv.Itoa(v0+i) {
			t.Errorf("UpdateTable %d: %+v, want VersionId %d and success", i, c, v0+i)
		}
	}
	gt, _ = srv.Table("shop", "orders")
	if gt.VersionID != strconv.Itoa(v0+3) {
		t.Fatalf("Glue VersionId %s after three commits from %d", gt.VersionID, v0)
	}
	tbl, err = cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	checkAthena(t, gt, tbl)
	// Each input's previous_metadata_location is the one before it.
	for i := 1; i < len(gt.Inputs); i++ {
		prev, cur := gt.Inputs[i-1].Parameters, gt.Inputs[i].Parameters
		if cur["previous_metadata_location"] != prev["metadata_location"] || cur["metadata_location"] == prev["metadata_location"] {
			t.Errorf("input %d: previous_metadata_location %s, metadata_location %s; before it metadata_location %s",
				i, cur["previous_metadata_location"], cur["metadata_location"], prev["metadata_location"])
		}
	}

	// The same files through the default SQL catalog give the same rows.
	got, err := testutil.ReadTable(ctx, tbl, ordersKey)
	if err != nil {
		t.Fatal(err)
	}
	sqlCat, err := catalog.Open(ctx, catalog.Config{Warehouse: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := merge.Table(ctx, sqlCat, src, orders, ident, merge.Options{Key: ordersKey}); err != nil {
		t.Fatal(err)
	}
	sqlTbl, err := sqlCat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	want, err := testutil.ReadTable(ctx, sqlTbl, ordersKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 1500 {
		t.Fatalf("SQL catalog table has only %d rows", len(want))
	}
	if d := testutil.Diff(want, got, 10); d != "" {
		t.Fatalf("Glue table differs from the SQL catalog one:\n%s", d)
	}

	// A rerun applies nothing and writes nothing to Glue.
	calls := len(srv.CallsTo("UpdateTable"))
	st, err = merge.Table(ctx, cat, src, orders, ident, merge.Options{Key: ordersKey})
	if err != nil || st.Commits != 0 {
		t.Fatalf("rerun: %+v %v", st, err)
	}
	if n := len(srv.CallsTo("UpdateTable")); n != calls {
		t.Fatalf("rerun made %d UpdateTable calls", n-calls)
	}

	// A second table in the same database (composite key); listing pages
	// through GetTables.
	items := table.Identifier{"shop", "order_items"}
	if _, err := merge.Table(ctx, cat, src, tables["shop.order_items"], items, merge.Options{Key: itemsKey}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.CallsTo("CreateDatabase")); n != 1 {
		t.Fatalf("%d CreateDatabase calls, want 1 (the database exists for the second table)", n)
	}
	srv.SetPageSize(1)
	var listed []string
	for id, err := range cat.ListTables(ctx, table.Identifier{"shop"}) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, strings.Join(id, "."))
	}
	if strings.Join(listed, " ") != "shop.order_items shop.orders" {
		t.Fatalf("ListTables: %v", listed)
	}
	if n := len(srv.CallsTo("GetTables")); n < 2 {
		t.Fatalf("ListTables made %d GetTables calls with page size 1", n)
	}

	// Every call was signed with the credentials from the environment and
	// named the configured catalog id.
	for _, c := range srv.Calls() {
		if c.AccessKey != testAccessKey || c.CatalogID != testCatalogID {
			t.Fatalf("call %+v: want access key %s and CatalogId %s", c, testAccessKey, testCatalogID)
		}
	}
}

// checkAthena checks the Glue table parameters Athena needs.
func checkAthena(t *testing.T, gt gluetest.Table, tbl *table.Table) {
	t.Helper()
	p := gt.Current.Parameters
	if !strings.EqualFold(p["table_type"], "ICEBERG") {
		t.Errorf("table_type = %q", p["table_type"])
	}
	if p["metadata_location"] != tbl.MetadataLocation() {
		t.Errorf("metadata_location = %q, the table's current metadata is %s", p["metadata_location"], tbl.MetadataLocation())
	}
	if _, err := os.Stat(strings.TrimPrefix(p["metadata_location"], "file://")); err != nil {
		t.Errorf("metadata_location: %v", err)
	}
	if gt.Current.TableType != "EXTERNAL_TABLE" {
		t.Errorf("TableType = %q", gt.Current.TableType)
	}
	if gt.Current.StorageDescriptor == nil {
		t.Fatal("no StorageDescriptor")
	}
}

// TestGlueNoCreateDatabase: with GlueNoCreateDBs a missing database is a
// clear error and nothing is created; once an administrator creates it,
// the table lands under the warehouse even if the database has a location
// of its own.
func TestGlueNoCreateDatabase(t *testing.T) {
	glueEnv(t)
	ctx := context.Background()
	srv := gluetest.Start(t)
	wh := filepath.Join(t.TempDir(), "wh")
	cat := openGlue(t, srv, wh, true)
	src, tables := genSource(t, gen.Config{Tables: []string{"shop.orders"}, Rows: 200, Changes: 100, CDCFiles: 2, Seed: 3})
	ident := table.Identifier{"shop", "orders"}

	_, err := merge.Table(ctx, cat, src, tables["shop.orders"], ident, merge.Options{Key: ordersKey})
	if err == nil {
		t.Fatal("merge into a missing database succeeded")
	}
	if !strings.Contains(err.Error(), "Glue database shop does not exist; create it or drop --glue-no-create-database") {
		t.Fatalf("error does not say what to do: %v", err)
	}
	if !errors.Is(err, icecat.ErrNoSuchNamespace) {
		t.Fatalf("error does not wrap ErrNoSuchNamespace: %v", err)
	}
	if dbs := srv.Databases(); len(dbs) != 0 {
		t.Fatalf("databases were created: %v", dbs)
	}
	for _, c := range srv.Calls() {
		if strings.HasPrefix(c.Op, "Create") || strings.HasPrefix(c.Op, "Update") {
			t.Fatalf("a write was sent to Glue: %+v", c)
		}
	}
	if _, err := os.Stat(wh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the warehouse was written to: %v", err)
	}

	srv.AddDatabase("shop", fileURI(filepath.Join(t.TempDir(), "elsewhere")))
	if _, err := merge.Table(ctx, cat, src, tables["shop.orders"], ident, merge.Options{Key: ordersKey}); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if want := fileURI(filepath.Join(wh, "shop.db", "orders")); tbl.Location() != want {
		t.Fatalf("table location %s, want %s", tbl.Location(), want)
	}
	if n := len(srv.CallsTo("CreateDatabase")); n != 0 {
		t.Fatalf("%d CreateDatabase calls with --glue-no-create-database", n)
	}
}

// TestGlueCommitConflict pins down what a stale writer gets from the Glue
// catalog, for the conflict loop to rely on:
//
//   - A commit that loses the race between its GetTable and its UpdateTable
//     gets ConcurrentModificationException from Glue, which iceberg-go wraps
//     as table.ErrCommitFailed (and the aws error stays reachable with
//     errors.As). With commit.retry.num-retries at its default 0,
//     iceberg-go does not retry it.
//   - A commit from a handle that was already stale when it started fails
//     iceberg-go's own requirement check on the fresh GetTable
//     ("requirement failed: branch "main" has changed"), which does NOT
//     wrap ErrCommitFailed, and sends no UpdateTable.
//
// Either way the table keeps exactly the winner's commit.
func TestGlueCommitConflict(t *testing.T) {
	glueEnv(t)
	ctx := context.Background()
	srv := gluetest.Start(t)
	cat := openGlue(t, srv, t.TempDir(), false)
	ident := table.Identifier{"db", "t"}
	sc := iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true})
	if _, err := catalog.CreateTable(ctx, cat, ident, sc, nil); err != nil {
		t.Fatal(err)
	}
	commit := func(tbl *table.Table, n int64) (*table.Table, error) {
		return catalog.Apply(ctx, tbl, catalog.Commit{Checkpoint: reader.Checkpoint{CDCLast: fmt.Sprintf("20260510-100000%03d.parquet", n), CDCFiles: n}})
	}
	load := func() *table.Table {
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}

	// The race: writer B commits between writer A's GetTable and A's
	// UpdateTable.
	a, b := load(), load()
	// The hook runs again for B's own UpdateTable: only the first call
	// (A's) commits B.
	var started atomic.Bool
	var errB error
	srv.OnUpdateTable(func(_, _ string) {
		if started.CompareAndSwap(false, true) {
			_, errB = commit(b, 2)
		}
	})
	_, errA := commit(a, 1)
	srv.OnUpdateTable(nil)
	if errB != nil {
		t.Fatalf("writer B: %v", errB)
	}
	if errA == nil {
		t.Fatal("writer A committed over writer B")
	}
	if !errors.Is(errA, table.ErrCommitFailed) {
		t.Fatalf("a lost race does not wrap table.ErrCommitFailed: %v", errA)
	}
	var cme *gluetypes.ConcurrentModificationException
	if !errors.As(errA, &cme) {
		t.Fatalf("a lost race does not carry ConcurrentModificationException: %v", errA)
	}
	ups := srv.CallsTo("UpdateTable")
	if len(ups) != 2 || ups[0].Error != "" || ups[1].Error != "ConcurrentModificationException" || ups[0].VersionID != ups[1].VersionID {
		t.Fatalf("UpdateTable calls: %+v", ups)
	}
	cp, err := catalog.CheckpointOf(load())
	if err != nil || cp.CDCFiles != 2 {
		t.Fatalf("after the race the checkpoint is %+v (%v), want writer B's", cp, err)
	}

	// The stale handle: C loaded before D committed.
	c, d := load(), load()
	if _, err := commit(d, 3); err != nil {
		t.Fatal(err)
	}
	n := len(srv.CallsTo("UpdateTable"))
	_, errC := commit(c, 4)
	if errC == nil || !strings.Contains(errC.Error(), "requirement failed") || errors.Is(errC, table.ErrCommitFailed) {
		t.Fatalf("a stale handle's commit: %v (want a plain requirement failure, not ErrCommitFailed)", errC)
	}
	if len(srv.CallsTo("UpdateTable")) != n {
		t.Fatal("a stale handle's commit reached UpdateTable")
	}
	if cp, err := catalog.CheckpointOf(load()); err != nil || cp.CDCFiles != 3 {
		t.Fatalf("after the stale commit the checkpoint is %+v (%v), want writer D's", cp, err)
	}
}

// TestGlueEndpointPrecedence: --glue-endpoint reaches Glue even when the
// standard endpoint variables point elsewhere (a refused loopback port
// here), globally or for Glue alone.
func TestGlueEndpointPrecedence(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE"} {
		t.Run(env, func(t *testing.T) {
			glueEnv(t)
			t.Setenv(env, "http://127.0.0.1:1")
			srv := gluetest.Start(t)
			cat := openGlue(t, srv, t.TempDir(), false)
			sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
			if _, err := catalog.CreateTable(context.Background(), cat, table.Identifier{"db", "t"}, sc, nil); err != nil {
				t.Fatal(err)
			}
			if _, ok := srv.Table("db", "t"); !ok {
				t.Fatal("the table is not in the Glue fake")
			}
		})
	}
}
