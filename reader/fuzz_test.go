package reader

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
	f.Add(`{"v":1,"cdc_last":"20260510-100000000.csv","cdc_files":1,"horizon":"2026-05-10T00:00:00Z","part_file":"20260510-110000000.csv.gz","part_records":4096}`)
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

// TestReadFileCorrupt: inputs the fuzzer found, each refused with a clear
// error before arrow-go acts on the corrupt claim: a Snappy block claiming
// 64 MiB in a 1 KB file (arrow-go allocated it), a column chunk of negative
// size (arrow-go panicked). They are also in testdata/fuzz/FuzzReadFile, so
// FuzzReadFile replays them.
func TestReadFileCorrupt(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"snappy-claims-64mib.parquet.bin", "snappy data claims"},
		{"negative-chunk-size.parquet.bin", "corrupt Parquet footer"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			file := File{Object: Object{Path: "s/t/20260510-100000000.parquet", Size: int64(len(data))}, Name: "20260510-100000000.parquet", Kind: CDC}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = ReadFile(context.Background(), memSource{data}, file, memory.DefaultAllocator)
			runtime.ReadMemStats(&after)
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != file.Path || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "re-upload") {
				t.Fatalf("error %v, want a FileError naming the file and saying %q", err, tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Fatalf("decoding the %d-byte file allocated %d MiB", len(data), n>>20)
			}
		})
	}
}
