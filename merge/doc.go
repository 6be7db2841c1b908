// Package merge applies the latest changes of a table's pending DMS files to
// its Iceberg table, batch by batch, each batch one atomic commit.
//
// For one table, a run:
//
//	list files -> Pending(checkpoint) -> split into batches (bounded bytes)
//	per batch: decode -> evolve schema -> conform -> dedupe.Latest
//	        -> copy-on-write plan -> write data files -> commit + checkpoint
//
// # Copy-on-write
//
// A batch touches a set of keys K (every key whose latest change it holds).
// A data file of the table can hold a key of K only if the first key
// column's bounds of the file cover a key of K; those candidates have their
// key columns read, and a candidate that really holds a key of K is
// rewritten without those rows. The winners whose change is I or U are
// appended. Removing the rewritten files and adding the new ones happen in
// one snapshot, whose summary carries the checkpoint.
//
// # Merge-on-read
//
// Data files are never rewritten: the plan finds the positions of K's keys
// in the candidate files (reading their key column, merging a record's
// ascending integer keys with K sorted, else a hash lookup), and writes one
// position delete file per data file hit. The winners' new rows do not
// depend on the plan, so they are written while it runs.
//
// # Tables cdcmerge creates
//
// Writer settings are chosen from the first batch and stored as table
// properties (so any Iceberg writer honours them; user properties win):
// zstd level 1, and no Parquet dictionary for columns whose sample is
// mostly distinct.
//
// # Invariants
//   - After a commit, every key of K appears at most once in the table:
//     deleted if its latest change is D, otherwise as its latest after-image.
//   - Keys outside K are untouched (their rows are copied byte for byte in
//     value when their file is rewritten).
//   - Nothing is committed for a batch unless all of it succeeded; a crash
//     before the commit leaves only unreferenced (orphan) files.
package merge
