package merge

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
)

// earlyScan runs dedupe's scan over a batch's files while the batch is
// still being read: file i is scanned as soon as files 0..i are decoded,
// on a goroutine of its own, so the scan (one core's work, a fifth of a
// merge-on-read merge) overlaps the reading of the later files instead of
// following it. It reads the decoded records, before they are conformed to
// the table's schema; dedupe.Scan.Result checks that the conformed parts
// are those rows with key and order columns of the same types, and when
// anything differs (a file quarantined or refused, a schema change that
// converts a key, documents) the batch falls back to dedupe.Latest over
// the conformed parts. The result is the same either way.
type earlyScan struct {
	ts   string // the timestamp column the scan orders by
	done chan struct{}
	scan *dedupe.Scan // nil when the scan stopped
}

// startEarlyScan starts scanning decoded files as ready[i] is closed for
// each; files must be in stream order.
func (b *batchRun) startEarlyScan(ctx context.Context, files []reader.File, decoded []*reader.Decoded, ready []chan struct{}) *earlyScan {
	ts := b.opt.TimestampColumn
	if ts == "" {
		ts = DefaultTimestampColumn
	}
	e := &earlyScan{ts: ts, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		var s *dedupe.Scan
		for i, f := range files {
			<-ready[i]
			d := decoded[i]
			if d == nil || d.Record == nil || ctx.Err() != nil {
				return
			}
			if s == nil {
				part := []dedupe.Part{{Path: f.Path, Load: f.Kind == reader.Load, Record: d.Record, Ops: d.Ops}}
				var err error
				s, err = dedupe.NewScan(dedupe.Options{Key: b.key, TimestampColumn: ts}, dedupe.FixedWidthKey(part, b.key), int(d.Record.NumRows())*len(files))
				if err != nil {
					return
				}
			}
			if err := s.Add(ctx, dedupe.Part{Path: f.Path, Load: f.Kind == reader.Load, Record: d.Record, Ops: d.Ops}); err != nil {
				return // Latest, after validation, reports what is wrong
			}
		}
		e.scan = s
	}()
	return e
}

// result waits for the scan and returns the batch's latest changes built
// from parts, or nil when the early scan cannot stand for dedupe.Latest
// over parts with timestamp column ts.
func (e *earlyScan) result(ctx context.Context, parts []dedupe.Part, ts string, mem memory.Allocator) (*dedupe.Result, error) {
	if e == nil {
		return nil, nil
	}
	<-e.done
	if e.scan == nil || ts != e.ts {
		return nil, nil
	}
	res, err := e.scan.Result(ctx, parts, mem)
	if errors.Is(err, dedupe.ErrScanMismatch) {
		return nil, nil
	}
	return res, err
}

// wait waits for the scan to stop: it reads the decoded records, which
// must stay as they are until then.
func (e *earlyScan) wait() {
	if e != nil {
		<-e.done
	}
}
