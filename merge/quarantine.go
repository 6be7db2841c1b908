package merge

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/reader"
)

// What to do with a bad file (Options.OnBadFile).
const (
	Fail       = "fail"
	Quarantine = "quarantine"
)

// SummarySkipped is the snapshot summary property listing the files a
// commit skipped under --on-bad-file quarantine, as JSON.
const SummarySkipped = "cdcmerge.skipped"

// Skipped is a quarantined file and the reason.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func encodeSkipped(s []Skipped) string {
	if len(s) == 0 {
		return ""
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// SkippedFiles lists every file recorded as quarantined in the table's
// snapshots, newest first.
func SkippedFiles(tbl *table.Table) []Skipped {
	var out []Skipped
	meta := tbl.Metadata()
	for s := tbl.CurrentSnapshot(); s != nil; {
		if s.Summary != nil {
			if v := s.Summary.Properties[SummarySkipped]; v != "" {
				var sk []Skipped
				if json.Unmarshal([]byte(v), &sk) == nil {
					out = append(out, sk...)
				}
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return out
}

// commitSkipsOnly moves the checkpoint past a batch whose every file was
// quarantined, recording them, with no data change.
func (b *batchRun) commitSkipsOnly(ctx context.Context, tbl *table.Table, cp reader.Checkpoint, files []reader.File, horizon reader.Horizon) (*table.Table, reader.Checkpoint, error) {
	if tbl == nil {
		return nil, cp, errors.New("table " + b.name + ": every file of the first batch was quarantined, so there is nothing to create the table from; fix the files (see the warnings) and run again")
	}
	next := cp.After(files, horizon)
	out, err := b.commit(ctx, tbl, catalog.Commit{Checkpoint: next, Summary: map[string]string{
		"cdcmerge.files": strconv.Itoa(len(files)),
		SummaryRunID:     b.runID,
		SummarySkipped:   encodeSkipped(b.skipped),
	}})
	if err != nil {
		return nil, cp, err
	}
	b.st.Files += len(files)
	b.st.Commits++
	b.st.Skipped += len(b.skipped)
	b.skipped = nil
	return out, next, nil
}
