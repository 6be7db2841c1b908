package reader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// chunkySource serves files whose sequential reads return at most chunk
// bytes at a time, as a network stream may.
type chunkySource struct {
	files map[string][]byte
	chunk int
}

func (s chunkySource) String() string                         { return "chunky" }
func (s chunkySource) List(context.Context) ([]Object, error) { return nil, nil }

type chunkyReader struct {
	*bytes.Reader
	chunk int
}

func (r chunkyReader) Read(p []byte) (int, error) {
	if len(p) > r.chunk {
		p = p[:r.chunk]
	}
	return r.Reader.Read(p)
}
func (chunkyReader) Close() error { return nil }

func (s chunkySource) Open(_ context.Context, p string) (ReadAtCloser, int64, error) {
	b, ok := s.files[p]
	if !ok {
		return nil, 0, os.ErrNotExist
	}
	return chunkyReader{bytes.NewReader(b), s.chunk}, int64(len(b)), nil
}

// TestDigest: a digest comes from the reads a decoder makes, so
// byte-identical files get the same one (whatever their names, and however
// a stream is cut into reads), and files that differ in one byte get
// different ones.
func TestDigest(t *testing.T) {
	cdc, err := os.ReadFile(filepath.Join("testdata", "cdc.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	load, err := os.ReadFile(filepath.Join("testdata", "load.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	csvA := []byte("I,2026-05-10 10:00:00.000000,1,a\nU,2026-05-10 10:00:01.000000,2,b\n")
	csvB := bytes.Replace(csvA, []byte("b\n"), []byte("c\n"), 1)
	files := map[string][]byte{"a.parquet": cdc, "copy.parquet": bytes.Clone(cdc), "load.parquet": load, "a.csv": csvA, "copy.csv": bytes.Clone(csvA), "b.csv": csvB}
	digests := map[string]Digest{}
	for _, chunk := range []int{1 << 20, 7} {
		src := NewDigestSource(chunkySource{files, chunk})
		for name := range files {
			if strings.HasSuffix(name, ".parquet") {
				d, err := ReadFile(context.Background(), src, File{Object: Object{Path: name}}, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				d.Release()
			} else {
				r, _, err := src.Open(context.Background(), name)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, iotest.OneByteReader(r)); err != nil {
					t.Fatal(err)
				}
				r.Close()
			}
			dg, ok := src.Digest(name)
			if !ok || !dg.valid() {
				t.Fatalf("%s: digest %q, %v", name, dg, ok)
			}
			key := fmt.Sprintf("%s/%d", name, chunk)
			digests[key] = dg
			if prev, ok := digests[name+"/1048576"]; ok && prev != dg {
				t.Errorf("%s: digest %s read in chunks of %d, %s in one read", name, dg, chunk, prev)
			}
		}
	}
	same := [][2]string{{"a.parquet", "copy.parquet"}, {"a.csv", "copy.csv"}}
	for _, p := range same {
		if digests[p[0]+"/7"] != digests[p[1]+"/7"] {
			t.Errorf("identical files %s and %s have different digests", p[0], p[1])
		}
	}
	differ := [][2]string{{"a.parquet", "load.parquet"}, {"a.csv", "b.csv"}}
	for _, p := range differ {
		if digests[p[0]+"/7"] == digests[p[1]+"/7"] {
			t.Errorf("different files %s and %s have the same digest", p[0], p[1])
		}
	}
}

// TestCheckpointRecent: Remember keeps the last RecentFiles digests; a
// checkpoint written before digests existed still decodes; a malformed
// digest does not.
func TestCheckpointRecent(t *testing.T) {
	var c Checkpoint
	for i := range RecentFiles + 5 {
		c = c.Remember([]FileDigest{{Path: fmt.Sprintf("s/t/%d.parquet", i), Digest: Digest(fmt.Sprintf("%032x", i))}})
	}
	if len(c.Recent) != RecentFiles || c.Recent[0].Path != "s/t/5.parquet" || c.Recent[RecentFiles-1].Path != fmt.Sprintf("s/t/%d.parquet", RecentFiles+4) {
		t.Fatalf("recent after %d files: %d entries from %s", RecentFiles+5, len(c.Recent), c.Recent[0].Path)
	}
	d, err := DecodeCheckpoint(c.Encode())
	if err != nil || len(d.Recent) != RecentFiles || d.Encode() != c.Encode() {
		t.Fatalf("round trip: %v", err)
	}
	old := `{"v":1,"cdc_last":"20260510-100000000.parquet","cdc_files":3,"horizon":"2026-05-10T00:00:00Z"}`
	if d, err := DecodeCheckpoint(old); err != nil || len(d.Recent) != 0 || d.CDCLast != "20260510-100000000.parquet" {
		t.Fatalf("a checkpoint without recent files: %+v, %v", d, err)
	}
	for _, bad := range []string{`{"v":1,"recent":[{"p":"a","d":"xyz"}]}`, `{"v":1,"recent":[{"p":"","d":"00000000000000000000000000000000"}]}`, `{"v":1,"recent":[{"p":"a","d":"0000000000000000000000000000000A"}]}`} {
		if _, err := DecodeCheckpoint(bad); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}
