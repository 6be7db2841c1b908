package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses
	"github.com/apache/iceberg-go/table"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver for a shared SQL catalog
	_ "modernc.org/sqlite"             // pure-Go SQLite driver for the embedded catalog

	"github.com/cdcmerge/cdcmerge/reader"
)

// SummaryCheckpoint is the snapshot summary property holding the checkpoint.
const SummaryCheckpoint = "cdcmerge.checkpoint"

// Config says which catalog to open. Fields that a catalog type does not
// use are ignored by it.
type Config struct {
	// Type names the catalog: "sql" (the default), or another registered
	// with Register ("glue", "rest").
	Type string
	// Name is the catalog name recorded in the SQL catalog's rows.
	Name string
	// URI is the database: a SQLite file path or file: URI for sql.
	// Empty means <Warehouse>/catalog.db.
	URI string
	// Warehouse is the root under which new tables are created: a local
	// folder or s3://bucket/prefix.
	Warehouse string
	// S3Endpoint and S3Region say how the warehouse's S3 is reached (the
	// credentials come from the AWS default chain, passed in the context
	// with iceberg-go's utils.WithAwsConfig). An endpoint turns on
	// path-style addressing, as MinIO needs.
	S3Endpoint string
	S3Region   string

	// Glue: the catalog id (account id, for a catalog in another account),
	// an endpoint (for tests or VPC endpoints), and whether a missing
	// database may be created.
	GlueCatalogID   string
	GlueEndpoint    string
	GlueNoCreateDBs bool
	// REST: the URI is URI; Credential ("id:secret" for the OAuth2 client
	// credentials flow) or Token; SigV4 signing for S3 Tables and Glue's
	// Iceberg REST endpoint (region and service "glue" or "s3tables").
	RESTCredential   string
	RESTToken        string
	RESTSigV4        bool
	RESTSigV4Service string
}

// Opener opens one type of catalog.
type Opener func(ctx context.Context, cfg Config) (icecat.Catalog, error)

var openers = map[string]Opener{}

// Register makes a catalog type available to Open. Each catalog type lives
// in its own file and registers itself in init.
func Register(typ string, o Opener) { openers[typ] = o }

// Types lists the registered catalog types.
func Types() []string {
	out := make([]string, 0, len(openers))
	for t := range openers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func init() { Register("sql", openSQL) }

// ioProps are the iceberg-go FileIO properties for cfg.
func (cfg Config) ioProps(loc string) iceberg.Properties {
	props := iceberg.Properties{"warehouse": loc}
	if cfg.S3Endpoint != "" {
		props["s3.endpoint"] = cfg.S3Endpoint
	}
	if cfg.S3Region != "" {
		props["s3.region"] = cfg.S3Region
	}
	return props
}

// Open opens the catalog described by cfg.
func Open(ctx context.Context, cfg Config) (icecat.Catalog, error) {
	typ := cfg.Type
	if typ == "" {
		typ = "sql"
	}
	o, ok := openers[typ]
	if !ok {
		return nil, fmt.Errorf("catalog type %q is not supported: use one of %s", cfg.Type, strings.Join(Types(), ", "))
	}
	return o(ctx, cfg)
}

// WarehouseLocation turns a warehouse setting into a location URI: local
// paths become absolute file:// URIs; URIs with a scheme are kept.
func WarehouseLocation(w string) (string, error) {
	if w == "" {
		return "", errors.New("no warehouse given: set --warehouse")
	}
	if strings.Contains(w, "://") {
		return strings.TrimRight(w, "/"), nil
	}
	abs, err := filepath.Abs(w)
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(abs), nil
}

func openSQL(_ context.Context, cfg Config) (icecat.Catalog, error) {
	loc, err := WarehouseLocation(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	uri := cfg.URI
	if uri == "" {
		if !strings.HasPrefix(loc, "file://") {
			return nil, fmt.Errorf("the embedded SQLite catalog keeps its database in a local file: with the warehouse on %s, give --catalog-uri /path/to/catalog.db (or use --catalog glue)", loc)
		}
		dir := strings.TrimPrefix(loc, "file://")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating warehouse %s: %w", dir, err)
		}
		uri = filepath.Join(dir, "catalog.db")
	}
	driver, dialect, dsn := "sqlite", sqlcat.SQLite, sqliteDSN(uri)
	if strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://") {
		// A shared catalog for teams: same tables, in PostgreSQL.
		driver, dialect, dsn = "pgx", sqlcat.Postgres, uri
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening catalog database %s: %w", redactURI(uri), err)
	}
	name := cfg.Name
	if name == "" {
		name = "default"
	}
	// Two runs starting at once both create the catalog's tables; SQLite
	// may answer one of them "database is locked" for schema changes even
	// with a busy timeout. Opening is idempotent, so try again.
	var cat *sqlcat.Catalog
	for try := 0; ; try++ {
		cat, err = sqlcat.NewCatalog(name, db, dialect, cfg.ioProps(loc))
		if err == nil || try >= 50 || !isSQLiteBusy(err) {
			break
		}
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening SQL catalog %s: %w", redactURI(uri), err)
	}
	return cat, nil
}

func isSQLiteBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// sqliteDSN adds the pragmas that let two processes share the file: WAL and
// a busy timeout, so a concurrent writer waits instead of failing at once.
func sqliteDSN(uri string) string {
	path := strings.TrimPrefix(uri, "file:")
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	return "file:" + path + "?" + q.Encode()
}

// Ident parses "ns.table" (the last dot separates the table name).
func Ident(name string) (table.Identifier, error) {
	i := strings.LastIndex(name, ".")
	if i <= 0 || i == len(name)-1 {
		return nil, fmt.Errorf("table name %q must be <namespace>.<table>", name)
	}
	return table.Identifier{name[:i], name[i+1:]}, nil
}

// LoadTable returns the table, or nil (and no error) if it does not exist.
func LoadTable(ctx context.Context, cat icecat.Catalog, ident table.Identifier) (*table.Table, error) {
	tbl, err := cat.LoadTable(ctx, ident)
	if errors.Is(err, icecat.ErrNoSuchTable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading table %s: %w", strings.Join(ident, "."), err)
	}
	return tbl, nil
}

// CreateTable creates the namespace if needed and then the table (opts
// may add a partition spec).
func CreateTable(ctx context.Context, cat icecat.Catalog, ident table.Identifier, sc *iceberg.Schema, props iceberg.Properties, opts ...icecat.CreateTableOpt) (*table.Table, error) {
	ns := icecat.NamespaceFromIdent(ident)
	if err := cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, icecat.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("creating namespace %s: %w", strings.Join(ns, "."), err)
	}
	tbl, err := cat.CreateTable(ctx, ident, sc, append([]icecat.CreateTableOpt{icecat.WithProperties(props)}, opts...)...)
	if errors.Is(err, icecat.ErrTableAlreadyExists) {
		// Another writer created it first: use theirs.
		return cat.LoadTable(ctx, ident)
	}
	if err != nil {
		return nil, fmt.Errorf("creating table %s: %w", strings.Join(ident, "."), err)
	}
	return tbl, nil
}

// CheckpointOf returns the checkpoint of the newest snapshot that carries
// one, or the zero checkpoint if no snapshot does.
func CheckpointOf(tbl *table.Table) (reader.Checkpoint, error) {
	if tbl == nil {
		return reader.Checkpoint{}, nil
	}
	meta := tbl.Metadata()
	for s := tbl.CurrentSnapshot(); s != nil; {
		if s.Summary != nil {
			if v, ok := s.Summary.Properties[SummaryCheckpoint]; ok {
				c, err := reader.DecodeCheckpoint(v)
				if err != nil {
					return reader.Checkpoint{}, fmt.Errorf("table %s, snapshot %d: %w", strings.Join(tbl.Identifier(), "."), s.SnapshotID, err)
				}
				return c, nil
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return reader.Checkpoint{}, nil
}
