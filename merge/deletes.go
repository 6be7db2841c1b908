package merge

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/dv"
	"github.com/google/uuid"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/reader"
	"github.com/cdcmerge/cdcmerge/writer"
)

// Delete strategies of merge-on-read tables.
const (
	// DeletePosition locates the replaced rows by reading key columns and
	// records their positions: position delete files on format v2,
	// deletion vectors on v3.
	DeletePosition = "position"
	// DeleteEquality records the replaced keys as equality delete files,
	// without reading the table: fast writes, slow reads.
	DeleteEquality = "equality"
)

// PropertyDeleteStrategy is the table property holding a merge-on-read
// table's delete strategy (absent: DeletePosition).
const PropertyDeleteStrategy = "cdcmerge.delete-strategy"

// Format versions cdcmerge creates tables in.
const (
	DefaultFormatVersion = 2
	MaxFormatVersion     = 3
)

// deleteStrategy is the delete strategy of an existing table.
func deleteStrategy(tbl *table.Table) string {
	if tbl.Properties()[PropertyDeleteStrategy] == DeleteEquality {
		return DeleteEquality
	}
	return DeletePosition
}

// formatVersion is the Iceberg format version of an existing table.
func formatVersion(tbl *table.Table) int { return tbl.Metadata().Version() }

// checkTableSettings rejects write settings that are not valid for a table
// cdcmerge creates.
func checkTableSettings(mode, strategy string, version int) error {
	switch mode {
	case "", CopyOnWrite, MergeOnRead:
	default:
		return fmt.Errorf("write mode %q: use %s or %s", mode, CopyOnWrite, MergeOnRead)
	}
	switch strategy {
	case "", DeletePosition:
	case DeleteEquality:
		if mode != MergeOnRead {
			return fmt.Errorf("the equality delete strategy needs the %s write mode", MergeOnRead)
		}
	default:
		return fmt.Errorf("delete strategy %q: use %s or %s", strategy, DeletePosition, DeleteEquality)
	}
	if version != 0 && (version < DefaultFormatVersion || version > MaxFormatVersion) {
		return fmt.Errorf("format version %d: use 2 or 3", version)
	}
	if version >= 3 && mode != MergeOnRead {
		return errCopyOnWriteV3
	}
	return nil
}

// errCopyOnWriteV3: iceberg-go v0.7.0 replaces data files on format v3 only
// when each new file carries explicit row IDs (first_row_id), which its
// writer does not assign.
var errCopyOnWriteV3 = fmt.Errorf("format version 3 needs the %s write mode: copy-on-write commits on v3 are not supported (iceberg-go wants explicit row IDs on rewritten files)", MergeOnRead)

// touchedFile is a data file that a merge-on-read batch deletes rows of.
type touchedFile struct {
	file iceberg.DataFile
	// gone holds the positions earlier deletes already removed; a new
	// deletion vector must carry them, since it replaces the old one and
	// supersedes any position delete file of the data file. Sorted.
	gone []int64
	// dvs are the data file's current deletion vectors (at most one),
	// removed in the commit that adds the new one.
	dvs []iceberg.DataFile
}

// readDeletionVector adds the positions of a deletion vector to deleted
// (unsorted: the caller sorts once all are read).
func readDeletionVector(fs iceio.IO, f iceberg.DataFile, deleted map[string][]int64) error {
	bm, err := dv.ReadDV(fs, f)
	if err != nil {
		return fmt.Errorf("reading deletion vector %s: %w", f.FilePath(), err)
	}
	ref := f.ReferencedDataFile()
	if ref == nil {
		return fmt.Errorf("deletion vector %s names no data file", f.FilePath())
	}
	for p := range bm.Positions() {
		deleted[*ref] = append(deleted[*ref], int64(p))
	}
	return nil
}

// writeDeletionVectors writes one Puffin file holding a deletion vector
// for every data file in m.deletes: the new positions plus every position
// already deleted in that file. It returns the new vectors and the ones
// they replace, which the same commit removes (the spec allows one live
// vector per data file).
func writeDeletionVectors(ctx context.Context, tbl *table.Table, m *matches) (added, replaced []iceberg.DataFile, err error) {
	if len(m.deletes) == 0 {
		return nil, nil, nil
	}
	wfs, locs, err := writer.Target(ctx, tbl)
	if err != nil {
		return nil, nil, err
	}
	meta := tbl.Metadata()
	w := dv.NewDVWriter(wfs, func(id int32) *iceberg.PartitionSpec { return meta.PartitionSpecByID(int(id)) })
	paths := make([]string, 0, len(m.deletes))
	for p := range m.deletes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		t := m.touched[p]
		if t.file == nil {
			return nil, nil, fmt.Errorf("internal error: no data file recorded for %s", p)
		}
		pos := append(slices.Clip(m.deletes[p]), t.gone...)
		if err := w.Add(p, pos, t.file.SpecID(), t.file.Partition()); err != nil {
			return nil, nil, err
		}
		replaced = append(replaced, t.dvs...)
	}
	loc := locs.NewDataLocation(uuid.NewString() + "-dv.puffin")
	added, err = w.Flush(ctx, loc)
	if err != nil {
		return nil, nil, fmt.Errorf("writing deletion vectors %s: %w", loc, err)
	}
	return added, replaced, nil
}

// planEquality is the plan of the equality delete strategy: the table is
// not read, so whether a key was present is unknown. Delete winners count
// as deleted rows, every upsert as an insert.
func planEquality(res *dedupe.Result) *matches {
	m := &matches{found: make([]bool, res.Keys.Len())}
	for k := range m.found {
		m.found[k] = res.IsDelete(int32(k))
	}
	return m
}

// writeEqualityDeletes writes equality delete files on the key columns
// holding every key of the batch. Committed with the batch's new rows in
// one snapshot, they remove every older row of those keys and none of the
// new ones: an equality delete applies only to data files of a lower
// sequence number.
func writeEqualityDeletes(ctx context.Context, tbl *table.Table, key []string, res *dedupe.Result, mem memory.Allocator) ([]iceberg.DataFile, error) {
	if res.Keys.Len() == 0 || !hasDataFiles(tbl) {
		// Nothing older to delete (the initial load of a new table).
		return nil, nil
	}
	sc := tbl.Schema()
	ids := make([]int, len(key))
	for i, k := range key {
		f, ok := sc.FindFieldByNameCaseInsensitive(k)
		if !ok {
			return nil, fmt.Errorf("key column %q is not in the table", k)
		}
		ids[i] = f.ID
	}
	// A partitioned table routes each equality delete to a partition, so
	// the partition must follow from the key alone: a key-only delete
	// carries nothing else.
	spec := tbl.Spec()
	for _, pf := range spec.Fields() {
		for _, src := range pf.SourceIDs {
			if !slices.Contains(ids, src) {
				return nil, fmt.Errorf("the table is partitioned by a column outside the key (partition field %s), so an equality delete of a key cannot name its partition; use the position delete strategy (cdcmerge compact, then cdcmerge alter --delete-strategy position)", pf.Name)
			}
		}
	}
	keySchema, err := sc.Select(false, key...)
	if err != nil {
		return nil, err
	}
	want, err := table.SchemaToArrowSchema(keySchema, nil, true, false)
	if err != nil {
		return nil, err
	}
	recs, err := res.KeyRecords(ctx, mem)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	files, err := tbl.NewTransaction().WriteEqualityDeletes(ctx, ids, func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range recs {
			// The key columns in the table's order, labelled with its
			// field IDs.
			cols := make([]arrow.Array, len(want.Fields()))
			for j, f := range want.Fields() {
				c := reader.ColumnIndex(r.Schema(), f.Name)
				if c < 0 {
					yield(nil, fmt.Errorf("key column %q missing from the batch", f.Name))
					return
				}
				cols[j] = r.Column(c)
			}
			out := array.NewRecordBatch(want, cols, r.NumRows())
			ok := yield(out, nil)
			if !ok {
				return
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("writing equality delete files: %w", err)
	}
	return files, nil
}

// hasDataFiles reports whether the table's current snapshot may hold data
// files (when its summary does not say, it may).
func hasDataFiles(tbl *table.Table) bool {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return false
	}
	return snap.Summary == nil || snap.Summary.Properties["total-data-files"] != "0"
}

// DescribeMode says how a table is written: its write mode, format version
// and, for merge-on-read, the form its deletes take.
func DescribeMode(tbl *table.Table) string {
	mode, v := writeMode(tbl), formatVersion(tbl)
	out := fmt.Sprintf("%s, format v%d", mode, v)
	switch {
	case mode != MergeOnRead:
	case deleteStrategy(tbl) == DeleteEquality:
		out += ", equality deletes"
	case v >= 3:
		out += ", deletion vectors"
	default:
		out += ", position deletes"
	}
	return out
}
