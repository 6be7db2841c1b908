package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Sink is where generated files go. path is slash-separated and relative
// (e.g. "shop/orders/LOAD00000001.parquet"). A file must not become visible
// to readers before Close returns nil.
type Sink interface {
	Create(ctx context.Context, path string) (io.WriteCloser, error)
}

// DirSink returns a Sink writing under the local directory root. Parent
// directories are created as needed; each file is written to a hidden
// temporary file in the target directory and renamed into place on Close,
// so a reader never sees half a file. If a Write failed, Close removes the
// temporary file and returns the write error.
func DirSink(root string) Sink { return dirSink{root: root} }

type dirSink struct{ root string }

func (s dirSink) Create(ctx context.Context, p string) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clean := path.Clean(p)
	if p == "" || path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("gen: invalid sink path %q", p)
	}
	dst := filepath.Join(s.root, filepath.FromSlash(clean))
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &dirFile{f: f, dst: dst}, nil
}

type dirFile struct {
	f      *os.File
	dst    string
	err    error
	closed bool
}

func (d *dirFile) Write(p []byte) (int, error) {
	if d.closed {
		return 0, os.ErrClosed
	}
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.f.Write(p)
	if err != nil {
		d.err = err
	}
	return n, err
}

func (d *dirFile) Close() error {
	if d.closed {
		return os.ErrClosed
	}
	d.closed = true
	tmp := d.f.Name()
	err := d.err
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.dst)
	}
	if err != nil {
		return errors.Join(err, removeIfExists(tmp))
	}
	return nil
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// writeFile writes data to path in sink.
func writeFile(ctx context.Context, sink Sink, p string, data []byte) error {
	w, err := sink.Create(ctx, p)
	if err != nil {
		return fmt.Errorf("gen: create %s: %w", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("gen: write %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gen: close %s: %w", p, err)
	}
	return nil
}
