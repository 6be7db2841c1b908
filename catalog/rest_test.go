package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/resttest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

const (
	restClientID = "cdcmerge-test"
	restSecret   = "s3cr3t-Do-Not-Leak-7f1c"
)

var ordersIdent = table.Identifier{"shop", "orders"}

// genOrders writes generated DMS output for shop.orders into a temporary
// folder and returns the source and the table's files.
func genOrders(t *testing.T) (reader.DirSource, reader.TableFiles) {
	t.Helper()
	dir := t.TempDir()
	cfg := gen.Config{Tables: []string{"shop.orders"}, Rows: 600, Changes: 400, CDCFiles: 4, Seed: 7}
	if _, err := gen.Generate(context.Background(), gen.DirSink(dir), cfg); err != nil {
		t.Fatal(err)
	}
	src := reader.DirSource{Root: dir}
	tables, _, err := reader.Discover(context.Background(), src)
	if err != nil || len(tables) != 1 {
		t.Fatalf("discover: %v %v", tables, err)
	}
	if len(tables[0].CDC) != 4 {
		t.Fatalf("want 4 CDC files, got %d", len(tables[0].CDC))
	}
	return src, tables[0]
}

// upTo is tf with only its first n CDC files (the later ones "not yet
// uploaded").
func upTo(tf reader.TableFiles, n int) reader.TableFiles {
	tf.CDC = append([]reader.File(nil), tf.CDC[:n]...)
	return tf
}

// sqlRows merges tf through the default SQL catalog in a fresh warehouse and
// returns the table's rows.
func sqlRows(t *testing.T, src reader.Source, tf reader.TableFiles) testutil.Rows {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: filepath.Join(t.TempDir(), "wh")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := merge.Table(ctx, cat, src, tf, ordersIdent, merge.Options{Key: []string{"order_id"}}); err != nil {
		t.Fatal(err)
	}
	return readRows(t, cat)
}

func readRows(t *testing.T, cat icecat.Catalog) testutil.Rows {
	t.Helper()
	tbl, err := cat.LoadTable(context.Background(), ordersIdent)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := testutil.ReadTable(context.Background(), tbl, []string{"order_id"})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func openREST(t *testing.T, cfg catalog.Config) icecat.Catalog {
	t.Helper()
	cfg.Type = "rest"
	cat, err := catalog.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cat.(icecat.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return cat
}

// TestRESTMerge merges DMS output through iceberg-go's REST client against
// the REST fake with OAuth2 client credentials, and compares the table with
// the same files merged through the SQL catalog.
func TestRESTMerge(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	srv := resttest.Start(t, resttest.Options{ClientID: restClientID, ClientSecret: restSecret, Warehouse: wh})
	cat := openREST(t, catalog.Config{URI: srv.URL, RESTCredential: restClientID + ":" + restSecret, Warehouse: wh})
	if got := srv.ConfigWarehouses(); len(got) == 0 || got[0] != wh {
		t.Fatalf("the client sent warehouse %q to GET /v1/config, want %q", got, wh)
	}

	src, tf := genOrders(t)
	opt := merge.Options{Key: []string{"order_id"}, BatchFiles: 2}

	// First run: the full load and two CDC files.
	st, err := merge.Table(ctx, cat, src, upTo(tf, 2), ordersIdent, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Created || st.Files != 3 || st.Commits != 2 {
		t.Fatalf("first run: %+v", st)
	}
	tbl, err := cat.LoadTable(ctx, ordersIdent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tbl.Location(), srv.Warehouse+"/") {
		t.Fatalf("table location %s is not under the warehouse %s", tbl.Location(), srv.Warehouse)
	}
	if ids := tbl.Schema().IdentifierFieldIDs; len(ids) != 1 {
		t.Fatalf("identifier fields %v, want the key order_id", ids)
	}
	if d := testutil.Diff(sqlRows(t, src, upTo(tf, 2)), readRows(t, cat), 10); d != "" {
		t.Fatalf("REST table after the first run differs from the SQL catalog's:\n%s", d)
	}
	// The fake's own SQL catalog sees the same table (the commits went
	// through the server, not around it).
	back, err := srv.Catalog.LoadTable(ctx, ordersIdent)
	if err != nil {
		t.Fatal(err)
	}
	if back.CurrentSnapshot().SnapshotID != tbl.CurrentSnapshot().SnapshotID {
		t.Fatalf("server snapshot %d, client %d", back.CurrentSnapshot().SnapshotID, tbl.CurrentSnapshot().SnapshotID)
	}

	// A rerun over the same files commits nothing.
	commitsBefore := srv.Count(http.MethodPost, "/v1/namespaces/shop/tables/orders")
	st, err = merge.Table(ctx, cat, src, upTo(tf, 2), ordersIdent, opt)
	if err != nil || st.Commits != 0 || st.Files != 0 {
		t.Fatalf("rerun: %+v %v", st, err)
	}
	if n := srv.Count(http.MethodPost, "/v1/namespaces/shop/tables/orders"); n != commitsBefore {
		t.Fatalf("rerun sent %d commits", n-commitsBefore)
	}

	// The other two CDC files arrive: one more commit.
	st, err = merge.Table(ctx, cat, src, tf, ordersIdent, opt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Commits != 1 {
		t.Fatalf("second batch: %+v", st)
	}
	want := sqlRows(t, src, tf)
	if len(want) < 600 {
		t.Fatalf("SQL table has only %d rows", len(want))
	}
	if d := testutil.Diff(want, readRows(t, cat), 10); d != "" {
		t.Fatalf("REST table differs from the SQL catalog's:\n%s", d)
	}
	cp, err := catalog.CheckpointOf(mustLoad(t, cat))
	if err != nil || cp.CDCLast != tf.CDC[3].Name {
		t.Fatalf("checkpoint %+v (%v), want CDC file %s", cp, err, tf.CDC[3].Name)
	}

	// Every request but the token requests carried a valid bearer token,
	// and the endpoints the merge needs were the REST ones.
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/oauth/tokens" {
		t.Fatalf("the first request was not the OAuth2 token request: %v", reqs)
	}
	for _, r := range reqs {
		if r.Status == http.StatusUnauthorized || r.Status >= 500 {
			t.Errorf("request %s", r)
		}
	}
	for _, want := range [][2]string{
		{http.MethodGet, "/v1/config"},
		{http.MethodPost, "/v1/namespaces"},
		{http.MethodPost, "/v1/namespaces/shop/tables"},
		{http.MethodGet, "/v1/namespaces/shop/tables/orders"},
		{http.MethodPost, "/v1/namespaces/shop/tables/orders"},
	} {
		if srv.Count(want[0], want[1]) == 0 {
			t.Errorf("no %s %s request; got %v", want[0], want[1], reqs)
		}
	}
	if srv.IssuedTokens() == 0 {
		t.Error("no token was issued")
	}
}

func mustLoad(t *testing.T, cat icecat.Catalog) *table.Table {
	t.Helper()
	tbl, err := cat.LoadTable(context.Background(), ordersIdent)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestRESTWrongCredential: a wrong secret fails at open with an error that
// says what to check and does not contain the secret.
func TestRESTWrongCredential(t *testing.T) {
	srv := resttest.Start(t, resttest.Options{ClientID: restClientID, ClientSecret: restSecret})
	const wrong = "wrong-Secret-9b2e"
	for _, cred := range []string{restClientID + ":" + wrong, "someone-else:" + restSecret} {
		_, err := catalog.Open(context.Background(), catalog.Config{Type: "rest", URI: srv.URL, RESTCredential: cred, Warehouse: t.TempDir()})
		if err == nil {
			t.Fatalf("credential %q was accepted", cred)
		}
		msg := err.Error()
		t.Logf("refused: %s", msg)
		if strings.Contains(msg, wrong) || strings.Contains(msg, restSecret) {
			t.Fatalf("the error shows the secret: %s", msg)
		}
		if !strings.Contains(msg, "--rest-credential") || !strings.Contains(msg, "invalid_client") {
			t.Fatalf("the error does not say the credential was refused: %s", msg)
		}
		if !errors.Is(err, rest.ErrOAuthError) {
			t.Fatalf("error %v does not wrap rest.ErrOAuthError", err)
		}
	}
	for _, r := range srv.Requests() {
		if r.Path != "/v1/oauth/tokens" {
			t.Errorf("request %s got past the refused token request", r)
		}
	}
}

// TestRESTRedactsEchoedSecret: a token endpoint that echoes the request back
// in its error cannot make the secret appear in cdcmerge's error.
func TestRESTRedactsEchoedSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":             "invalid_client",
			"error_description": "rejected client_secret=" + r.PostForm.Get("client_secret") + " form=" + r.PostForm.Encode(),
		})
	}))
	defer srv.Close()
	secret := "p@ss w0rd+/=Echoed"
	_, err := catalog.Open(context.Background(), catalog.Config{Type: "rest", URI: srv.URL, RESTCredential: "me:" + secret})
	if err == nil {
		t.Fatal("opened")
	}
	t.Logf("echoing server: %v", err)
	if !strings.Contains(err.Error(), "***") {
		t.Fatalf("expected a redacted echo, got: %s", err)
	}
	for _, leak := range []string{secret, "p%40ss", "w0rd%2B"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("the error shows the secret (%s): %s", leak, err)
		}
	}
}

// TestRESTToken: a bearer token works without the OAuth2 flow; a wrong one
// fails without showing it.
func TestRESTToken(t *testing.T) {
	ctx := context.Background()
	const token = "static-Token-41d7"
	wh := t.TempDir()
	srv := resttest.Start(t, resttest.Options{Token: token, Warehouse: wh})
	cat := openREST(t, catalog.Config{URI: srv.URL, RESTToken: token, Warehouse: wh})
	src, tf := genOrders(t)
	st, err := merge.Table(ctx, cat, src, tf, ordersIdent, merge.Options{Key: []string{"order_id"}})
	if err != nil || st.Commits != 1 || st.Files != 5 {
		t.Fatalf("merge: %+v %v", st, err)
	}
	if d := testutil.Diff(sqlRows(t, src, tf), readRows(t, cat), 10); d != "" {
		t.Fatalf("REST table differs from the SQL catalog's:\n%s", d)
	}
	if n := srv.Count(http.MethodPost, "/v1/oauth/tokens"); n != 0 {
		t.Fatalf("%d token requests with a static token", n)
	}
	for _, r := range srv.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("request %s", r)
		}
	}

	const wrong = "stale-Token-0000"
	_, err = catalog.Open(ctx, catalog.Config{Type: "rest", URI: srv.URL, RESTToken: wrong, Warehouse: wh})
	if err == nil || !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	t.Logf("wrong token: %v", err)
	if strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "--rest-token") {
		t.Fatalf("wrong token error: %s", err)
	}
	// No token at all.
	_, err = catalog.Open(ctx, catalog.Config{Type: "rest", URI: srv.URL, Warehouse: wh})
	if !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("no token: %v", err)
	}
}

// TestRESTStaleCommitFails: two writers load the table at the same snapshot;
// the first commit wins and the second fails with an error wrapping
// table.ErrCommitFailed (what a conflict loop keys on), leaving the table at
// the first writer's snapshot.
func TestRESTStaleCommitFails(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	srv := resttest.Start(t, resttest.Options{ClientID: restClientID, ClientSecret: restSecret, Warehouse: wh})
	cfg := catalog.Config{URI: srv.URL, RESTCredential: restClientID + ":" + restSecret, Warehouse: wh}
	catA, catB := openREST(t, cfg), openREST(t, cfg)
	src, tf := genOrders(t)
	if _, err := merge.Table(ctx, catA, src, upTo(tf, 1), ordersIdent, merge.Options{Key: []string{"order_id"}}); err != nil {
		t.Fatal(err)
	}
	a, b := mustLoad(t, catA), mustLoad(t, catB)
	if a.CurrentSnapshot().SnapshotID != b.CurrentSnapshot().SnapshotID {
		t.Fatal("the two handles start at different snapshots")
	}
	cp, err := catalog.CheckpointOf(a)
	if err != nil {
		t.Fatal(err)
	}
	won, err := catalog.Apply(ctx, a, catalog.Commit{Checkpoint: cp, Summary: map[string]string{"writer": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = catalog.Apply(ctx, b, catalog.Commit{Checkpoint: cp, Summary: map[string]string{"writer": "b"}})
	if err == nil {
		t.Fatal("the commit from the stale handle succeeded")
	}
	t.Logf("stale commit: %v", err)
	if !errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("stale commit error does not wrap table.ErrCommitFailed: %v", err)
	}
	if strings.Contains(err.Error(), restSecret) {
		t.Fatalf("error shows the secret: %v", err)
	}
	if srv.Count(http.MethodPost, "/v1/namespaces/shop/tables/orders") == 0 {
		t.Fatal("no commit reached the server")
	}
	var conflicts int
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/namespaces/shop/tables/orders" && r.Status == http.StatusConflict {
			conflicts++
		}
	}
	if conflicts != 1 {
		t.Fatalf("%d commits answered 409, want 1", conflicts)
	}
	now := mustLoad(t, catB)
	if now.CurrentSnapshot().SnapshotID != won.CurrentSnapshot().SnapshotID {
		t.Fatalf("table at snapshot %d, want the first writer's %d", now.CurrentSnapshot().SnapshotID, won.CurrentSnapshot().SnapshotID)
	}
	if w := now.CurrentSnapshot().Summary.Properties["writer"]; w != "a" {
		t.Fatalf("current snapshot written by %q", w)
	}
	// After a reload, the second writer commits.
	if _, err := catalog.Apply(ctx, now, catalog.Commit{Checkpoint: cp, Summary: map[string]string{"writer": "b"}}); err != nil {
		t.Fatalf("commit after reload: %v", err)
	}
}

// TestRESTConfigErrors: settings that cannot work are refused up front, and
// the messages name the setting.
func TestRESTConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cfg  catalog.Config
		want string
	}{
		{catalog.Config{Type: "rest"}, "--catalog-uri"},
		{catalog.Config{Type: "rest", URI: "./catalog.db"}, "--catalog-uri"},
		{catalog.Config{Type: "rest", URI: "https://catalog.example", RESTCredential: "a:b", RESTToken: "t"}, "not both"},
		{catalog.Config{Type: "rest", URI: "https://catalog.example", RESTToken: "t", RESTSigV4: true}, "--rest-sigv4"},
	} {
		_, err := catalog.Open(ctx, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %s", c.cfg, err, c.want)
		}
	}
	if got := catalog.Types(); !strings.Contains(strings.Join(got, ","), "rest") {
		t.Errorf("rest is not a registered catalog type: %v", got)
	}
}

// TestRESTConcurrentCommits: writers holding the same snapshot commit at
// once; exactly one wins and every other gets an error wrapping
// table.ErrCommitFailed (never an unknown commit state).
func TestRESTConcurrentCommits(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	srv := resttest.Start(t, resttest.Options{ClientID: restClientID, ClientSecret: restSecret, Warehouse: wh})
	cfg := catalog.Config{URI: srv.URL, RESTCredential: restClientID + ":" + restSecret, Warehouse: wh}
	cat := openREST(t, cfg)
	src, tf := genOrders(t)
	if _, err := merge.Table(ctx, cat, src, upTo(tf, 1), ordersIdent, merge.Options{Key: []string{"order_id"}}); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	handles := make([]*table.Table, writers)
	for i := range handles {
		handles[i] = mustLoad(t, openREST(t, cfg))
	}
	cp, err := catalog.CheckpointOf(handles[0])
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, writers)
	start := make(chan struct{})
	for i, h := range handles {
		go func() {
			<-start
			_, err := catalog.Apply(ctx, h, catalog.Commit{Checkpoint: cp, Summary: map[string]string{"writer": string(rune('a' + i))}})
			errs <- err
		}()
	}
	close(start)
	won := 0
	for range writers {
		err := <-errs
		switch {
		case err == nil:
			won++
		case !errors.Is(err, table.ErrCommitFailed):
			t.Errorf("a losing commit failed with %v, want table.ErrCommitFailed", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d commits won, want 1", won)
	}
}

// TestRESTS3Warehouse: the REST catalog's tables live in an s3:// warehouse
// on a real S3 server (MinIO on loopback). The client reaches it only
// through the S3 endpoint and region cdcmerge hands to iceberg-go's REST
// catalog for table IO (the standard endpoint variable is cleared).
func TestRESTS3Warehouse(t *testing.T) {
	m := miniotest.Start(t)
	m.Env(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	m.Bucket(t, "lake")
	ctx := context.Background()
	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	const token = "s3-Token-c0ffee"
	srv := resttest.Start(t, resttest.Options{Token: token, Warehouse: "s3://lake/rest",
		IOProps: iceberg.Properties{"s3.endpoint": m.Endpoint, "s3.region": "us-east-1"}})
	cat, err := catalog.Open(ctx, catalog.Config{Type: "rest", URI: srv.URL, RESTToken: token, Warehouse: "s3://lake/rest",
		S3Endpoint: m.Endpoint, S3Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	src, tf := genOrders(t)
	st, err := merge.Table(ctx, cat, src, tf, ordersIdent, merge.Options{Key: []string{"order_id"}, BatchFiles: 3})
	if err != nil || st.Commits != 2 {
		t.Fatalf("merge: %+v %v", st, err)
	}
	tbl := mustLoad(t, cat)
	if !strings.HasPrefix(tbl.Location(), "s3://lake/rest/") {
		t.Fatalf("table location %s is not in the s3 warehouse", tbl.Location())
	}
	got, err := testutil.ReadTable(ctx, tbl, []string{"order_id"})
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.Diff(sqlRows(t, src, tf), got, 10); d != "" {
		t.Fatalf("REST table on S3 differs from the SQL catalog's:\n%s", d)
	}
	objs, err := m.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("rest/shop.db/orders/data/")})
	if err != nil || len(objs.Contents) == 0 {
		t.Fatalf("no data files in MinIO: %v", err)
	}
}

// TestRESTConcurrentRuns: two runs merge the same files into the same table
// through the REST catalog at once, round after round as files arrive; the
// commit conflict loop and the server's optimistic concurrency together
// lose nothing and apply nothing twice.
func TestRESTConcurrentRuns(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	srv := resttest.Start(t, resttest.Options{ClientID: restClientID, ClientSecret: restSecret, Warehouse: wh})
	cfg := catalog.Config{URI: srv.URL, RESTCredential: restClientID + ":" + restSecret, Warehouse: wh}
	src, tf := genOrders(t)
	for n := 1; n <= len(tf.CDC); n++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w := range errs {
			cat := openREST(t, cfg)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[w] = merge.Table(ctx, cat, src, upTo(tf, n), ordersIdent, merge.Options{Key: []string{"order_id"}, BatchFiles: 1})
			}()
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("round %d, writer %d: %v", n, w, err)
			}
		}
		cat := openREST(t, cfg)
		if d := testutil.Diff(sqlRows(t, src, upTo(tf, n)), readRows(t, cat), 10); d != "" {
			t.Fatalf("round %d: REST table differs from the SQL catalog's:\n%s", n, d)
		}
		cp, err := catalog.CheckpointOf(mustLoad(t, cat))
		if err != nil || cp.CDCLast != tf.CDC[n-1].Name {
			t.Fatalf("round %d: checkpoint %+v (%v)", n, cp, err)
		}
	}
	conflicts := 0
	for _, r := range srv.Requests() {
		if r.Status >= 500 {
			t.Errorf("request %s", r)
		}
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	t.Logf("%d requests answered 409", conflicts)
}

// TestRESTSigV4: with --rest-sigv4 every request is signed with the AWS
// credentials from the context, for the region and service configured
// (service "glue" by default, region from the AWS configuration when no
// S3 region is set), and the AWS secret key never shows.
func TestRESTSigV4(t *testing.T) {
	const awsSecret = "aws-Secret-Key-e1e1e1"
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", awsSecret, "")}
	ctx := utils.WithAwsConfig(context.Background(), &awsCfg)
	for _, c := range []struct {
		region, service, want string
	}{
		{"", "", "eu-west-1/glue"},
		{"us-east-2", "s3tables", "us-east-2/s3tables"},
	} {
		wh := t.TempDir()
		srv := resttest.Start(t, resttest.Options{Warehouse: wh})
		cat, err := catalog.Open(ctx, catalog.Config{Type: "rest", URI: srv.URL, Warehouse: wh, RESTSigV4: true, S3Region: c.region, RESTSigV4Service: c.service})
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.CreateNamespace(ctx, table.Identifier{"shop"}, nil); err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if len(reqs) < 2 {
			t.Fatalf("requests: %v", reqs)
		}
		for _, r := range reqs {
			if r.AuthScheme != "AWS4-HMAC-SHA256" || r.SigV4Scope != c.want {
				t.Errorf("request %s: auth %q scope %q, want SigV4 for %s", r, r.AuthScheme, r.SigV4Scope, c.want)
			}
		}
	}
	_, err := catalog.Open(context.Background(), catalog.Config{Type: "rest", URI: "http://127.0.0.1:1", RESTSigV4: true, RESTCredential: "a:" + awsSecret})
	if err == nil || strings.Contains(err.Error(), awsSecret) {
		t.Fatalf("sigv4 with a credential: %v", err)
	}
}
