package reader

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// CheckpointVersion is the encoding version written into snapshot summaries.
const CheckpointVersion = 1

// Checkpoint is how far a table has consumed its DMS stream. It is written
// into the snapshot summary of the same commit that applies the data, so it
// can never disagree with the table.
type Checkpoint struct {
	Version int `json:"v"`
	// LoadLast is the name of the last LOAD file applied ("" if none).
	LoadLast   string `json:"load_last,omitempty"`
	LoadNumber uint64 `json:"load_number,omitempty"`
	LoadFiles  int    `json:"load_files,omitempty"`
	// CDCLast is the basename of the last CDC file applied ("" if none).
	CDCLast  string `json:"cdc_last,omitempty"`
	CDCFiles int64  `json:"cdc_files,omitempty"`
	// Horizon is the newest modification time among the table's files when
	// the batch that wrote this checkpoint was planned, and HorizonFiles
	// the names of the files listed then with exactly that time. A file
	// named at or before the checkpoint arrived late if it was modified
	// after the horizon, or at the horizon without being one of those
	// (S3 times have whole seconds, so ties are common).
	Horizon      time.Time `json:"horizon"`
	HorizonFiles []string  `json:"horizon_files,omitempty"`
	// Recent are the digests of the last files applied (at most
	// RecentFiles, oldest first; files without rows are left out), so that
	// a copy of one of them delivered later under another name is caught.
	Recent []FileDigest `json:"recent,omitempty"`
	// PartFile and PartRowGroups are set while a Parquet file too large for
	// one batch is applied a few row groups at a time, one commit each: the
	// file's basename and how many of its row groups (from the first) are
	// applied. The file itself stays pending until its last part moves the
	// checkpoint past it.
	PartFile      string `json:"part_file,omitempty"`
	PartRowGroups int    `json:"part_row_groups,omitempty"`
	// PartRecords is, for a CSV file applied in parts (PartFile), how many
	// of its records (from the first, a header not counted) are applied.
	// One of PartRowGroups and PartRecords is set with PartFile.
	PartRecords int64 `json:"part_records,omitempty"`
}

// InPart records that the first rowGroups row groups of f are applied.
func (c Checkpoint) InPart(f File, rowGroups int) Checkpoint {
	c.PartFile, c.PartRowGroups, c.PartRecords = f.Name, rowGroups, 0
	c.Version = CheckpointVersion
	return c
}

// InPartRecords records that the first records records of CSV file f are
// applied.
func (c Checkpoint) InPartRecords(f File, records int64) Checkpoint {
	c.PartFile, c.PartRowGroups, c.PartRecords = f.Name, 0, records
	c.Version = CheckpointVersion
	return c
}

// AppliedRecords is how many records of CSV file f are applied already: 0
// unless f is the file being applied in parts.
func (c Checkpoint) AppliedRecords(f File) int64 {
	if c.PartFile == f.Name {
		return c.PartRecords
	}
	return 0
}

// AppliedRowGroups is how many row groups of f are applied already: 0
// unless f is the file being applied in parts.
func (c Checkpoint) AppliedRowGroups(f File) int {
	if c.PartFile == f.Name {
		return c.PartRowGroups
	}
	return 0
}

// RecentFiles bounds Checkpoint.Recent. Every snapshot summary carries the
// checkpoint, and the table metadata every summary, so the list stays
// short: 32 files is half an hour of DMS's default one file a minute.
const RecentFiles = 32

// FileDigest is the digest of an applied file.
type FileDigest struct {
	Path   string `json:"p"`
	Digest Digest `json:"d"`
}

// Remember adds the digests of files just applied to Recent, dropping the
// oldest beyond RecentFiles.
func (c Checkpoint) Remember(applied []FileDigest) Checkpoint {
	if len(applied) == 0 {
		return c
	}
	all := append(slices.Clone(c.Recent), applied...)
	c.Recent = all[max(0, len(all)-RecentFiles):]
	return c
}

// Horizon is what a listing saw: the newest modification time, and the
// names of the files that have it.
type Horizon struct {
	Time  time.Time
	Names []string
}

// late reports whether a file named at or before the checkpoint was not
// in the listing that planned it.
func (c Checkpoint) late(f File) bool {
	if f.ModTime.After(c.Horizon) {
		return true
	}
	if f.ModTime.Equal(c.Horizon) && len(c.HorizonFiles) > 0 {
		return !slices.Contains(c.HorizonFiles, f.Name)
	}
	return false
}

// IsZero reports whether nothing has been applied.
func (c Checkpoint) IsZero() bool { return c.LoadLast == "" && c.CDCLast == "" }

// Encode renders the checkpoint for a snapshot summary property.
func (c Checkpoint) Encode() string {
	c.Version = CheckpointVersion
	b, _ := json.Marshal(c)
	return string(b)
}

// DecodeCheckpoint parses a summary property written by Encode.
func DecodeCheckpoint(s string) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %q is not valid JSON: %w", s, err)
	}
	if c.Version != CheckpointVersion {
		return Checkpoint{}, fmt.Errorf("checkpoint version %d is not supported by this cdcmerge (want %d): upgrade cdcmerge", c.Version, CheckpointVersion)
	}
	if c.LoadLast != "" {
		k, n, _, ok := parseSourceLoad(c.LoadLast)
		if !ok || k != Load || n != c.LoadNumber {
			return Checkpoint{}, fmt.Errorf("checkpoint names LOAD file %q inconsistently", c.LoadLast)
		}
	}
	if c.CDCLast != "" {
		if k, _, _, ok := ParseTargetName(c.CDCLast); (!ok || k != CDC) && sharedStyle(c.CDCLast) == 0 {
			return Checkpoint{}, fmt.Errorf("checkpoint names CDC file %q, which is not a DMS CDC file name", c.CDCLast)
		}
	}
	if c.PartRowGroups < 0 || c.PartRecords < 0 || (c.PartRowGroups > 0 && c.PartRecords > 0) || (c.PartFile == "") != (c.PartRowGroups == 0 && c.PartRecords == 0) {
		return Checkpoint{}, fmt.Errorf("checkpoint names %d applied row groups and %d applied records of file %q, which is not what cdcmerge writes", c.PartRowGroups, c.PartRecords, c.PartFile)
	}
	for _, r := range c.Recent {
		if !r.Digest.valid() || r.Path == "" {
			return Checkpoint{}, fmt.Errorf("checkpoint lists a recent file %q with digest %q, which is not one cdcmerge writes", r.Path, r.Digest)
		}
	}
	return c, nil
}

// After records that files (all of one table, in stream order) were
// applied, planned from a listing that saw horizon.
func (c Checkpoint) After(files []File, horizon Horizon) Checkpoint {
	c.PartFile, c.PartRowGroups, c.PartRecords = "", 0, 0
	for _, f := range files {
		if f.Kind == Load {
			c.LoadLast, c.LoadNumber = f.Name, f.Number
			c.LoadFiles++
		} else {
			c.CDCLast = f.Name
			c.CDCFiles++
		}
	}
	switch {
	case horizon.Time.After(c.Horizon):
		c.Horizon, c.HorizonFiles = horizon.Time, slices.Clone(horizon.Names)
	case horizon.Time.Equal(c.Horizon):
		for _, n := range horizon.Names {
			if !slices.Contains(c.HorizonFiles, n) {
				c.HorizonFiles = append(c.HorizonFiles, n)
			}
		}
	}
	c.Version = CheckpointVersion
	return c
}

// StreamError is a problem with the order or set of files of one table: a
// late upload, a reload after CDC, a duplicate name. The table must not be
// touched until the user resolves it.
type StreamError struct {
	Table string
	Path  string
	Msg   string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("table %s: file %s: %s", e.Table, e.Path, e.Msg)
}

// Pending returns the files of t that come after checkpoint c, in stream
// order (LOAD files first), and the horizon to record when they are applied.
// It fails with a *StreamError when a file arrived out of order.
func Pending(t TableFiles, c Checkpoint) ([]File, Horizon, error) {
	var horizon Horizon
	for _, list := range [][]File{t.Load, t.CDC} {
		for _, f := range list {
			switch {
			case f.ModTime.After(horizon.Time):
				horizon = Horizon{Time: f.ModTime, Names: []string{f.Name}}
			case f.ModTime.Equal(horizon.Time):
				horizon.Names = append(horizon.Names, f.Name)
			}
		}
	}
	for i := 1; i < len(t.CDC); i++ {
		if t.CDC[i].Name == t.CDC[i-1].Name {
			return nil, horizon, &StreamError{t.Ident(), t.CDC[i].Path, fmt.Sprintf(
				"has the same name as %s; DMS names each CDC file uniquely, so one of them is a duplicate delivery: remove it and run again", t.CDC[i-1].Path)}
		}
	}
	for i := 1; i < len(t.Load); i++ {
		if t.Load[i].Number == t.Load[i-1].Number {
			return nil, horizon, &StreamError{t.Ident(), t.Load[i].Path, "duplicate LOAD file number"}
		}
	}
	var out []File
	for _, f := range t.Load {
		if c.LoadLast != "" && f.Number <= c.LoadNumber {
			if c.late(f) {
				return nil, horizon, &StreamError{t.Ident(), f.Path, fmt.Sprintf(
					"LOAD file changed after the full load was applied (checkpoint %s); this is a DMS reload: re-create the table (drop it and run again) to take the new full load", c.LoadLast)}
			}
			continue
		}
		if c.CDCLast != "" {
			return nil, horizon, &StreamError{t.Ident(), f.Path, fmt.Sprintf(
				"new LOAD file after CDC was applied (checkpoint %s); this is a DMS reload: re-create the table (drop it and run again) to take the new full load", c.CDCLast)}
		}
		out = append(out, f)
	}
	for _, f := range t.CDC {
		if c.CDCLast != "" && CompareCDCNames(f.Name, c.CDCLast) <= 0 {
			if c.late(f) {
				return nil, horizon, &StreamError{t.Ident(), f.Path, fmt.Sprintf(
					"arrived after the table had applied %s, but its name sorts at or before it (late upload); applying it now would apply changes out of order. Check the DMS task and the upload; to accept the table as it is, move the file out of the source folder",
					c.CDCLast)}
			}
			continue
		}
		out = append(out, f)
	}
	return out, horizon, nil
}
