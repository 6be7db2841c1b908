//go:build faultinject

package fault

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// In a faultinject build:
//   - CDCMERGE_FAULT=<point> kills the process (SIGKILL) the first time it
//     reaches the point, or the N-th time with CDCMERGE_FAULT_AT=N (to crash
//     inside a later batch);
//   - CDCMERGE_FAULT_PAUSE=<point> prints "cdcmerge: paused at <point>" to
//     stderr and sleeps 10 s there, so a test can send a signal at an exact
//     step.
func init() {
	kill := os.Getenv("CDCMERGE_FAULT")
	pause := os.Getenv("CDCMERGE_FAULT_PAUSE")
	if kill == "" && pause == "" {
		return
	}
	at, _ := strconv.Atoi(os.Getenv("CDCMERGE_FAULT_AT"))
	hits := 0
	Hook = func(point string) error {
		switch point {
		case kill:
			if hits++; hits < at {
				return nil
			}
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		case pause:
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			defer signal.Stop(sig)
			fmt.Fprintf(os.Stderr, "cdcmerge: paused at %s\n", point)
			select {
			case <-sig:
				// Let the run's own signal handling cancel its context.
				time.Sleep(50 * time.Millisecond)
			case <-time.After(10 * time.Second):
			}
		}
		return nil
	}
}
