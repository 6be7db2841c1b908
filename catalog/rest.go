package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cdcmerge/cdcmerge/internal/s3util"
)

// DefaultRESTSigV4Service is the SigV4 service name used when
// RESTSigV4Service is empty: Glue's Iceberg REST endpoint. S3 Tables uses
// "s3tables".
const DefaultRESTSigV4Service = "glue"

func init() { Register("rest", openREST) }

// openREST opens an Iceberg REST catalog (iceberg-go's catalog/rest) at
// cfg.URI. Authentication is one of: the OAuth2 client-credentials flow
// (cfg.RESTCredential "id:secret", token from <uri>/v1/oauth/tokens), a
// bearer token (cfg.RESTToken), or AWS SigV4 signing (cfg.RESTSigV4) with
// the AWS default credential chain. cfg.Warehouse is passed to the server as
// its "warehouse" setting verbatim (a location, or whatever the server
// expects there, such as an S3 Tables bucket ARN). S3Endpoint and S3Region
// are handed to the tables' file IO so data files reach S3-compatible stores.
//
// No error returned here contains the credential or the token.
func openREST(ctx context.Context, cfg Config) (icecat.Catalog, error) {
	if cfg.URI == "" {
		return nil, errors.New("the rest catalog needs the catalog's URI: set --catalog-uri (or CDCMERGE_CATALOG_URI), e.g. https://catalog.example.com/api/catalog")
	}
	u, err := url.Parse(cfg.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--catalog-uri %q is not an http:// or https:// URL of a REST catalog", redactURI(cfg.URI))
	}
	if cfg.RESTCredential != "" && cfg.RESTToken != "" {
		return nil, errors.New("the rest catalog takes either --rest-credential or --rest-token, not both")
	}
	if cfg.RESTSigV4 && (cfg.RESTCredential != "" || cfg.RESTToken != "") {
		return nil, errors.New("--rest-sigv4 signs every request with AWS credentials: do not also give --rest-credential or --rest-token")
	}

	opts := []rest.Option{}
	if cfg.Warehouse != "" {
		opts = append(opts, rest.WithWarehouseLocation(cfg.Warehouse))
	}
	switch {
	case cfg.RESTCredential != "":
		opts = append(opts, rest.WithCredential(cfg.RESTCredential))
	case cfg.RESTToken != "":
		opts = append(opts, rest.WithOAuthToken(cfg.RESTToken))
	}
	if cfg.RESTSigV4 {
		awsCfg, err := restAWSConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		region := cfg.S3Region
		if region == "" {
			region = awsCfg.Region
		}
		if region == "" {
			return nil, errors.New("--rest-sigv4 needs an AWS region: set --s3-region or AWS_REGION")
		}
		svc := cfg.RESTSigV4Service
		if svc == "" {
			svc = DefaultRESTSigV4Service
		}
		opts = append(opts, rest.WithAwsConfig(awsCfg), rest.WithSigV4RegionSvc(region, svc))
	}
	// File IO of the tables: the catalog passes these on to every table
	// it loads (the server's per-table config may add to them).
	ioProps := iceberg.Properties{}
	if cfg.S3Endpoint != "" {
		ioProps["s3.endpoint"] = cfg.S3Endpoint
	}
	if cfg.S3Region != "" {
		ioProps["s3.region"] = cfg.S3Region
	}
	if len(ioProps) > 0 {
		opts = append(opts, rest.WithAdditionalProps(ioProps))
	}

	name := cfg.Name
	if name == "" {
		name = "default"
	}
	cat, err := rest.NewCatalog(ctx, name, cfg.URI, opts...)
	if err != nil {
		err = redactErr(err, cfg.RESTCredential, cfg.RESTToken)
		if hint := restAuthHint(err, cfg); hint != "" {
			return nil, fmt.Errorf("opening REST catalog %s: %s: %w", redactURI(cfg.URI), hint, err)
		}
		return nil, fmt.Errorf("opening REST catalog %s: %w", redactURI(cfg.URI), err)
	}
	return cat, nil
}

// restAuthHint says which setting to check when the catalog refused the
// authentication; "" for other errors.
func restAuthHint(err error, cfg Config) string {
	if errors.Is(err, rest.ErrOAuthError) {
		return "the catalog refused the OAuth2 client credential: check --rest-credential (CDCMERGE_REST_CREDENTIAL)"
	}
	if !errors.Is(err, rest.ErrUnauthorized) && !errors.Is(err, rest.ErrForbidden) && !errors.Is(err, rest.ErrAuthorizationExpired) {
		return ""
	}
	switch {
	case cfg.RESTToken != "":
		return "the catalog refused the token: check --rest-token (CDCMERGE_REST_TOKEN)"
	case cfg.RESTCredential != "":
		return "the catalog refused the token it issued for the credential: check --rest-credential (CDCMERGE_REST_CREDENTIAL)"
	case cfg.RESTSigV4:
		return "the catalog refused the SigV4-signed request: check the AWS credentials, the region and --rest-sigv4-service"
	}
	return "the catalog needs authentication: set --rest-credential or --rest-token (or --rest-sigv4)"
}

// restAWSConfig is the AWS configuration SigV4 signs with: the one in the
// context (utils.WithAwsConfig, as the CLI sets it), else the default chain.
func restAWSConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	if c := utils.GetAwsConfig(ctx); c != nil {
		return *c, nil
	}
	return s3util.Config(ctx, s3util.Options{Region: cfg.S3Region})
}

// redactURI hides a password in a URI's user information and the values
// of query parameters that carry secrets (password, token, secret,
// credential, key), for messages.
func redactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URI>"
	}
	q := u.Query()
	changed := false
	for k := range q {
		l := strings.ToLower(k)
		for _, w := range []string{"password", "token", "secret", "credential", "key"} {
			if strings.Contains(l, w) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactErr returns err with every secret replaced by "***" in its message,
// still wrapping err (errors.Is and errors.As see the original chain; only
// Error() is rewritten). The secrets are the whole credential, its secret
// part (after the first ':') and the token.
func redactErr(err error, credential, token string) error {
	if err == nil {
		return nil
	}
	base := []string{credential, token}
	if _, sec, ok := strings.Cut(credential, ":"); ok {
		base = append(base, sec)
	}
	var secrets []string
	for _, s := range base {
		if s == "" {
			continue
		}
		// Also the form-encoded spelling the OAuth2 request uses. The
		// whole credential comes before its secret part, so it is
		// replaced whole.
		secrets = append(secrets, s, url.QueryEscape(s))
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "***")
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
