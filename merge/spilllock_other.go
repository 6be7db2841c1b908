//go:build !unix

package merge

import (
	"errors"
	"os"
)

// lockFile: without flock, a spill directory counts as held while its
// lock file exists, so only the owner's own removal (or that of a
// directory without a lock file, after spillDirGrace) frees it.
func lockFile(f *os.File) error {
	if _, err := f.Stat(); err != nil {
		return err
	}
	return errors.New("spill directories are not swept on this system")
}
