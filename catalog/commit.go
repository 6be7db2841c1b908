package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/reader"
)

// Commit is one atomic change to a table: data files removed and added, and
// the checkpoint reached.
type Commit struct {
	Remove []iceberg.DataFile
	Add    []iceberg.DataFile
	// Deletes are delete files (merge-on-read: position or equality
	// delete files, deletion vectors); a commit with deletes removes no
	// data files.
	Deletes    []iceberg.DataFile
	Checkpoint reader.Checkpoint
	// Summary holds extra snapshot summary properties (counts).
	Summary map[string]string
	// ReplacedDeletes are deletion vectors superseded by ones in Deletes
	// (which carry their positions), removed in the same snapshot.
	ReplacedDeletes []iceberg.DataFile
}

// Apply commits c to tbl in one snapshot and returns the new table. A
// commit with no file changes still creates a snapshot, so the checkpoint
// moves past files whose changes were all no-ops.
func Apply(ctx context.Context, tbl *table.Table, c Commit) (*table.Table, error) {
	props := iceberg.Properties{SummaryCheckpoint: c.Checkpoint.Encode()}
	for k, v := range c.Summary {
		if v != "" {
			props[k] = v
		}
	}
	tx := tbl.NewTransaction()
	var err error
	switch {
	case len(c.Deletes) > 0 || (len(c.Add) > 0 && len(c.Remove) == 0 && tbl.Metadata().Version() >= 3):
		// A row delta also appends on format v3: iceberg-go's AddDataFiles
		// wants row IDs (first_row_id) set on the files, a row delta lets
		// them inherit the manifest's as the spec intends.
		if len(c.Remove) > 0 {
			return nil, fmt.Errorf("table %s: a commit cannot both remove data files and add delete files", strings.Join(tbl.Identifier(), "."))
		}
		rd := tx.NewRowDelta(props)
		rd.AddRows(c.Add...)
		rd.AddDeletes(c.Deletes...)
		rd.RemoveDeletes(c.ReplacedDeletes...)
		err = rd.Commit(ctx)
	case len(c.Remove) > 0:
		err = tx.ReplaceDataFilesWithDataFiles(ctx, c.Remove, c.Add, props)
	case len(c.Add) > 0:
		err = tx.AddDataFiles(ctx, c.Add, props, table.WithoutDuplicateCheck())
	default:
		err = tx.AddFiles(ctx, nil, props, false)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: preparing commit: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	// The snapshot's manifests and manifest list are written by now; only
	// the catalog does not know them yet.
	if err := fault.Point(fault.AfterManifests); err != nil {
		return nil, err
	}
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %s: commit: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	return out, nil
}
