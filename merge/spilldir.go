package merge

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// spillDir is the private temporary directory of one sorted compaction
// (keySorter), named cdcmerge-sort-* under the temporary directory. The
// process holds an exclusive lock on its lock file for as long as it
// uses it, so the lock says whether its owner still runs: a process that
// died (crash, SIGKILL, SIGTERM's prompt exit) released it, and the next
// sorted compaction on the machine removes the directory
// (sweepSpillDirs). Nothing in it is ever named by a table.
type spillDir struct {
	path string
	lock *os.File
}

const (
	spillDirPrefix = "cdcmerge-sort-"
	spillLockName  = "lock"
	// spillDirGrace: a spill directory without a lock file (its owner
	// died between making it and locking it) is removed after this.
	spillDirGrace = time.Hour
)

// newSpillDir sweeps abandoned spill directories under parent ("":
// os.TempDir()) and makes a new one.
func newSpillDir(parent string) (*spillDir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	sweepSpillDirs(parent)
	path, err := os.MkdirTemp(parent, spillDirPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("sorting by key: making a spill directory (set TMPDIR to a writable local directory with room for the group's rows): %w", err)
	}
	lock, err := os.Create(filepath.Join(path, spillLockName))
	if err == nil {
		if err = lockFile(lock); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("sorting by key: locking spill directory %s: %w", path, err)
	}
	return &spillDir{path: path, lock: lock}, nil
}

// remove deletes the directory and everything in it.
func (d *spillDir) remove() error {
	err := os.RemoveAll(d.path)
	d.lock.Close()
	if err != nil {
		return fmt.Errorf("sorting by key: removing spill directory: %w", err)
	}
	return nil
}

// sweepSpillDirs removes the spill directories under parent whose owner
// is gone. Errors are ignored: a directory left over costs only disk.
func sweepSpillDirs(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), spillDirPrefix) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		lock, err := os.OpenFile(filepath.Join(path, spillLockName), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > spillDirGrace {
				os.RemoveAll(path)
			}
			continue
		}
		if err != nil {
			continue
		}
		if ownerGone(lock) {
			os.RemoveAll(path)
		}
		lock.Close()
	}
}

// runWriter writes one spill file: record batches as an Arrow IPC stream,
// LZ4-compressed.
type runWriter struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *ipc.Writer
}

func (d *spillDir) create() (*runWriter, error) {
	f, err := os.CreateTemp(d.path, "run-*.arrows")
	if err != nil {
		return nil, fmt.Errorf("sorting by key: making a spill file: %w", err)
	}
	return &runWriter{path: f.Name(), f: f, buf: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (w *runWriter) write(rec arrow.RecordBatch) error {
	if w.w == nil {
		w.w = ipc.NewWriter(w.buf, ipc.WithSchema(rec.Schema()), ipc.WithLZ4(), ipc.WithAllocator(memory.DefaultAllocator))
	}
	if err := w.w.Write(rec); err != nil {
		return fmt.Errorf("sorting by key: writing spill file %s: %w", w.path, err)
	}
	return nil
}

func (w *runWriter) close() error {
	var err error
	if w.w != nil {
		err = w.w.Close()
	}
	err = errors.Join(err, w.buf.Flush(), w.f.Close())
	if err != nil {
		return fmt.Errorf("sorting by key: writing spill file %s (is the temporary directory full? set TMPDIR): %w", w.path, err)
	}
	return nil
}
