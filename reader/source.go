package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Object is one file in a Source, addressed by its slash-separated path
// relative to the source root.
type Object struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// Source is where DMS output lives: a local folder here, S3 elsewhere.
type Source interface {
	// List returns every object under the root, recursively, sorted by path.
	List(ctx context.Context) ([]Object, error)
	// Open returns a random-access reader over one object.
	Open(ctx context.Context, path string) (ReadAtCloser, int64, error)
	// String names the source for messages (no credentials).
	String() string
}

// ReadAtCloser is what the Parquet decoder needs: random access plus Close.
type ReadAtCloser interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
}

// DirSource is a Source over a local directory.
type DirSource struct{ Root string }

// String implements Source.
func (d DirSource) String() string { return d.Root }

// List implements Source. Hidden files and temporary files (names starting
// with "." or "_", as written by uploaders in progress) are not listed.
func (d DirSource) List(ctx context.Context) ([]Object, error) {
	var out []Object
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := e.Name()
		if p != d.Root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		out = append(out, Object{Path: filepath.ToSlash(rel), Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("source folder %s does not exist: check --source", d.Root)
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", d.Root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Open implements Source.
func (d DirSource) Open(_ context.Context, path string) (ReadAtCloser, int64, error) {
	f, err := os.Open(filepath.Join(d.Root, filepath.FromSlash(path)))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
