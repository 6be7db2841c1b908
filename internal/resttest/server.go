package resttest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // pure-Go SQLite driver for the backing catalog
)

// Options configure a Server.
type Options struct {
	// ClientID and ClientSecret are the OAuth2 client credentials the token
	// endpoint accepts. When ClientSecret is set, every other request needs
	// a bearer token.
	ClientID, ClientSecret string
	// Token is a bearer token accepted without the OAuth2 flow (as an
	// operator-issued token would be). When set, every request other than
	// the token endpoint needs a bearer token.
	Token string
	// Warehouse is where tables are created: a local folder or an
	// s3://bucket/prefix location. Empty means a fresh temporary folder.
	Warehouse string
	// IOProps are the file IO properties of the server's SQL catalog (the
	// server writes the metadata files), e.g. s3.endpoint for MinIO.
	IOProps iceberg.Properties
}

// Request is one request the server answered.
type Request struct {
	Method string
	Path   string // decoded URL path, e.g. /v1/namespaces/shop/tables/orders
	Query  string // raw query
	Status int
	// AuthScheme is the scheme of the Authorization header ("Bearer",
	// "AWS4-HMAC-SHA256", or "" without one); the credentials themselves
	// are not recorded.
	AuthScheme string
	// SigV4Scope is "<region>/<service>" from a SigV4 signature's
	// credential scope, "" for other requests.
	SigV4Scope string
}

func (r Request) String() string { return fmt.Sprintf("%s %s -> %d", r.Method, r.Path, r.Status) }

// Server is a running REST catalog fake.
type Server struct {
	// URL is the catalog URI to give iceberg-go's REST client
	// (http://127.0.0.1:port).
	URL string
	// Warehouse is the location tables are created under (file:// or s3://).
	Warehouse string
	// Catalog is the SQL catalog behind the server.
	Catalog *sqlcat.Catalog

	opts Options
	http *httptest.Server

	mu        sync.Mutex
	tokens    map[string]bool
	requests  []Request
	warehouse []string // warehouse query parameters of GET /v1/config
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := opts.Warehouse
	if dir == "" {
		dir = t.TempDir()
	}
	loc := dir
	if !strings.Contains(dir, "://") {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		loc = "file://" + filepath.ToSlash(abs)
	}
	dbPath := filepath.Join(t.TempDir(), "rest-catalog.db")
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	db, err := sql.Open("sqlite", "file:"+dbPath+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	props := iceberg.Properties{}
	for k, v := range opts.IOProps {
		props[k] = v
	}
	props["warehouse"] = loc
	cat, err := sqlcat.NewCatalog("resttest", db, sqlcat.SQLite, props)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	s := &Server{Warehouse: loc, Catalog: cat, opts: opts, tokens: map[string]bool{}}
	s.http = httptest.NewServer(s)
	s.URL = s.http.URL
	t.Cleanup(func() {
		s.http.Close()
		cat.Close()
		db.Close()
	})
	return s
}

// Requests returns the requests answered so far, in the order they finished.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests had this method and path.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// ConfigWarehouses returns the warehouse parameters clients sent to
// GET /v1/config.
func (s *Server) ConfigWarehouses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.warehouse...)
}

// IssuedTokens returns how many tokens the token endpoint issued.
func (s *Server) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

func (s *Server) authRequired() bool { return s.opts.ClientSecret != "" || s.opts.Token != "" }

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP answers one request and records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	s.serve(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status}
	rec.AuthScheme, rec.SigV4Scope = authOf(r)
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

// authOf returns the Authorization scheme and, for SigV4, region/service.
func authOf(r *http.Request) (scheme, scope string) {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != "AWS4-HMAC-SHA256" {
		return scheme, ""
	}
	for _, part := range strings.Split(rest, ",") {
		if cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
			// <access key>/<date>/<region>/<service>/aws4_request
			if f := strings.Split(cred, "/"); len(f) == 5 {
				return scheme, f[2] + "/" + f[3]
			}
		}
	}
	return scheme, ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	segs, err := pathSegments(r.URL)
	if err != nil || len(segs) == 0 || segs[0] != "v1" {
		writeError(w, http.StatusNotFound, "NotFoundException", "no such endpoint: "+r.Method+" "+r.URL.Path)
		return
	}
	segs = segs[1:]
	if len(segs) == 2 && segs[0] == "oauth" && segs[1] == "tokens" {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "the token endpoint takes POST")
			return
		}
		s.token(w, r)
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "NotAuthorizedException", "missing or invalid bearer token")
		return
	}
	ctx := r.Context()
	switch {
	case len(segs) == 1 && segs[0] == "config" && r.Method == http.MethodGet:
		s.config(w, r)
	case len(segs) == 1 && segs[0] == "namespaces":
		switch r.Method {
		case http.MethodGet:
			s.listNamespaces(ctx, w, r)
		case http.MethodPost:
			s.createNamespace(ctx, w, r)
		default:
			notAllowed(w, r)
		}
	case len(segs) == 2 && segs[0] == "namespaces":
		ns := splitNamespace(segs[1])
		switch r.Method {
		case http.MethodGet:
			props, err := s.Catalog.LoadNamespaceProperties(ctx, ns)
			if err != nil {
				writeCatalogError(w, err)
				return
			}
			if props == nil {
				props = iceberg.Properties{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "properties": props})
		case http.MethodHead:
			ok, err := s.Catalog.CheckNamespaceExists(ctx, ns)
			headAnswer(w, ok, err)
		case http.MethodDelete:
			if err := s.Catalog.DropNamespace(ctx, ns); err != nil {
				writeCatalogError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			notAllowed(w, r)
		}
	case len(segs) == 3 && segs[0] == "namespaces" && segs[2] == "tables":
		ns := splitNamespace(segs[1])
		switch r.Method {
		case http.MethodGet:
			s.listTables(ctx, w, ns)
		case http.MethodPost:
			s.createTable(ctx, w, r, ns)
		default:
			notAllowed(w, r)
		}
	case len(segs) == 4 && segs[0] == "namespaces" && segs[2] == "tables":
		ident := append(splitNamespace(segs[1]), segs[3])
		switch r.Method {
		case http.MethodGet:
			tbl, err := s.Catalog.LoadTable(ctx, ident)
			if err != nil {
				writeCatalogError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, loadTableResponse{MetadataLoc: tbl.MetadataLocation(), Metadata: tbl.Metadata(), Config: iceberg.Properties{}})
		case http.MethodHead:
			ok, err := s.Catalog.CheckTableExists(ctx, ident)
			headAnswer(w, ok, err)
		case http.MethodPost:
			s.commitTable(ctx, w, r, ident)
		case http.MethodDelete:
			var err error
			if r.URL.Query().Get("purgeRequested") == "true" {
				err = s.Catalog.PurgeTable(ctx, ident)
			} else {
				err = s.Catalog.DropTable(ctx, ident)
			}
			if err != nil {
				writeCatalogError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			notAllowed(w, r)
		}
	default:
		writeError(w, http.StatusNotFound, "NotFoundException", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

// endpoints are the endpoints GET /v1/config advertises: exactly those
// served.
var endpoints = []string{
	"GET /v1/{prefix}/namespaces",
	"POST /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"DELETE /v1/{prefix}/namespaces/{namespace}",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"POST /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	if wh := r.URL.Query().Get("warehouse"); wh != "" {
		s.mu.Lock()
		s.warehouse = append(s.warehouse, wh)
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"defaults":  map[string]string{},
		"overrides": map[string]string{},
		"endpoints": endpoints,
	})
}

// token is the OAuth2 token endpoint (RFC 6749 section 4.4, client
// credentials in the form body or in HTTP Basic authentication).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if s.opts.ClientSecret == "" || !equal(id, s.opts.ClientID) || !equal(secret, s.opts.ClientSecret) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	tok := "resttest-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":      tok,
		"token_type":        "bearer",
		"expires_in":        3600,
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) authorized(r *http.Request) bool {
	if !s.authRequired() {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return false
	}
	if s.opts.Token != "" && equal(tok, s.opts.Token) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[tok]
}

func (s *Server) listNamespaces(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	var parent table.Identifier
	if p := r.URL.Query().Get("parent"); p != "" {
		parent = strings.Split(p, "\x1f")
	}
	nss, err := s.Catalog.ListNamespaces(ctx, parent)
	if err != nil {
		writeCatalogError(w, err)
		return
	}
	if nss == nil {
		nss = []table.Identifier{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": nss})
}

func (s *Server) createNamespace(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	var req struct {
		Namespace  table.Identifier   `json:"namespace"`
		Properties iceberg.Properties `json:"properties"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if len(req.Namespace) == 0 {
		writeError(w, http.StatusBadRequest, "BadRequestException", "namespace is required")
		return
	}
	if err := s.Catalog.CreateNamespace(ctx, req.Namespace, req.Properties); err != nil {
		writeCatalogError(w, err)
		return
	}
	props := req.Properties
	if props == nil {
		props = iceberg.Properties{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": req.Namespace, "properties": props})
}

type restIdentifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

func (s *Server) listTables(ctx context.Context, w http.ResponseWriter, ns table.Identifier) {
	ids := []restIdentifier{}
	for id, err := range s.Catalog.ListTables(ctx, ns) {
		if err != nil {
			writeCatalogError(w, err)
			return
		}
		ids = append(ids, restIdentifier{Namespace: icecat.NamespaceFromIdent(id), Name: icecat.TableNameFromIdent(id)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"identifiers": ids})
}

// createTableRequest is the CreateTableRequest of the REST spec. The spec and
// sort order are decoded unbound: their source ids refer to the request's
// schema, and the SQL catalog binds them (table.NewMetadata) while it assigns
// the table's field ids.
type createTableRequest struct {
	Name          string                        `json:"name"`
	Schema        *iceberg.Schema               `json:"schema"`
	Location      string                        `json:"location"`
	PartitionSpec *iceberg.UnboundPartitionSpec `json:"partition-spec"`
	WriteOrder    *table.UnboundSortOrder       `json:"write-order"`
	StageCreate   bool                          `json:"stage-create"`
	Properties    iceberg.Properties            `json:"properties"`
}

// loadTableResponse is the LoadTableResult of the REST spec.
type loadTableResponse struct {
	MetadataLoc string             `json:"metadata-location"`
	Metadata    table.Metadata     `json:"metadata"`
	Config      iceberg.Properties `json:"config"`
}

func (s *Server) createTable(ctx context.Context, w http.ResponseWriter, r *http.Request, ns table.Identifier) {
	var req createTableRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Name == "" || req.Schema == nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "name and schema are required")
		return
	}
	if req.StageCreate {
		writeError(w, http.StatusNotImplemented, "NotImplementedException", "stage-create is not supported by this test server")
		return
	}
	var opts []icecat.CreateTableOpt
	if req.Location != "" {
		opts = append(opts, icecat.WithLocation(req.Location))
	}
	if req.PartitionSpec != nil {
		spec := req.PartitionSpec.PartitionSpec
		opts = append(opts, icecat.WithPartitionSpec(&spec))
	}
	if req.WriteOrder != nil {
		opts = append(opts, icecat.WithSortOrder(req.WriteOrder.SortOrder))
	}
	if req.Properties != nil {
		opts = append(opts, icecat.WithProperties(req.Properties))
	}
	ident := append(append(table.Identifier{}, ns...), req.Name)
	tbl, err := s.Catalog.CreateTable(ctx, ident, req.Schema, opts...)
	if err != nil {
		writeCatalogError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, loadTableResponse{MetadataLoc: tbl.MetadataLocation(), Metadata: tbl.Metadata(), Config: iceberg.Properties{}})
}

// commitTableRequest is the CommitTableRequest of the REST spec, decoded with
// iceberg-go's own requirement and update parsers.
type commitTableRequest struct {
	Identifier   *restIdentifier    `json:"identifier"`
	Requirements table.Requirements `json:"requirements"`
	Updates      table.Updates      `json:"updates"`
}

func (s *Server) commitTable(ctx context.Context, w http.ResponseWriter, r *http.Request, ident table.Identifier) {
	var req commitTableRequest
	if !readJSON(w, r, &req) {
		return
	}
	meta, loc, err := s.Catalog.CommitTable(ctx, ident, req.Requirements, req.Updates)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]any{"metadata-location": loc, "metadata": meta})
		return
	}
	if errors.Is(err, table.ErrCommitFailed) {
		// The metadata pointer moved between the SQL catalog's check and
		// its compare-and-set.
		writeError(w, http.StatusConflict, "CommitFailedException", err.Error())
		return
	}
	// The SQL catalog reports a failed requirement as a plain error: tell it
	// apart from a bad update by checking the requirements against the
	// table as it is now.
	cur, lerr := s.Catalog.LoadTable(ctx, ident)
	var md table.Metadata
	switch {
	case lerr == nil:
		md = cur.Metadata()
	case errors.Is(lerr, icecat.ErrNoSuchTable) || errors.Is(lerr, icecat.ErrNoSuchNamespace):
		creating := false
		for _, rq := range req.Requirements {
			creating = creating || rq.GetType() == "assert-create"
		}
		if !creating {
			writeCatalogError(w, lerr)
			return
		}
	default:
		writeError(w, http.StatusInternalServerError, "ServiceFailureException", err.Error())
		return
	}
	for _, rq := range req.Requirements {
		if verr := rq.Validate(md); verr != nil {
			writeError(w, http.StatusConflict, "CommitFailedException", verr.Error())
			return
		}
	}
	if errors.Is(err, iceberg.ErrInvalidArgument) || errors.Is(err, iceberg.ErrInvalidSchema) {
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}
	writeCatalogError(w, err)
}

// pathSegments splits the escaped path and unescapes each segment, so an
// escaped "/" or the %1F namespace separator inside a segment survive.
func pathSegments(u *url.URL) ([]string, error) {
	raw := strings.Trim(u.EscapedPath(), "/")
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		v, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		parts[i] = v
	}
	return parts, nil
}

// splitNamespace splits a namespace path segment (levels joined with the
// unit separator, the REST default) into its levels.
func splitNamespace(seg string) table.Identifier { return strings.Split(seg, "\x1f") }

func headAnswer(w http.ResponseWriter, ok bool, err error) {
	switch {
	case err != nil:
		w.WriteHeader(statusOf(err))
	case ok:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func notAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "method "+r.Method+" is not supported on "+r.URL.Path)
}

func readJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20))
	if err := dec.Decode(dst); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "malformed request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceFailureException", "encoding response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes the REST spec's ErrorModel.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": status}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeOAuthError writes an RFC 6749 section 5.2 error.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusOf maps an iceberg-go catalog error to the REST status and type.
func statusOf(err error) int {
	s, _ := classify(err)
	return s
}

func classify(err error) (int, string) {
	switch {
	case errors.Is(err, icecat.ErrNoSuchTable):
		return http.StatusNotFound, "NoSuchTableException"
	case errors.Is(err, icecat.ErrNoSuchNamespace):
		return http.StatusNotFound, "NoSuchNamespaceException"
	case errors.Is(err, icecat.ErrTableAlreadyExists), errors.Is(err, icecat.ErrNamespaceAlreadyExists):
		return http.StatusConflict, "AlreadyExistsException"
	case errors.Is(err, icecat.ErrNamespaceNotEmpty):
		return http.StatusConflict, "NamespaceNotEmptyException"
	case errors.Is(err, table.ErrCommitFailed):
		return http.StatusConflict, "CommitFailedException"
	case errors.Is(err, iceberg.ErrInvalidArgument):
		return http.StatusBadRequest, "BadRequestException"
	}
	return http.StatusInternalServerError, "ServiceFailureException"
}

func writeCatalogError(w http.ResponseWriter, err error) {
	status, typ := classify(err)
	writeError(w, status, typ, err.Error())
}
