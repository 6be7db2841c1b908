package gluetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// AccountID is the account the fake answers as: the CatalogId of every
// database and table it returns.
const AccountID = "123456789012"

// DefaultPageSize is the page size of GetTables and GetDatabases when the
// request gives no MaxResults (Glue's documented maximum is 100).
const DefaultPageSize = 100

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint to give the Glue client (glue.endpoint).
	URL string

	mu       sync.Mutex
	dbs      map[string]*database // by lower-case name
	calls    []Call
	pageSize int
	onUpdate func(database, table string)
	now      func() time.Time
}

type database struct {
	input   map[string]any // the DatabaseInput as sent, Name lower-cased
	created time.Time
	tables  map[string]*tableState // by lower-case name
}

type tableState struct {
	inputs   []map[string]any // every TableInput, oldest first
	version  int
	created  time.Time
	updated  time.Time
	versions []int // VersionId after each input, parallel to inputs
}

// Call is one request the fake received.
type Call struct {
	Op        string // e.g. "UpdateTable"
	CatalogID string // the request's CatalogId, "" if none was sent
	Database  string
	Table     string
	// VersionID is the VersionId an UpdateTable sent ("" if none).
	VersionID string
	// AccessKey is the access key id from the SigV4 credential scope.
	AccessKey string
	// Error is the error code returned, "" on success.
	Error string
}

// Start runs a fake on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{dbs: map[string]*database{}, pageSize: DefaultPageSize, now: time.Now}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// SetPageSize sets the page size used when a list request gives no
// MaxResults, so tests can force pagination.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// OnUpdateTable makes fn run at the start of every UpdateTable, before the
// fake looks at the VersionId, with no lock held: fn may itself call the
// fake (commit from another writer) to stage a race deterministically.
// nil removes the hook.
func (s *Server) OnUpdateTable(fn func(database, table string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onUpdate = fn
}

// AddDatabase creates a database directly, as if an administrator had.
func (s *Server) AddDatabase(name, locationURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := map[string]any{"Name": strings.ToLower(name)}
	if locationURI != "" {
		in["LocationUri"] = locationURI
	}
	s.dbs[strings.ToLower(name)] = &database{input: in, created: s.now(), tables: map[string]*tableState{}}
}

// Databases lists the database names, sorted.
func (s *Server) Databases() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.dbs))
}

// Database describes one database.
type Database struct {
	Name        string
	LocationURI string
	Parameters  map[string]string
}

// Database returns the named database.
func (s *Server) Database(name string) (Database, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ok := s.dbs[strings.ToLower(name)]
	if !ok {
		return Database{}, false
	}
	var d struct {
		Name        string
		LocationURI string `json:"LocationUri"`
		Parameters  map[string]string
	}
	remarshal(db.input, &d)
	return Database{Name: d.Name, LocationURI: d.LocationURI, Parameters: d.Parameters}, true
}

// Tables lists the table names of a database, sorted.
func (s *Server) Tables(db string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dbs[strings.ToLower(db)]
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(d.tables))
}

// Column is a column of a StorageDescriptor.
type Column struct {
	Name       string
	Type       string
	Comment    *string
	Parameters map[string]string
}

// StorageDescriptor is the part of a Glue StorageDescriptor tests look at.
type StorageDescriptor struct {
	Location string
	Columns  []Column
}

// TableInput is one TableInput as a client sent it. Raw holds the whole
// input as decoded JSON.
type TableInput struct {
	Name              string
	Description       *string
	TableType         string
	Parameters        map[string]string
	StorageDescriptor *StorageDescriptor
	// VersionID is the table's VersionId once this input was stored.
	VersionID string         `json:"-"`
	Raw       map[string]any `json:"-"`
}

// Table is a table's state: its current input and version, and every input
// it was created or updated with.
type Table struct {
	Database  string
	Name      string
	VersionID string
	// Current is the latest TableInput (the last of Inputs).
	Current TableInput
	// Inputs lists the CreateTable input and then each UpdateTable input
	// that was applied, oldest first.
	Inputs []TableInput
}

// Table returns the named table.
func (s *Server) Table(db, name string) (Table, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dbs[strings.ToLower(db)]
	if !ok {
		return Table{}, false
	}
	ts, ok := d.tables[strings.ToLower(name)]
	if !ok {
		return Table{}, false
	}
	out := Table{Database: d.input["Name"].(string), Name: strings.ToLower(name), VersionID: strconv.Itoa(ts.version)}
	for i, in := range ts.inputs {
		var ti TableInput
		remarshal(in, &ti)
		ti.VersionID = strconv.Itoa(ts.versions[i])
		ti.Raw = cloneJSON(in)
		out.Inputs = append(out.Inputs, ti)
	}
	out.Current = out.Inputs[len(out.Inputs)-1]
	return out, true
}

// Calls returns the requests received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the requests for one operation, in order.
func (s *Server) CallsTo(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// apiError is a Glue error: HTTP 400 and a JSON body with __type.
type apiError struct {
	status int
	code   string
	msg    string
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// request holds the fields of any operation's input the fake reads.
type request struct {
	CatalogID     string         `json:"CatalogId"`
	Name          string         `json:"Name"`
	DatabaseName  string         `json:"DatabaseName"`
	DatabaseInput map[string]any `json:"DatabaseInput"`
	TableInput    map[string]any `json:"TableInput"`
	VersionID     string         `json:"VersionId"`
	NextToken     string         `json:"NextToken"`
	MaxResults    int            `json:"MaxResults"`
	Expression    *string        `json:"Expression"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, &apiError{status: http.StatusNotFound, code: "UnknownOperationException", msg: "only POST / is served"})
		return
	}
	call := Call{}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSGlue.")
	call.Op = op
	var aerr *apiError
	defer func() {
		if aerr != nil {
			call.Error = aerr.code
		}
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.mu.Unlock()
	}()
	key, err := accessKey(r.Header.Get("Authorization"))
	call.AccessKey = key
	switch {
	case err != nil:
		aerr = err
	case !ok:
		aerr = errorf("UnknownOperationException", "X-Amz-Target %q is not an AWSGlue operation", target)
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1"):
		aerr = errorf("SerializationException", "Content-Type must be application/x-amz-json-1.1, got %q", r.Header.Get("Content-Type"))
	}
	var req request
	if aerr == nil {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			aerr = errorf("SerializationException", "cannot decode the request body: %v", err)
		}
	}
	call.CatalogID = req.CatalogID
	call.Database = strings.ToLower(req.DatabaseName)
	call.Table = strings.ToLower(req.Name)
	if req.TableInput != nil {
		call.Table = strings.ToLower(str(req.TableInput["Name"]))
	}
	if op == "GetDatabase" || op == "DeleteDatabase" || op == "UpdateDatabase" {
		call.Database, call.Table = strings.ToLower(req.Name), ""
	}
	if op == "CreateDatabase" && req.DatabaseInput != nil {
		call.Database = strings.ToLower(str(req.DatabaseInput["Name"]))
	}
	call.VersionID = req.VersionID
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var out any
	switch op {
	case "CreateDatabase":
		out, aerr = s.createDatabase(req)
	case "GetDatabase":
		out, aerr = s.getDatabase(req)
	case "GetDatabases":
		out, aerr = s.getDatabases(req)
	case "UpdateDatabase":
		out, aerr = s.updateDatabase(req)
	case "DeleteDatabase":
		out, aerr = s.deleteDatabase(req)
	case "CreateTable":
		out, aerr = s.createTable(req)
	case "GetTable":
		out, aerr = s.getTable(req)
	case "GetTables":
		out, aerr = s.getTables(req)
	case "UpdateTable":
		s.mu.Lock()
		hook := s.onUpdate
		s.mu.Unlock()
		if hook != nil {
			hook(call.Database, call.Table)
		}
		out, aerr = s.updateTable(req)
	case "DeleteTable":
		out, aerr = s.deleteTable(req)
	default:
		aerr = errorf("UnknownOperationException", "operation %s is not served by the gluetest fake", op)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	b, merr := json.Marshal(out)
	if merr != nil {
		aerr = &apiError{status: http.StatusInternalServerError, code: "InternalServiceException", msg: merr.Error()}
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", strconv.FormatInt(time.Now().UnixNano(), 36))
	_, _ = w.Write(b)
}

// accessKey returns the access key id of a SigV4 Authorization header for
// the glue service, or the error AWS gives for a missing or malformed one.
func accessKey(auth string) (string, *apiError) {
	if auth == "" {
		return "", &apiError{status: http.StatusBadRequest, code: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"}
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", &apiError{status: http.StatusBadRequest, code: "IncompleteSignatureException", msg: "Authorization header is not AWS4-HMAC-SHA256"}
	}
	for _, part := range strings.Split(rest, ",") {
		cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential=")
		if !ok {
			continue
		}
		// <key>/<date>/<region>/<service>/aws4_request
		f := strings.Split(cred, "/")
		if len(f) != 5 || f[0] == "" || f[4] != "aws4_request" {
			break
		}
		if f[3] != "glue" {
			return f[0], &apiError{status: http.StatusBadRequest, code: "InvalidSignatureException",
				msg: fmt.Sprintf("Credential should be scoped to correct service: 'glue', not %q", f[3])}
		}
		return f[0], nil
	}
	return "", &apiError{status: http.StatusBadRequest, code: "IncompleteSignatureException", msg: "Authorization header has no valid Credential"}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
	_, _ = w.Write(b)
}

func (s *Server) createDatabase(req request) (any, *apiError) {
	name := strings.ToLower(str(req.DatabaseInput["Name"]))
	if name == "" {
		return nil, errorf("InvalidInputException", "DatabaseInput.Name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dbs[name]; ok {
		return nil, errorf("AlreadyExistsException", "Database already exists.")
	}
	in := cloneJSON(req.DatabaseInput)
	in["Name"] = name
	s.dbs[name] = &database{input: in, created: s.now(), tables: map[string]*tableState{}}
	return struct{}{}, nil
}

func (s *Server) dbLocked(name string) (*database, *apiError) {
	if name == "" {
		return nil, errorf("InvalidInputException", "database name is required")
	}
	db, ok := s.dbs[strings.ToLower(name)]
	if !ok {
		return nil, errorf("EntityNotFoundException", "Database %s not found.", strings.ToLower(name))
	}
	return db, nil
}

func (s *Server) databaseOut(db *database) map[string]any {
	out := cloneJSON(db.input)
	out["CatalogId"] = AccountID
	out["CreateTime"] = epoch(db.created)
	return out
}

func (s *Server) getDatabase(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.dbLocked(req.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Database": s.databaseOut(db)}, nil
}

func (s *Server) getDatabases(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Sorted(maps.Keys(s.dbs))
	page, next, err := s.pageLocked(names, req)
	if err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for _, n := range page {
		list = append(list, s.databaseOut(s.dbs[n]))
	}
	out := map[string]any{"DatabaseList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) updateDatabase(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.dbLocked(req.Name)
	if err != nil {
		return nil, err
	}
	if req.DatabaseInput == nil {
		return nil, errorf("InvalidInputException", "DatabaseInput is required")
	}
	in := cloneJSON(req.DatabaseInput)
	in["Name"] = db.input["Name"]
	db.input = in
	return struct{}{}, nil
}

func (s *Server) deleteDatabase(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.dbLocked(req.Name); err != nil {
		return nil, err
	}
	delete(s.dbs, strings.ToLower(req.Name))
	return struct{}{}, nil
}

// pageLocked returns the page of names req asks for and the token of the
// next page ("" on the last). Tokens are the name to resume after.
func (s *Server) pageLocked(names []string, req request) ([]string, string, *apiError) {
	size := s.pageSize
	if req.MaxResults != 0 {
		if req.MaxResults < 1 || req.MaxResults > 100 {
			return nil, "", errorf("InvalidInputException", "MaxResults must be between 1 and 100")
		}
		size = req.MaxResults
	}
	start := 0
	if req.NextToken != "" {
		after, ok := strings.CutPrefix(req.NextToken, "after:")
		if !ok {
			return nil, "", errorf("InvalidInputException", "invalid NextToken")
		}
		start, _ = slices.BinarySearch(names, after)
		if start < len(names) && names[start] == after {
			start++
		}
	}
	end := min(start+size, len(names))
	page := names[start:end]
	if end < len(names) {
		return page, "after:" + names[end-1], nil
	}
	return page, "", nil
}

func (s *Server) tableOut(db *database, name string, ts *tableState) map[string]any {
	out := cloneJSON(ts.inputs[len(ts.inputs)-1])
	out["Name"] = name
	out["DatabaseName"] = db.input["Name"]
	out["CatalogId"] = AccountID
	out["CreateTime"] = epoch(ts.created)
	out["UpdateTime"] = epoch(ts.updated)
	out["VersionId"] = strconv.Itoa(ts.version)
	out["IsRegisteredWithLakeFormation"] = false
	return out
}

func validTableInput(in map[string]any) (string, *apiError) {
	if in == nil {
		return "", errorf("InvalidInputException", "TableInput is required")
	}
	name := strings.ToLower(str(in["Name"]))
	if name == "" {
		return "", errorf("InvalidInputException", "TableInput.Name is required")
	}
	if len(name) > 255 {
		return "", errorf("InvalidInputException", "TableInput.Name is longer than 255 characters")
	}
	var ti TableInput
	remarshal(in, &ti)
	if ti.StorageDescriptor != nil {
		for i, c := range ti.StorageDescriptor.Columns {
			if c.Name == "" {
				return "", errorf("InvalidInputException", "StorageDescriptor.Columns[%d].Name is required", i)
			}
		}
	}
	return name, nil
}

func (s *Server) createTable(req request) (any, *apiError) {
	name, err := validTableInput(req.TableInput)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.dbLocked(req.DatabaseName)
	if err != nil {
		return nil, err
	}
	if _, ok := db.tables[name]; ok {
		return nil, errorf("AlreadyExistsException", "Table already exists.")
	}
	now := s.now()
	db.tables[name] = &tableState{inputs: []map[string]any{cloneJSON(req.TableInput)}, versions: []int{0}, created: now, updated: now}
	return struct{}{}, nil
}

func (s *Server) tableLocked(dbName, name string) (*database, *tableState, *apiError) {
	db, err := s.dbLocked(dbName)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		return nil, nil, errorf("InvalidInputException", "table name is required")
	}
	ts, ok := db.tables[strings.ToLower(name)]
	if !ok {
		return nil, nil, errorf("EntityNotFoundException", "Table %s not found.", strings.ToLower(name))
	}
	return db, ts, nil
}

func (s *Server) getTable(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ts, err := s.tableLocked(req.DatabaseName, req.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Table": s.tableOut(db, strings.ToLower(req.Name), ts)}, nil
}

func (s *Server) getTables(req request) (any, *apiError) {
	if req.Expression != nil {
		return nil, errorf("InvalidInputException", "Expression is not supported by the gluetest fake")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := s.dbLocked(req.DatabaseName)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(db.tables))
	page, next, err := s.pageLocked(names, req)
	if err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for _, n := range page {
		list = append(list, s.tableOut(db, n, db.tables[n]))
	}
	out := map[string]any{"TableList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Server) updateTable(req request) (any, *apiError) {
	name, err := validTableInput(req.TableInput)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ts, err := s.tableLocked(req.DatabaseName, name)
	if err != nil {
		return nil, err
	}
	if req.VersionID != "" && req.VersionID != strconv.Itoa(ts.version) {
		return nil, errorf("ConcurrentModificationException",
			"Update table failed due to concurrent modifications: VersionId %s is not the current version %d", req.VersionID, ts.version)
	}
	ts.version++
	ts.updated = s.now()
	ts.inputs = append(ts.inputs, cloneJSON(req.TableInput))
	ts.versions = append(ts.versions, ts.version)
	return struct{}{}, nil
}

func (s *Server) deleteTable(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, _, err := s.tableLocked(req.DatabaseName, req.Name)
	if err != nil {
		return nil, err
	}
	delete(db.tables, strings.ToLower(req.Name))
	return struct{}{}, nil
}

// epoch renders a time as JSON 1.1 does: fractional epoch seconds.
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// cloneJSON deep-copies decoded JSON.
func cloneJSON(m map[string]any) map[string]any {
	var out map[string]any
	remarshal(m, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// remarshal converts decoded JSON into dst through a JSON round trip.
func remarshal(src, dst any) {
	b, err := json.Marshal(src)
	if err != nil {
		panic(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		panic(fmt.Sprintf("gluetest: %v", err))
	}
}
