package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Sink returns a Sink writing objects under s3://bucket/prefix. Each file
// is buffered and uploaded by one PutObject on Close, so a reader never
// sees half an object (as with DMS itself).
func S3Sink(client *s3.Client, bucket, prefix string) Sink {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return s3Sink{client: client, bucket: bucket, prefix: prefix}
}

type s3Sink struct {
	client *s3.Client
	bucket string
	prefix string
}

func (s s3Sink) Create(ctx context.Context, p string) (io.WriteCloser, error) {
	clean := path.Clean(p)
	if p == "" || path.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
		return nil, fmt.Errorf("gen: invalid sink path %q", p)
	}
	return &s3Object{ctx: ctx, sink: s, key: s.prefix + clean}, nil
}

type s3Object struct {
	ctx    context.Context
	sink   s3Sink
	key    string
	buf    bytes.Buffer
	closed bool
}

func (o *s3Object) Write(p []byte) (int, error) {
	if o.closed {
		return 0, os.ErrClosed
	}
	return o.buf.Write(p)
}

func (o *s3Object) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	_, err := o.sink.client.PutObject(o.ctx, &s3.PutObjectInput{
		Bucket: aws.String(o.sink.bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.buf.Bytes()),
		ContentLength: aws.Int64(int64(o.buf.Len())),
	})
	if err != nil {
		return fmt.Errorf("uploading s3://%s/%s: %w", o.sink.bucket, o.key, err)
	}
	return nil
}
