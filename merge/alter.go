package merge

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// AlterOptions say what to change in an existing table; empty (zero)
// fields keep the table's setting.
type AlterOptions struct {
	WriteMode      string
	DeleteStrategy string
	FormatVersion  int
}

// AlterResult says what Alter changed.
type AlterResult struct {
	Table          string `json:"table"`
	WriteMode      string `json:"write_mode"`
	DeleteStrategy string `json:"delete_strategy,omitempty"`
	FormatVersion  int    `json:"format_version"`
	Changed        bool   `json:"changed"`
}

// ErrDeleteFilesLeft means a change of write mode or delete strategy needs
// the table's delete files compacted away first.
type ErrDeleteFilesLeft struct {
	Table string
	Count int
	Why   string
}

func (e *ErrDeleteFilesLeft) Error() string {
	return fmt.Sprintf("table %s has %d live delete files; %s: run cdcmerge compact on it first, then alter again", e.Table, e.Count, e.Why)
}

// Alter changes an existing table's write mode, delete strategy or format
// version, in one metadata commit (no snapshot: the checkpoint is
// untouched). Changes that would let the new mode misread rows the old
// one deleted are refused while delete files are live:
//
//   - to copy-on-write: a copy-on-write rewrite of a data file would drop
//     its delete files and bring back the rows they removed (iceberg-go
//     issue #2042);
//   - from equality deletes to position deletes: locating rows reads data
//     files without applying equality deletes.
//
// Compacting first (cdcmerge compact) folds every delete file in. A format
// upgrade to v3 needs nothing: the first deletion vector written for a data
// file carries its older position deletes. Format versions never go down.
func Alter(ctx context.Context, tbl *table.Table, opt AlterOptions) (AlterResult, error) {
	name := strings.Join(tbl.Identifier(), ".")
	curMode, curStrategy, curVersion := writeMode(tbl), deleteStrategy(tbl), formatVersion(tbl)
	mode, strategy, version := curMode, curStrategy, curVersion
	if opt.WriteMode != "" {
		mode = opt.WriteMode
	}
	if opt.DeleteStrategy != "" {
		strategy = opt.DeleteStrategy
	}
	if mode == CopyOnWrite {
		strategy = DeletePosition
	}
	if opt.FormatVersion != 0 {
		version = opt.FormatVersion
	}
	res := AlterResult{Table: name, WriteMode: mode, FormatVersion: version}
	if mode == MergeOnRead {
		res.DeleteStrategy = strategy
	}
	if err := checkTableSettings(mode, strategy, version); err != nil {
		return res, fmt.Errorf("table %s: %w", name, err)
	}
	if version < curVersion {
		return res, fmt.Errorf("table %s has format version %d; Iceberg format versions cannot go down", name, curVersion)
	}
	var why string
	switch {
	case curMode == MergeOnRead && mode == CopyOnWrite:
		why = "copy-on-write rewrites would bring back rows they deleted"
	case curStrategy == DeleteEquality && strategy == DeletePosition:
		why = "the position delete strategy locates rows without applying equality deletes"
	}
	if why != "" {
		live, err := liveDeleteFiles(ctx, tbl)
		if err != nil {
			return res, fmt.Errorf("table %s: listing delete files: %w", name, err)
		}
		if len(live) > 0 {
			return res, &ErrDeleteFilesLeft{Table: name, Count: len(live), Why: why}
		}
	}
	if mode == curMode && strategy == curStrategy && version == curVersion {
		return res, nil
	}
	tx := tbl.NewTransaction()
	props := iceberg.Properties(WriteModeProperties(mode))
	props[PropertyDeleteStrategy] = strategy
	if err := tx.SetProperties(props); err != nil {
		return res, fmt.Errorf("table %s: %w", name, err)
	}
	if version > curVersion {
		if err := tx.UpgradeFormatVersion(version); err != nil {
			return res, fmt.Errorf("table %s: upgrading the format version: %w", name, err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("table %s: committing the change: %w", name, err)
	}
	res.Changed = true
	return res, nil
}
