package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	icecat "github.com/apache/iceberg-go/catalog"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/resttest"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

const (
	restTestClient = "cdcmerge-cli"
	restTestSecret = "cli-Secret-Never-Printed-5e0a"
)

// restRowsOf reads a table back through the REST catalog.
func restRowsOf(t *testing.T, cfg catalog.Config, name string, key []string) testutil.Rows {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cat.(icecat.Closer); ok {
		defer c.Close()
	}
	ident, err := catalog.Ident(name)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := testutil.ReadTable(ctx, tbl, key)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// noSecret fails the test if any output shows the secret.
func noSecret(t *testing.T, secret string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Fatalf("output shows the secret:\n%s", o)
		}
	}
}

// TestRunRESTCatalog: run and status against a REST catalog (the test
// server over the SQL catalog) with the OAuth2 credential from the
// environment; the tables equal the replay, a rerun is up to date, and the
// secret appears in no output, not even at debug level.
func TestRunRESTCatalog(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src)
	srv := resttest.Start(t, resttest.Options{ClientID: restTestClient, ClientSecret: restTestSecret, Warehouse: wh})
	t.Setenv("CDCMERGE_REST_CREDENTIAL", restTestClient+":"+restTestSecret)
	rest := []string{"--catalog", "rest", "--catalog-uri", srv.URL, "--log-level", "debug"}

	code, out, errs := cli(t, runArgs(src, wh, rest...)...)
	noSecret(t, restTestSecret, out, errs)
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	ordersNames := cdcNames(t, src, "shop/orders")
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		l := lineOf(out, name+": ")
		if !strings.Contains(l, "5 files, 300 rows read") || !strings.Contains(l, "1 commits") {
			t.Errorf("summary of %s = %q, want 5 files, 300 rows read, 1 commits", name, l)
		}
	}
	if l := lineOf(out, "shop.orders: "); !strings.HasSuffix(l, "(checkpoint "+ordersNames[3]+")") {
		t.Errorf("orders summary %q does not end with the last CDC file %s", l, ordersNames[3])
	}

	// The tables are in the REST catalog (not in a SQLite file in the
	// warehouse) and hold the replay of the generated stream.
	if _, err := os.Stat(filepath.Join(wh, "catalog.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite catalog was created in the warehouse (%v)", err)
	}
	cfg := catalog.Config{Type: "rest", URI: srv.URL, RESTCredential: restTestClient + ":" + restTestSecret, Warehouse: wh}
	orders, items := modelOf(t, genCfg, "shop.orders"), modelOf(t, genCfg, "shop.order_items")
	if d := testutil.Diff(orders.replay(4), restRowsOf(t, cfg, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("shop.orders differs from the replay:\n%s", d)
	}
	if d := testutil.Diff(items.replay(4), restRowsOf(t, cfg, "shop.order_items", itemsKey), 10); d != "" {
		t.Fatalf("shop.order_items differs from the replay:\n%s", d)
	}
	if n := srv.Count(http.MethodPost, "/v1/namespaces/shop/tables/orders"); n != 1 {
		t.Errorf("%d commits of shop.orders reached the REST server, want 1", n)
	}
	for _, r := range srv.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %s", r)
		}
	}

	// A rerun is up to date; status sees nothing pending.
	code, out, errs = cli(t, runArgs(src, wh, rest...)...)
	noSecret(t, restTestSecret, out, errs)
	if code != 0 {
		t.Fatalf("rerun: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		if l := lineOf(out, name+": "); !strings.Contains(l, "up to date") {
			t.Errorf("rerun of %s: %q, want up to date", name, l)
		}
	}
	code, out, errs = cli(t, append([]string{"status", "--source", src, "--warehouse", wh}, rest...)...)
	noSecret(t, restTestSecret, out, errs)
	if code != 0 || !strings.Contains(lineOf(out, "shop.orders: "), " 0 files pending") {
		t.Fatalf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if n := srv.Count(http.MethodPost, "/v1/namespaces/shop/tables/orders"); n != 1 {
		t.Errorf("the rerun committed: %d commits of shop.orders", n)
	}
}

// TestRunRESTBadCredential: a refused credential fails the run (exit 1)
// with an error naming the setting, and the secret is not printed.
func TestRunRESTBadCredential(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src)
	srv := resttest.Start(t, resttest.Options{ClientID: restTestClient, ClientSecret: restTestSecret, Warehouse: wh})
	const wrong = "wrong-Cli-Secret-77aa"
	t.Setenv("CDCMERGE_REST_CREDENTIAL", restTestClient+":"+wrong)
	code, out, errs := cli(t, runArgs(src, wh, "--catalog", "rest", "--catalog-uri", srv.URL, "--log-level", "debug")...)
	noSecret(t, wrong, out, errs)
	noSecret(t, restTestSecret, out, errs)
	t.Logf("refused: %s", errs)
	if code != 1 || !strings.Contains(errs, "--rest-credential") {
		t.Fatalf("exit %d, want 1 and an error naming --rest-credential\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	// No URI at all: the error names --catalog-uri.
	code, out, errs = cli(t, runArgs(src, wh, "--catalog", "rest")...)
	noSecret(t, wrong, out, errs)
	if code == 0 || !strings.Contains(errs, "--catalog-uri") {
		t.Fatalf("no URI: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}
