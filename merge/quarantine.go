package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// duplicates finds the files of a batch whose content equals that of a
// file applied earlier (the checkpoint's recent files) or of an earlier
// file of the batch: one file delivered twice under two names, whose
// changes must not be applied twice. It fails naming both files, or under
// quarantine skips the copy. Files without rows are exempt: applying one
// twice changes nothing, and two legitimately different empty files of a
// table can be byte-identical.
func (b *batchRun) duplicates(cp reader.Checkpoint, decoded []*reader.Decoded) ([]*reader.Decoded, error) {
	seen := map[reader.Digest]string{}
	for _, r := range cp.Recent {
		seen[r.Digest] = r.Path + ", applied earlier"
	}
	keep := make([]*reader.Decoded, 0, len(decoded))
	for _, d := range decoded {
		if d == nil || d.Digest == "" || d.Record.NumRows() == 0 {
			keep = append(keep, d)
			continue
		}
		orig, dup := seen[d.Digest]
		if !dup {
			seen[d.Digest] = d.File.Path + ", earlier in the same batch"
			keep = append(keep, d)
			continue
		}
		err := &reader.FileError{Path: d.File.Path, Row: -1,
			Msg:  fmt.Sprintf("has the same content as %s: a duplicate delivery of one file under two names", strings.Replace(orig, ", ", " (", 1)+")"),
			Hint: "applying it would apply its changes twice: remove it and run again"}
		if b.opt.OnBadFile != Quarantine {
			return decoded, err
		}
		b.quarantine(d.File, err)
		d.Release()
	}
	return keep, nil
}

// digestsOf lists the digests of the decoded files that have rows, to
// remember in the checkpoint.
func digestsOf(decoded []*reader.Decoded) []reader.FileDigest {
	var out []reader.FileDigest
	for _, d := range decoded {
		if d != nil && d.Digest != "" && d.Record != nil && d.Record.NumRows() > 0 {
			out = append(out, reader.FileDigest{Path: d.File.Path, Digest: d.Digest})
		}
	}
	return out
}
