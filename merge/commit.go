package merge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/reader"
)

// SummaryRunID is the snapshot summary property naming the run that made
// a commit, so a run can recognise its own commit after an unknown outcome.
const SummaryRunID = "cdcmerge.run-id"

// MaxReplans bounds how often one run starts a table over after commit
// conflicts with concurrent writers.
const MaxReplans = 8

// maxCommitRetries bounds retries of one commit whose outcome was a failure
// that left the table unchanged (a transient catalog error).
const maxCommitRetries = 3

// replanError means the table changed under the batch: the plan must be
// made again from the current table.
type replanError struct{ cause error }

func (e *replanError) Error() string {
	return "table changed by a concurrent writer: " + e.cause.Error()
}
func (e *replanError) Unwrap() error { return e.cause }

// commit commits c and resolves every failure by reloading the table and
// reading its checkpoint before anything is retried:
//
//   - the checkpoint already covers this batch: the commit happened (ours,
//     whose reply was lost, or a concurrent run's) and is not repeated;
//   - the table is still at the snapshot the batch was planned on: nothing
//     happened, and the same commit is retried (bounded);
//   - the table moved on: the batch is planned again (replanError).
//
// iceberg-go reports a stale base as ErrCommitFailed on some catalogs and
// as a plain "requirement failed" error on others (SQL, Glue), so the
// outcome is decided from the reloaded table, never from the error text.
func (b *batchRun) commit(ctx context.Context, tbl *table.Table, c catalog.Commit) (*table.Table, error) {
	base := snapshotID(tbl)
	for try := 0; ; try++ {
		var out *table.Table
		err := fault.Point(fault.Commit)
		if err == nil {
			out, err = catalog.Apply(ctx, tbl, c)
		}
		if err == nil {
			if ferr := fault.Point(fault.AfterCommitReply); ferr != nil {
				// Tests: the commit happened but its reply is lost.
				err = ferr
			} else {
				return out, nil
			}
		}
		if ctx.Err() != nil {
			// Stopped (SIGTERM or --max-duration) during the commit: the
			// next run learns the outcome from the checkpoint.
			return nil, fmt.Errorf("table %s: stopped while committing; the next run will find out from the table whether the commit happened: %w", b.name, err)
		}
		fresh, lerr := catalog.LoadTable(ctx, b.cat, b.ident)
		if lerr != nil || fresh == nil {
			return nil, fmt.Errorf("%w (and reloading the table to learn the outcome failed: %v); the next run will find out from the table's checkpoint", err, lerr)
		}
		fcp, cerr := catalog.CheckpointOf(fresh)
		if cerr != nil {
			return nil, cerr
		}
		if covers(fcp, c.Checkpoint) {
			if !committedBy(fresh, b.runID, c.Checkpoint) {
				b.opt.Log.Info("batch already applied by a concurrent run", "table", b.name, "checkpoint", c.Checkpoint.CDCLast)
				b.discard(ctx, fresh, append(c.Add, c.Deletes...))
				return nil, &replanError{errors.New("a concurrent run applied the same files first")}
			}
			return fresh, nil
		}
		if snapshotID(fresh) != base {
			b.discard(ctx, fresh, append(c.Add, c.Deletes...))
			return nil, &replanError{err}
		}
		if try >= maxCommitRetries {
			return nil, err
		}
		b.opt.Log.Warn("commit failed, table unchanged: retrying", "table", b.name, "attempt", try+1, "error", err.Error())
		if err := backoff(ctx, try+1); err != nil {
			return nil, err
		}
		tbl = fresh
	}
}

// covers reports whether checkpoint have is at or past want in the stream.
func covers(have, want reader.Checkpoint) bool {
	if have.LoadNumber < want.LoadNumber {
		return false
	}
	if have.LoadNumber == want.LoadNumber && have.CDCLast == want.CDCLast && want.PartFile != "" {
		// Both before the same file: have covers want if it applied as
		// many of that file's row groups (Parquet) or records (CSV).
		return have.PartFile == want.PartFile && have.PartRowGroups >= want.PartRowGroups && have.PartRecords >= want.PartRecords
	}
	return have.CDCLast >= want.CDCLast
}

// committedBy reports whether the snapshot that reached checkpoint cp was
// made by run runID.
func committedBy(tbl *table.Table, runID string, cp reader.Checkpoint) bool {
	meta := tbl.Metadata()
	want := cp.Encode()
	for s := tbl.CurrentSnapshot(); s != nil; {
		if s.Summary != nil && s.Summary.Properties[catalog.SummaryCheckpoint] == want {
			return s.Summary.Properties[SummaryRunID] == runID
		}
		if s.ParentSnapshotID == nil {
			return false
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return false
}

func snapshotID(tbl *table.Table) int64 {
	if s := tbl.CurrentSnapshot(); s != nil {
		return s.SnapshotID
	}
	return -1
}

// discard deletes data files this run wrote but will never commit. It is
// best effort: a file left behind is an orphan, never read by the table.
func (b *batchRun) discard(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	fs, err := tbl.FS(context.WithoutCancel(ctx))
	if err != nil {
		return
	}
	for _, f := range files {
		if err := fs.Remove(f.FilePath()); err != nil {
			b.opt.Log.Debug("could not remove uncommitted data file", "path", f.FilePath(), "error", err.Error())
		}
	}
}

// backoff waits before attempt n (1, 2, ...): exponential with jitter,
// capped at 5 s, so two scheduled runs that collide drift apart.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(50<<min(n, 7)) * time.Millisecond
	d = min(d, 5*time.Second)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
