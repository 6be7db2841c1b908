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
// Merge-on-read never rewrites a data file: it appends the winners and
// records the rows they replace as deletes, by the table's delete strategy
// (table property cdcmerge.delete-strategy):
//   - position (default): the candidates' key columns are read (skipping
//     rows earlier deletes removed) to find the replaced rows' positions;
//     format v2 writes one position delete file per data file touched,
//     format v3 one deletion vector per data file touched, carrying every
//     earlier deleted position of that file, and removes the vector it
//     replaces in the same row delta (one live vector per data file);
//   - equality: an equality delete file on the key columns holds every key
//     of the batch; nothing is read. It removes the older rows of those
//     keys and not the batch's own rows, which share its sequence number.
//
// Alter changes a table's mode, strategy or format version; a change that
// the old delete files would make unsafe (leaving merge-on-read, equality
// to position) is refused until Compact has folded them all away.
//
// # Invariants
//   - After a commit, every key of K appears at most once in the table:
//     deleted if its latest change is D, otherwise as its latest after-image.
//   - Keys outside K are untouched (their rows are copied byte for byte in
//     value when their file is rewritten).
//   - Nothing is committed for a batch unless all of it succeeded; a crash
//     before the commit leaves only unreferenced (orphan) files.
package merge
