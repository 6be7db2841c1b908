package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/reader"
)

// Commit is one atomic change to a table: data files removed and added, and
// the checkpoint reached.
type Commit struct {
	Remove []iceberg.DataFile
	Add    []iceberg.DataFile
	// Deletes are position delete files (merge-on-read); a commit with
	// deletes removes no data files.
	Deletes    []iceberg.DataFile
	Checkpoint reader.Checkpoint
	// Summary holds extra snapshot summary properties (counts).
	Summary map[string]string
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
	case len(c.Deletes) > 0:
		if len(c.Remove) > 0 {
			return nil, fmt.Errorf("table %s: a commit cannot both remove data files and add delete files", strings.Join(tbl.Identifier(), "."))
		}
		rd := tx.NewRowDelta(props)
		rd.AddRows(c.Add...)
		rd.AddDeletes(c.Deletes...)
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
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %s: commit: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	return out, nil
}
