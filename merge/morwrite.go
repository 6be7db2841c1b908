package merge

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/writer"
)

// upsertWrite writes a merge-on-read batch's new rows in the background.
// They do not depend on the plan (merge-on-read never rewrites a data
// file), so they are encoded while the plan reads the candidate files'
// keys, and the two cores stay busy through both steps.
type upsertWrite struct {
	cancel context.CancelFunc
	done   chan struct{}
	files  []iceberg.DataFile
	err    error
	taken  bool
}

// startUpserts starts writing res's upserts as data files of tbl when the
// table is merge-on-read; nil otherwise (copy-on-write writes them with
// the kept rows of the files it rewrites, after its plan).
func (b *batchRun) startUpserts(ctx context.Context, tbl *table.Table, mode string, target *arrow.Schema, res *dedupe.Result) *upsertWrite {
	if mode != MergeOnRead || len(res.Upserts) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	u := &upsertWrite{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		u.files, u.err = writer.DataFiles(ctx, tbl, target, rewrittenRows(ctx, tbl, &matches{}, res.Upserts, target, b.opt.Mem), b.opt.Writer)
	}()
	return u
}

// wait returns the files written; the caller owns them from then on.
func (u *upsertWrite) wait() ([]iceberg.DataFile, error) {
	<-u.done
	u.taken = true
	return u.files, u.err
}

// stop ends the write if the batch failed before waiting for it, and
// removes the files it wrote. It does nothing after wait.
func (u *upsertWrite) stop(ctx context.Context, b *batchRun, tbl *table.Table) {
	if u == nil || u.taken {
		return
	}
	u.cancel()
	<-u.done
	b.discard(ctx, tbl, u.files)
}
