// Package s3util builds S3 clients the way every part of cdcmerge needs
// them: the AWS default credential chain (environment, shared config and
// profile, web identity, ECS task role), the region from the usual places,
// and an optional endpoint for S3-compatible stores such as MinIO, which
// also turns on path-style addressing.
package s3util

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options say how to reach S3.
type Options struct {
	// Endpoint is an S3-compatible endpoint URL. Empty means the standard
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL variables, else AWS itself.
	Endpoint string
	// Region overrides the region from the environment and profile.
	Region string
}

// ResolvedEndpoint is the endpoint in force: o.Endpoint, else the standard
// environment variables.
func (o Options) ResolvedEndpoint() string {
	for _, v := range []string{o.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")} {
		if v != "" {
			return v
		}
	}
	return ""
}

// Config loads the AWS configuration with the default credential chain.
func Config(ctx context.Context, o Options) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// S3-compatible stores ignore the region but the signer needs one.
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// Client returns an S3 client for o.
func Client(ctx context.Context, o Options) (*s3.Client, error) {
	cfg, err := Config(ctx, o)
	if err != nil {
		return nil, err
	}
	ep := o.ResolvedEndpoint()
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		// Ranged GETs carry no whole-object checksum; do not log that.
		so.DisableLogOutputChecksumValidationSkipped = true
		if ep != "" {
			so.BaseEndpoint = aws.String(ep)
			so.UsePathStyle = true
		}
	}), nil
}

// ParseURL splits s3://bucket/prefix into bucket and prefix (without a
// leading slash; with a trailing slash unless empty).
func ParseURL(u string) (bucket, prefix string, err error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "s3" || p.Host == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/prefix URL", u)
	}
	prefix = strings.TrimPrefix(p.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return p.Host, prefix, nil
}

// IsURL reports whether s names an S3 location.
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }
