//go:build unix

package merge

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f without waiting; the system
// releases it when the process ends, however it ends.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// ownerGone says whether no process holds the lock of a spill directory
// (and takes it).
func ownerGone(lock *os.File) bool { return lockFile(lock) == nil }
