package reader

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// memSource serves one in-memory file.
type memSource struct{ data []byte }

func (m memSource) String() string { return "mem" }
func (m memSource) List(context.Context) ([]Object, error) {
	return []Object{{Path: "s/t/20260510-100000000.parquet", Size: int64(len(m.data)), ModTime: time.Unix(0, 0)}}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (m memSource) Open(context.Context, string) (ReadAtCloser, int64, error) {
	return nopCloser{bytes.NewReader(m.data)}, int64(len(m.data)), nil
}

// FuzzReadFile feeds arbitrary bytes to the Parquet decoder: it must return
// a *FileError naming the file, never panic or hang.
func FuzzReadFile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.parquet"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[len(b)/2:])
	}
	f.Add([]byte{})
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := memSource{data}
		file := File{Object: Object{Path: "s/t/20260510-100000000.parquet", Size: int64(len(data))}, Name: "20260510-100000000.parquet", Kind: CDC}
		d, err := ReadFile(context.Background(), src, file, memory.DefaultAllocator)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != file.Path {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if int(d.Record.NumRows()) != len(d.Ops) {
			t.Fatalf("%d rows but %d ops", d.Record.NumRows(), len(d.Ops))
		}
		d.Release()
	})
}

// FuzzDecodeCheckpoint: any summary value decodes to a valid checkpoint or
// an error, and a valid one survives a round trip.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(`{"v":1,"load_last":"LOAD00000001.parquet","load_number":1,"load_files":1,"cdc_last":"20260510-100000000.parquet","cdc_files":3,"horizon":"2026-05-10T00:00:00Z"}`)
	f.Add(`{"v":1}`)
	f.Add(`{"v":1,"cdc_last":"20260510-100000000.parquet","cdc_files":1,"horizon":"2026-05-10T00:00:00Z","recent":[{"p":"s/t/20260510-100000000.parquet","d":"0123456789abcdef0123456789abcdef"}]}`)
	f.Add(`{"v":1,"load_last":"LOAD00000001.parquet","load_number":1,"load_files":1,"horizon":"2026-05-10T00:00:00Z","part_file":"20260510-100000000.parquet","part_row_groups":3}`)
	f.Add(`{"v":2}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCheckpoint(s)
		if err != nil {
			return
		}
		d, err := DecodeCheckpoint(c.Encode())
		if err != nil {
			t.Fatalf("re-decoding %q: %v", c.Encode(), err)
		}
		if d.Encode() != c.Encode() {
			t.Fatalf("round trip changed %q to %q", c.Encode(), d.Encode())
		}
	})
}
