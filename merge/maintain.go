package merge

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/cdcmerge/cdcmerge/catalog"
)

// CompactOptions tune Compact.
type CompactOptions struct {
	// TargetFileSize is the size data files are packed to (0: the table's
	// write.target-file-size-bytes, else 512 MiB).
	TargetFileSize int64
	// MinInputFiles is how many small files a group needs before it is
	// rewritten (0: iceberg-go's default, 5).
	MinInputFiles uint
	// DeleteFileThreshold rewrites a data file once this many delete files
	// apply to it (0: 1, so every position delete is folded in).
	DeleteFileThreshold int
}

// CompactResult says what Compact did.
type CompactResult struct {
	Table              string `json:"table"`
	RemovedDataFiles   int    `json:"removed_data_files"`
	AddedDataFiles     int    `json:"added_data_files"`
	RemovedDeleteFiles int    `json:"removed_delete_files"`
}

// Compact bin-packs small data files and folds delete files (position
// deletes, deletion vectors) into the data files they apply to; a table
// with equality deletes has every data file rewritten, so that all its
// equality delete files can be dropped. All in one commit made against the snapshot it
// planned on. A run that commits in between makes the compaction fail (its
// rows are never lost); compact again. Compaction commits carry no
// checkpoint: the table's checkpoint is read from the newest snapshot that
// has one.
func Compact(ctx context.Context, tbl *table.Table, opt CompactOptions) (CompactResult, error) {
	name := strings.Join(tbl.Identifier(), ".")
	res := CompactResult{Table: name}
	if tbl.CurrentSnapshot() == nil {
		return res, nil
	}
	cfg := compaction.DefaultConfig()
	target := opt.TargetFileSize
	if target <= 0 {
		target = int64(tbl.Properties().GetInt(table.WriteTargetFileSizeBytesKey, table.WriteTargetFileSizeBytesDefault))
	}
	cfg.TargetFileSizeBytes, cfg.MinFileSizeBytes, cfg.MaxFileSizeBytes = target, target*3/4, target*9/5
	if opt.MinInputFiles > 0 {
		cfg.MinInputFiles = opt.MinInputFiles
	}
	cfg.DeleteFileThreshold = max(opt.DeleteFileThreshold, 1)
	live, err := liveDeleteFiles(ctx, tbl)
	if err != nil {
		return res, fmt.Errorf("table %s: listing delete files: %w", name, err)
	}
	equality := false
	for _, f := range live {
		equality = equality || f.ContentType() == iceberg.EntryContentEqDeletes
	}
	if equality {
		// An equality delete applies to every older data file whose
		// bounds may hold its keys, so it can only be dropped once all of
		// them are rewritten: rewrite every data file.
		// Every file is then undersized, and one group per partition
		// takes them all; output files still roll at the target size.
		cfg.MinFileSizeBytes, cfg.TargetFileSizeBytes, cfg.MaxFileSizeBytes = math.MaxInt64/2, math.MaxInt64/2, math.MaxInt64
		cfg.MinInputFiles = 1
	}
	plan, err := compaction.Analyze(ctx, tbl, cfg)
	if err != nil {
		return res, fmt.Errorf("table %s: planning compaction: %w", name, err)
	}
	if len(plan.Groups) == 0 {
		return res, nil
	}
	// Delete files that apply to nothing once the rewrite is done go in
	// the same commit: beyond those attached to the rewritten files,
	// position delete files superseded by a deletion vector after a v2 ->
	// v3 upgrade (scans no longer list them) and equality deletes.
	fs, err := tbl.FS(ctx)
	if err != nil {
		return res, err
	}
	rewritten := map[string]struct{}{}
	for _, g := range plan.Groups {
		for _, t := range g.Tasks {
			rewritten[t.File.FilePath()] = struct{}{}
		}
	}
	dead, err := compaction.CollectDeadPositionDeletes(ctx, fs, tbl.CurrentSnapshot(), rewritten)
	if err != nil {
		return res, fmt.Errorf("table %s: finding position deletes the compaction retires: %w", name, err)
	}
	if equality {
		eq, err := compaction.CollectDeadEqualityDeletesWithSpecs(ctx, fs, tbl.Metadata(), tbl.CurrentSnapshot(), rewritten)
		if err != nil {
			return res, fmt.Errorf("table %s: finding equality deletes the compaction retires: %w", name, err)
		}
		dead = append(dead, eq...)
	}
	groups := make([]table.CompactionTaskGroup, len(plan.Groups))
	for i, g := range plan.Groups {
		groups[i] = table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes}
	}
	// The compaction snapshot carries the table's checkpoint forward, so
	// that expiring the older snapshots can never lose it.
	props := iceberg.Properties{}
	if cp, err := catalog.CheckpointOf(tbl); err == nil && !cp.IsZero() {
		props[catalog.SummaryCheckpoint] = cp.Encode()
	}
	tx := tbl.NewTransaction()
	out, err := tx.RewriteDataFiles(ctx, groups, table.RewriteDataFilesOptions{SnapshotProps: props, ExtraDeleteFilesToRemove: dead,
		GroupOptions: []table.CompactionGroupOption{table.WithCompactionTargetFileSize(target)}})
	if err != nil {
		return res, fmt.Errorf("table %s: compacting: %w", name, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("table %s: committing the compaction (a concurrent run may have committed first; nothing was lost: compact again): %w", name, err)
	}
	res.RemovedDataFiles = out.RemovedDataFiles
	res.AddedDataFiles = out.AddedDataFiles
	res.RemovedDeleteFiles = out.RemovedPositionDeleteFiles + out.RemovedEqualityDeleteFiles + out.RemovedDeletionVectorFiles
	return res, nil
}

// liveDeleteFiles lists the delete files of the table's current snapshot:
// position and equality delete files and deletion vectors.
func liveDeleteFiles(ctx context.Context, tbl *table.Table) ([]iceberg.DataFile, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return nil, err
	}
	var out []iceberg.DataFile
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentDeletes {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, err
			}
			out = append(out, e.DataFile())
		}
	}
	return out, nil
}

// Expire removes snapshots older than olderThan, keeping at least
// retainLast, so that CleanOrphans can then delete the files only they held. The checkpoint
// survives: every snapshot cdcmerge makes (merges and compactions) carries
// it, and the current snapshot is never expired.
func Expire(ctx context.Context, tbl *table.Table, olderThan time.Duration, retainLast int) error {
	name := strings.Join(tbl.Identifier(), ".")
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	tx := tbl.NewTransaction()
	// Files are not deleted here (iceberg-go's post-commit deletion fails
	// on files an earlier expiry already removed); CleanOrphans deletes
	// what no snapshot references any more.
	if err := tx.ExpireSnapshots(table.WithOlderThan(olderThan), table.WithRetainLast(max(retainLast, 1)), table.WithPostCommit(false)); err != nil {
		return fmt.Errorf("table %s: expiring snapshots: %w", name, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("table %s: committing the expiry: %w", name, err)
	}
	return nil
}

// CleanOrphans lists (and unless dryRun deletes) files under the table's
// location that no snapshot references and that are older than olderThan,
// such as data files of a run that died before its commit. The age margin
// keeps files of a run still in progress.
func CleanOrphans(ctx context.Context, tbl *table.Table, olderThan time.Duration, dryRun bool) ([]string, error) {
	name := strings.Join(tbl.Identifier(), ".")
	res, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(olderThan), table.WithDryRun(dryRun))
	if err != nil {
		return nil, fmt.Errorf("table %s: orphan files: %w", name, err)
	}
	if dryRun {
		return res.OrphanFileLocations, nil
	}
	return res.DeletedFiles, nil
}

// CompactIfNeeded compacts the table when its current snapshot counts at
// least deleteFiles delete files (0: never), so merge-on-read tables stay
// fast to read without a separate job. It returns whether it compacted.
func CompactIfNeeded(ctx context.Context, tbl *table.Table, deleteFiles int) (bool, CompactResult, error) {
	snap := tbl.CurrentSnapshot()
	if deleteFiles <= 0 || snap == nil || snap.Summary == nil {
		return false, CompactResult{}, nil
	}
	n, _ := strconv.Atoi(snap.Summary.Properties["total-delete-files"])
	if n < deleteFiles {
		return false, CompactResult{}, nil
	}
	res, err := Compact(ctx, tbl, CompactOptions{MinInputFiles: 1})
	return err == nil, res, err
}
