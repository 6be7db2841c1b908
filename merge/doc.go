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
// # Invariants
//   - After a commit, every key of K appears at most once in the table:
//     deleted if its latest change is D, otherwise as its latest after-image.
//   - Keys outside K are untouched (their rows are copied byte for byte in
//     value when their file is rewritten).
//   - Nothing is committed for a batch unless all of it succeeded; a crash
//     before the commit leaves only unreferenced (orphan) files.
//   - A batch that is one Parquet file larger than the batch budget is
//     applied in parts of whole row groups, one commit each; rows of a
//     file are in commit order, so applying its parts in order equals
//     applying it whole. A run that stops between parts resumes at the
//     next row group, the file alone in its batch.
//   - No file's changes are applied twice under two names: the files of a
//     batch are read through a reader.DigestSource, and a file with rows
//     whose digest equals that of an earlier file of the batch or of one
//     of the checkpoint's recent files is refused (or, under quarantine,
//     skipped and recorded); the digests of the applied files go into the
//     batch's checkpoint.
package merge
