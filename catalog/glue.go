package catalog

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/glue"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cdcmerge/cdcmerge/internal/s3util"
)

// The Glue catalog (--catalog glue) is iceberg-go's catalog/glue: the
// tables are Glue tables of type EXTERNAL_TABLE with the parameters
// table_type=ICEBERG and metadata_location, and the current schema in
// StorageDescriptor.Columns with Hive type names, which is what Athena and
// the Glue console read. A commit is GetTable then UpdateTable with the
// VersionId read, so a concurrent commit in between fails with
// ConcurrentModificationException (wrapped as table.ErrCommitFailed).
//
// Table locations: a new table is created at
// <warehouse>/<database>.db/<table> even when its Glue database has a
// LocationUri of its own, so every file cdcmerge writes stays under
// --warehouse (the prefix the IAM policy grants). Databases cdcmerge
// creates get LocationUri <warehouse>/<database>.db.

func init() { Register("glue", openGlue) }

// glueNoDatabaseError says a table's Glue database does not exist and
// Config.GlueNoCreateDBs forbids creating it. It wraps iceberg-go's
// catalog.ErrNoSuchNamespace.
type glueNoDatabaseError struct{ name string }

func (e *glueNoDatabaseError) Error() string {
	return "Glue database " + e.name + " does not exist; create it or drop --glue-no-create-database"
}

func (e *glueNoDatabaseError) Unwrap() error { return icecat.ErrNoSuchNamespace }

func openGlue(ctx context.Context, cfg Config) (icecat.Catalog, error) {
	loc, err := WarehouseLocation(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	// The credentials: the AWS config the caller put in the context (the
	// same one the S3 file IO uses), else the default chain.
	var awsCfg aws.Config
	if c := utils.GetAwsConfig(ctx); c != nil {
		awsCfg = c.Copy()
		if cfg.S3Region != "" {
			awsCfg.Region = cfg.S3Region
		}
	} else if awsCfg, err = s3util.Config(ctx, s3util.Options{Region: cfg.S3Region}); err != nil {
		return nil, err
	}

	// Catalog properties: iceberg-go hands them to every table's file IO
	// (s3.*), reads glue.id for the CatalogId of every call, and uses
	// warehouse as the default table root. glue.endpoint is only read by
	// iceberg-go's property-based loader, not by NewCatalog: it is kept for
	// the record, and setGlueEndpoint does the work. The warehouse may be a
	// local folder (tests); Athena reads only s3:// tables.
	props := glue.AwsProperties{"warehouse": loc}
	s3ep := s3util.Options{Endpoint: cfg.S3Endpoint}.ResolvedEndpoint()
	if s3ep != "" {
		props["s3.endpoint"] = s3ep
	}
	if cfg.S3Region != "" {
		props["s3.region"] = cfg.S3Region
	}
	if cfg.GlueCatalogID != "" {
		props[glue.CatalogIdKey] = cfg.GlueCatalogID
	}
	if cfg.GlueEndpoint != "" {
		props[glue.Endpoint] = cfg.GlueEndpoint
		if err := setGlueEndpoint(&awsCfg, cfg.GlueEndpoint); err != nil {
			return nil, err
		}
	}
	inner, err := glue.NewCatalog(glue.WithAwsConfig(awsCfg), glue.WithAwsProperties(props))
	if err != nil {
		return nil, fmt.Errorf("opening Glue catalog: %w", err)
	}
	return &glueCatalog{Catalog: inner, warehouse: loc, noCreateDBs: cfg.GlueNoCreateDBs}, nil
}

// setGlueEndpoint points the Glue client built from awsCfg at ep without
// touching other services. glue.NewCatalog takes no client options, and
// aws.Config.BaseEndpoint would also redirect the S3 client iceberg-go
// builds from the same config, so the endpoint goes in as a service-specific
// config source, the way AWS_ENDPOINT_URL_GLUE would. The one case the SDK
// skips config sources (AWS_ENDPOINT_URL set, AWS_ENDPOINT_URL_GLUE not) is
// the case where BaseEndpoint already holds that global endpoint; then S3's
// endpoint resolves to it too and goes to the file IO explicitly as
// s3.endpoint (openGlue), so BaseEndpoint can carry the Glue endpoint.
func setGlueEndpoint(awsCfg *aws.Config, ep string) error {
	if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--glue-endpoint %q is not an http(s) URL", ep)
	}
	awsCfg.ConfigSources = append([]any{glueEndpointSource(ep)}, awsCfg.ConfigSources...)
	_, global := os.LookupEnv("AWS_ENDPOINT_URL")
	_, service := os.LookupEnv("AWS_ENDPOINT_URL_GLUE")
	if global && !service {
		awsCfg.BaseEndpoint = aws.String(ep)
	}
	return nil
}

// glueEndpointSource is an AWS config source that gives the Glue service
// an endpoint (the SDK's ServiceBaseEndpointProvider interface).
type glueEndpointSource string

// GetServiceBaseEndpoint returns the endpoint for Glue only.
func (s glueEndpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if sdkID == "Glue" {
		return string(s), true, nil
	}
	return "", false, nil
}

// glueCatalog is iceberg-go's Glue catalog with cdcmerge's rules for
// databases and table locations. Tables it returns commit through the
// inner catalog directly.
type glueCatalog struct {
	*glue.Catalog
	warehouse   string
	noCreateDBs bool
}

// CreateNamespace creates the Glue database unless it exists, in which
// case it returns an error wrapping ErrNamespaceAlreadyExists (what
// CreateTable ignores). With GlueNoCreateDBs a missing database is an
// error that says what to do, and nothing is created. A database that
// exists is never written to, so a role without glue:CreateDatabase works
// once the databases are there.
func (c *glueCatalog) CreateNamespace(ctx context.Context, ns table.Identifier, props iceberg.Properties) error {
	name := strings.Join(ns, ".")
	exists, err := c.Catalog.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return fmt.Errorf("looking up Glue database %s: %w", name, err)
	}
	if exists {
		return fmt.Errorf("Glue database %s: %w", name, icecat.ErrNamespaceAlreadyExists)
	}
	if c.noCreateDBs {
		return &glueNoDatabaseError{name: name}
	}
	p := iceberg.Properties{}
	for k, v := range props {
		p[k] = v
	}
	if _, ok := p[glue.PropsKeyLocation]; !ok {
		loc, err := url.JoinPath(c.warehouse, name+".db")
		if err != nil {
			return err
		}
		p[glue.PropsKeyLocation] = loc
	}
	return c.Catalog.CreateNamespace(ctx, ns, p)
}

// CreateTable creates the table at <warehouse>/<database>.db/<table>
// unless a location is given.
func (c *glueCatalog) CreateTable(ctx context.Context, ident table.Identifier, sc *iceberg.Schema, opts ...icecat.CreateTableOpt) (*table.Table, error) {
	cfg := icecat.NewCreateTableCfg()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Location == "" && len(ident) == 2 {
		loc, err := url.JoinPath(c.warehouse, ident[0]+".db", ident[1])
		if err != nil {
			return nil, err
		}
		opts = append(opts, icecat.WithLocation(loc))
	}
	return c.Catalog.CreateTable(ctx, ident, sc, opts...)
}
