package merge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/writer"
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
	// SortByKey writes the rows of each rewritten group in the table's
	// key order, so the group's new files have disjoint key ranges and
	// readers filtering on the key skip most of them by their bounds.
	// Without a Memory budget a group (at most a few target-size files)
	// is sorted in memory; under one, it is sorted externally (keySorter).
	SortByKey bool
	// Memory is the memory budget (0: none, iceberg-go's defaults). Under
	// it a group is read by one worker in record batches sized from it,
	// the writer queues two batches and closes row groups at the size
	// writer.Options.Budget gives one writer, and SortByKey sorts runs of
	// rows of at most Memory/8 decoded bytes (sortRunShare), spills them
	// to TempDir when a group holds more than one and merges them.
	Memory int64
	// TempDir is where SortByKey spills sorted runs ("": os.TempDir(),
	// that is $TMPDIR): local disk with room for a group's rows.
	TempDir string
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
	target := targetFileSize(tbl, opt.TargetFileSize)
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
	tasks, err := planWholeFiles(ctx, tbl.Scan())
	if err != nil {
		return res, fmt.Errorf("table %s: planning compaction: %w", name, err)
	}
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return res, fmt.Errorf("table %s: planning compaction: %w", name, err)
	}
	if len(plan.Groups) == 0 {
		return res, nil
	}
	var key []string
	if opt.SortByKey {
		if key = identifierNames(tbl); len(key) == 0 {
			return res, fmt.Errorf("table %s: --sort-by-key needs the table's key, and the table has no identifier fields", name)
		}
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
	// The compaction snapshot carries the table's checkpoint forward, so
	// that expiring the older snapshots can never lose it.
	props := iceberg.Properties{}
	if cp, err := catalog.CheckpointOf(tbl); err == nil && !cp.IsZero() {
		props[catalog.SummaryCheckpoint] = cp.Encode()
	}
	wtbl, gopts, err := compactionBudget(tbl, target, opt.Memory)
	if err != nil {
		return res, fmt.Errorf("table %s: %w", name, err)
	}
	tx := tbl.NewTransaction()
	rewrite := tx.NewRewrite(props)
	staged := map[string]struct{}{} // delete files the rewrite removes
	// Each group holds the files of one partition (PlanCompaction
	// groups by partition), so every output file stays in one partition.
	groups := plan.Groups
	if opt.SortByKey {
		groups = onePerPartition(groups)
	}
	for _, g := range groups {
		group := table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes}
		var gr table.CompactionGroupResult
		if opt.SortByKey {
			gr, err = sortedGroup(ctx, tbl, group, key, target, opt.Memory, opt.TempDir)
		} else {
			gr, err = table.ExecuteCompactionGroup(ctx, wtbl, group, append(gopts, table.WithCompactionArrowBatchSize(groupBatchRows(group, opt.Memory)))...)
		}
		if err != nil {
			return res, fmt.Errorf("table %s: compacting: %w", name, err)
		}
		if len(gr.OldDataFiles) == 0 && len(gr.NewDataFiles) == 0 {
			continue
		}
		rewrite.ApplyResult(gr)
		for _, df := range append(gr.SafePosDeletes, gr.SafeDeletionVectors...) {
			staged[df.FilePath()] = struct{}{}
		}
		res.RemovedDataFiles += len(gr.OldDataFiles)
		res.AddedDataFiles += len(gr.NewDataFiles)
		res.RemovedDeleteFiles += len(gr.SafePosDeletes) + len(gr.SafeDeletionVectors)
	}
	if res.RemovedDataFiles == 0 {
		return res, nil
	}
	for _, df := range dead {
		if _, ok := staged[df.FilePath()]; ok {
			continue // attached to a rewritten file: already removed
		}
		staged[df.FilePath()] = struct{}{}
		rewrite.DeleteFile(df)
		res.RemovedDeleteFiles++
	}
	if err := rewrite.Commit(ctx); err != nil {
		return CompactResult{Table: name}, fmt.Errorf("table %s: compacting: %w", name, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return CompactResult{Table: name}, fmt.Errorf("table %s: committing the compaction (a concurrent run may have committed first; nothing was lost: compact again): %w", name, err)
	}
	return res, nil
}

// compactionBudget returns the table compaction groups are written
// through (a copy with smaller row groups under a memory budget, see
// writer.WithRowGroupBytes; the commit goes to tbl) and the options of
// ExecuteCompactionGroup. Without a budget: tbl and iceberg-go's defaults
// (a scan worker per core, each holding up to a whole decoded file, and
// writers queueing 64 batches).
func compactionBudget(tbl *table.Table, target, budget int64) (*table.Table, []table.CompactionGroupOption, error) {
	opts := []table.CompactionGroupOption{table.WithCompactionTargetFileSize(target)}
	if budget <= 0 {
		return tbl, opts, nil
	}
	_, rowGroup, queued := writer.Options{Parallel: 1, Memory: budget}.Budget()
	wtbl, err := writer.WithRowGroupBytes(tbl, rowGroup)
	if err != nil {
		return nil, nil, err
	}
	return wtbl, append(opts, table.WithCompactionScanConcurrency(1), table.WithCompactionRecordBatchBufferSize(queued)), nil
}

// groupBatchRows is the record batch size (rows) that reading group g
// takes under a memory budget: that of its widest rows (0: no budget).
func groupBatchRows(g table.CompactionTaskGroup, budget int64) int {
	rows := 0
	for _, t := range g.Tasks {
		if n := readBatchRows(t.File, budget); n > 0 && (rows == 0 || n < rows) {
			rows = n
		}
	}
	return rows
}

// targetFileSize is size if set, else the table's
// write.target-file-size-bytes (default 512 MiB).
func targetFileSize(tbl *table.Table, size int64) int64 {
	if size > 0 {
		return size
	}
	return int64(tbl.Properties().GetInt(table.WriteTargetFileSizeBytesKey, table.WriteTargetFileSizeBytesDefault))
}

func identifierNames(tbl *table.Table) []string {
	sc := tbl.Schema()
	var out []string
	for _, id := range sc.IdentifierFieldIDs {
		if f, ok := sc.FindFieldByID(id); ok {
			out = append(out, f.Name)
		}
	}
	return out
}

// sortedGroup rewrites a compaction group like
// table.ExecuteCompactionGroup, with its live rows in one key order
// (keySorter): in memory, or in sorted runs of at most
// budget/sortRunShare decoded bytes (sortRunBytesNoBudget without a
// budget) spilled under tempDir and merged, so the files written have
// disjoint key ranges either way.
func sortedGroup(ctx context.Context, tbl *table.Table, g table.CompactionTaskGroup, key []string, target, budget int64, tempDir string) (out table.CompactionGroupResult, err error) {
	old := make([]iceberg.DataFile, len(g.Tasks))
	for i, t := range g.Tasks {
		old[i] = t.File
	}
	out = table.CompactionGroupResult{
		PartitionKey:        g.PartitionKey,
		OldDataFiles:        old,
		SafePosDeletes:      table.CollectSafePositionDeletes(g.Tasks),
		SafeDeletionVectors: table.CollectSafeDeletionVectors(g.Tasks),
		BytesBefore:         g.TotalSizeBytes,
	}
	sc, recs, err := tbl.Scan(table.WithArrowBatchSize(groupBatchRows(g, budget))).ReadTasks(ctx, g.Tasks)
	if err != nil {
		return out, err
	}
	runBytes := int64(sortRunBytesNoBudget)
	if budget > 0 {
		runBytes = max(budget/sortRunShare, 1)
	}
	sorter, err := newKeySorter(sc, key, runBytes, tempDir)
	if err != nil {
		return out, err
	}
	defer func() { err = errors.Join(err, sorter.Close()) }()
	for rec, err := range recs {
		if err != nil {
			return out, err
		}
		if err := sorter.Add(ctx, rec); err != nil {
			return out, err
		}
	}
	if sorter.rows == 0 {
		return out, nil // every row was deleted
	}
	wopt := writer.Options{TargetFileSize: target, Parallel: 1, Memory: budget, Ordered: true}
	out.NewDataFiles, err = writer.DataFiles(ctx, tbl, sc, sorter.Sorted(ctx), wopt)
	return out, err
}

// sortRunShare: under a memory budget, a sorted run's decoded rows take at
// most this fraction of it. Sorting holds them about three times over (the
// batches read, their concatenation and the sorted copy) besides the sort
// keys and the scan; merging the spilled runs holds about one run's worth
// besides the writer.
const sortRunShare = 8

// sortRunBytesNoBudget bounds a sorted run without a memory budget, so
// that a partition larger than that is still sorted on disk.
const sortRunBytesNoBudget = 1 << 30

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
// keeps files of a run still in progress. Key indexes (keyindex.go) are
// referenced by no snapshot either: the index of a live data file is kept,
// that of a data file no snapshot references or that is gone is an orphan
// (orphanKeyIndexes).
func CleanOrphans(ctx context.Context, tbl *table.Table, olderThan time.Duration, dryRun bool) ([]string, error) {
	name := strings.Join(tbl.Identifier(), ".")
	plan, err := tbl.PlanOrphanFiles(ctx, table.WithFilesOlderThan(olderThan))
	if err != nil {
		return nil, fmt.Errorf("table %s: orphan files: %w", name, err)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %s: orphan files: %w", name, err)
	}
	orphans := orphanKeyIndexes(fs, plan.Files())
	if dryRun || len(orphans) == 0 {
		return orphans, nil
	}
	var deleted []string
	if bulk, ok := fs.(iceio.BulkRemovableIO); ok && fault.Hook == nil {
		deleted, err = bulk.DeleteFiles(ctx, orphans)
	} else {
		// One at a time; in tests with a crash point after each file.
		for _, f := range orphans {
			if e := fs.Remove(f); e != nil {
				err = errors.Join(err, e)
				continue
			}
			deleted = append(deleted, f)
			if e := fault.Point(fault.DuringCleanup); e != nil {
				err = errors.Join(err, e)
				break
			}
		}
	}
	if err != nil {
		return deleted, fmt.Errorf("table %s: deleting orphan files: %w", name, err)
	}
	return deleted, nil
}

// CompactThresholds say when a run compacts a table after its commits
// (each 0: never).
type CompactThresholds struct {
	// DeleteFiles: the current snapshot counts at least this many delete
	// files (merge-on-read), which slow every read down.
	DeleteFiles int
	// SmallFiles: at least this many data files are small, below 3/4 of
	// the target size (the size under which compaction rewrites a file).
	SmallFiles int
	// TargetFileSize overrides the table's write.target-file-size-bytes.
	TargetFileSize int64
	// Memory is the compaction's memory budget (CompactOptions.Memory).
	Memory int64
}

// CompactIfNeeded compacts the table when a threshold is reached, so
// tables stay fast to read without a separate job. It returns whether it
// compacted.
func CompactIfNeeded(ctx context.Context, tbl *table.Table, th CompactThresholds) (bool, CompactResult, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil || snap.Summary == nil {
		return false, CompactResult{}, nil
	}
	opt := CompactOptions{TargetFileSize: th.TargetFileSize, Memory: th.Memory}
	if n, _ := strconv.Atoi(snap.Summary.Properties["total-delete-files"]); th.DeleteFiles > 0 && n >= th.DeleteFiles {
		opt.MinInputFiles = 1 // fold every delete file in, even into a lone file
	}
	if opt.MinInputFiles == 0 && th.SmallFiles > 0 {
		n, err := smallFiles(ctx, tbl, targetFileSize(tbl, th.TargetFileSize)*3/4)
		if err != nil {
			return false, CompactResult{}, err
		}
		if n >= th.SmallFiles {
			opt.MinInputFiles = 2 // a lone small file in its partition stays
		}
	}
	if opt.MinInputFiles == 0 {
		return false, CompactResult{}, nil
	}
	res, err := Compact(ctx, tbl, opt)
	return err == nil, res, err
}

// smallFiles counts the data files of the current snapshot below size.
func smallFiles(ctx context.Context, tbl *table.Table, size int64) (int, error) {
	tasks, err := planWholeFiles(ctx, tbl.Scan())
	if err != nil {
		return 0, fmt.Errorf("table %s: listing data files: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	n := 0
	for _, t := range tasks {
		if t.File.FileSizeBytes() < size {
			n++
		}
	}
	return n, nil
}
