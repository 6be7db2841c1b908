package resttest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/internal/resttest"
)

// TestEndpoints drives every endpoint the server offers through iceberg-go's
// REST client, including the ones a merge does not use (list, exists, drop).
func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	srv := resttest.Start(t, resttest.Options{ClientID: "id", ClientSecret: "secret"})
	cat, err := rest.NewCatalog(ctx, "test", srv.URL, rest.WithCredential("id:secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()

	ns := table.Identifier{"a", "b"}
	if err := cat.CreateNamespace(ctx, table.Identifier{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := cat.CreateNamespace(ctx, ns, iceberg.Properties{"owner": "me"}); err != nil {
		t.Fatal(err)
	}
	if err := cat.CreateNamespace(ctx, ns, nil); !errors.Is(err, icecat.ErrNamespaceAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if ok, err := cat.CheckNamespaceExists(ctx, ns); err != nil || !ok {
		t.Fatalf("namespace exists: %v %v", ok, err)
	}
	if ok, err := cat.CheckNamespaceExists(ctx, table.Identifier{"nope"}); err != nil || ok {
		t.Fatalf("missing namespace exists: %v %v", ok, err)
	}
	if props, err := cat.LoadNamespaceProperties(ctx, ns); err != nil || props["owner"] != "me" {
		t.Fatalf("namespace properties: %v %v", props, err)
	}
	top, err := cat.ListNamespaces(ctx, nil)
	if err != nil || !slices.ContainsFunc(top, func(n table.Identifier) bool { return slices.Equal(n, table.Identifier{"a"}) }) {
		t.Fatalf("list namespaces: %v %v", top, err)
	}

	sc := iceberg.NewSchemaWithIdentifiers(1, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.String})
	ident := append(slices.Clone(ns), "t")
	tbl, err := cat.CreateTable(ctx, ident, sc, icecat.WithProperties(iceberg.Properties{"k": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Properties()["k"] != "v" || len(tbl.Schema().IdentifierFieldIDs) != 1 {
		t.Fatalf("created table: props %v, identifier fields %v", tbl.Properties(), tbl.Schema().IdentifierFieldIDs)
	}
	if _, err := cat.CreateTable(ctx, ident, sc); !errors.Is(err, icecat.ErrTableAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := cat.CreateTable(ctx, table.Identifier{"nope", "t"}, sc); !errors.Is(err, icecat.ErrNoSuchNamespace) {
		t.Fatalf("create in a missing namespace: %v", err)
	}
	if ok, err := cat.CheckTableExists(ctx, ident); err != nil || !ok {
		t.Fatalf("table exists: %v %v", ok, err)
	}
	var listed []table.Identifier
	for id, err := range cat.ListTables(ctx, ns) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, id)
	}
	if len(listed) != 1 || !slices.Equal(listed[0], ident) {
		t.Fatalf("list tables: %v", listed)
	}

	// A property commit through the table's transaction (requirements and
	// updates), then a stale one.
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(iceberg.Properties{"k": "w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	loaded, err := cat.LoadTable(ctx, ident)
	if err != nil || loaded.Properties()["k"] != "w" {
		t.Fatalf("after commit: %v %v", loaded.Properties(), err)
	}
	_, _, err = cat.CommitTable(ctx, ident, []table.Requirement{table.AssertTableUUID([16]byte{1})}, nil)
	if !errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("commit with a failed requirement: %v", err)
	}

	if err := cat.DropNamespace(ctx, ns); !errors.Is(err, icecat.ErrNamespaceNotEmpty) {
		t.Fatalf("drop non-empty namespace: %v", err)
	}
	if err := cat.DropTable(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.LoadTable(ctx, ident); !errors.Is(err, icecat.ErrNoSuchTable) {
		t.Fatalf("load dropped table: %v", err)
	}
	if ok, err := cat.CheckTableExists(ctx, ident); err != nil || ok {
		t.Fatalf("dropped table exists: %v %v", ok, err)
	}
	if err := cat.DropNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	for _, want := range [][2]string{
		{http.MethodHead, "/v1/namespaces/a\x1fb"},
		{http.MethodHead, "/v1/namespaces/a\x1fb/tables/t"},
		{http.MethodGet, "/v1/namespaces/a\x1fb/tables"},
		{http.MethodDelete, "/v1/namespaces/a\x1fb/tables/t"},
		{http.MethodDelete, "/v1/namespaces/a\x1fb"},
	} {
		if srv.Count(want[0], want[1]) == 0 {
			t.Errorf("no %s %q request: %v", want[0], want[1], srv.Requests())
		}
	}
}

// TestAuth: without a token every request is refused; the token endpoint
// checks the client's id and secret.
func TestAuth(t *testing.T) {
	ctx := context.Background()
	srv := resttest.Start(t, resttest.Options{ClientID: "id", ClientSecret: "secret"})
	if _, err := rest.NewCatalog(ctx, "test", srv.URL); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("no credential: %v", err)
	}
	if _, err := rest.NewCatalog(ctx, "test", srv.URL, rest.WithCredential("id:nope")); !errors.Is(err, rest.ErrOAuthError) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := rest.NewCatalog(ctx, "test", srv.URL, rest.WithOAuthToken("made-up")); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("made-up token: %v", err)
	}
	if srv.IssuedTokens() != 0 {
		t.Fatalf("%d tokens issued", srv.IssuedTokens())
	}
	rsp, err := http.Get(srv.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v1/config without a token: %d", rsp.StatusCode)
	}
}
