package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Source is a Source over s3://bucket/prefix. Listing is paginated and
// recursive; files are read with ranged GETs, so a Parquet file's footer is
// fetched first and then only the byte ranges the decoder asks for.
type S3Source struct {
	Client *s3.Client
	Bucket string
	Prefix string // "" or ending in "/"
}

// String implements Source.
func (s S3Source) String() string { return "s3://" + s.Bucket + "/" + s.Prefix }

// List implements Source.
func (s S3Source) List(ctx context.Context) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", s, err)
		}
		for _, o := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), s.Prefix)
			if rel == "" || strings.HasSuffix(rel, "/") || hiddenPath(rel) {
				continue
			}
			var mod time.Time
			if o.LastModified != nil {
				mod = *o.LastModified
			}
			out = append(out, Object{Path: rel, Size: aws.ToInt64(o.Size), ModTime: mod})
		}
	}
	return out, nil
}

// hiddenPath reports whether a path has a segment starting with "." or "_"
// (temporary files of uploaders), which DirSource skips as well.
func hiddenPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}

// Open implements Source. The object's size comes from a HEAD request; reads
// are ranged GETs.
func (s S3Source) Open(ctx context.Context, path string) (ReadAtCloser, int64, error) {
	key := s.Prefix + path
	head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, 0, fmt.Errorf("s3://%s/%s: %w", s.Bucket, key, err)
	}
	size := aws.ToInt64(head.ContentLength)
	return &s3Object{ctx: ctx, src: s, key: key, size: size, etag: aws.ToString(head.ETag)}, size, nil
}

// s3Object reads one object by ranges. The ETag of the HEAD pins the
// version: if the object is replaced while being read, reads fail instead
// of mixing two versions.
type s3Object struct {
	ctx  context.Context
	src  S3Source
	key  string
	size int64
	etag string
	off  int64
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	end := off + int64(len(p)) - 1
	if end >= o.size {
		end = o.size - 1
	}
	in := &s3.GetObjectInput{
		Bucket: aws.String(o.src.Bucket), Key: aws.String(o.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
	}
	if o.etag != "" {
		in.IfMatch = aws.String(o.etag)
	}
	out, err := o.src.Client.GetObject(o.ctx, in)
	if err != nil {
		return 0, fmt.Errorf("s3://%s/%s: %w", o.src.Bucket, o.key, err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p[:end-off+1])
	if err != nil {
		return n, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *s3Object) Read(p []byte) (int, error) {
	n, err := o.ReadAt(p, o.off)
	o.off += int64(n)
	return n, err
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, errors.New("bad whence")
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	o.off = offset
	return offset, nil
}

func (o *s3Object) Close() error { return nil }
