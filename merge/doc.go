// Package merge applies the latest changes of a table's pending DMS files to
// its Iceberg table, batch by batch, each batch one atomic commit.
//
// For one table, a run:
//
//	list files -> Pending(checkpoint) -> split into batches (bounded bytes)
//	per batch: decode -> evolve schema -> conform -> dedupe.Latest
//	        -> plan (copy-on-write or merge-on-read) -> write data and
//	           delete files -> commit + checkpoint
//
// Dedupe's scan (the one-core pass that picks each key's winner) runs
// while the batch's files are still being decoded, file by file in stream
// order (earlyScan); its result is used only when the conformed parts are
// exactly the rows it scanned, with the same key and order column types,
// and dedupe.Latest runs over the conformed parts otherwise.
//
// Decoding keeps DMS's dictionary-encoded string columns as dictionaries
// (internal/dictcol) all the way to the writer, except the key, which is
// hashed and compared row by row; validation and dedupe read the other
// columns they need (the DMS timestamp, the change sequence) through the
// dictionary, judging each distinct timestamp once.
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
//     rows earlier deletes removed) to find the replaced rows' positions,
//     merging a record's ascending integer keys with the batch's sorted
//     keys, else by a hash lookup; a single integer key column is decoded
//     below pqarrow into a reused buffer, row groups whose statistics hold
//     no key of the batch are skipped, and in ascending chunks the batch's
//     keys are binary searched (morscan.go); delete files that name one
//     data file are read by their pos column alone; for a single integer
//     key column, a data file's key index (keyindex.go: a side file next
//     to it with its keys sorted, with their positions, delta bit-packed
//     and checksummed) is read instead of its key column, and written on
//     the file's first scan (table property cdcmerge.key-index=false turns
//     this off);
//     format v2 writes one position delete file per data file touched,
//     format v3 one deletion vector per data file touched, carrying every
//     earlier deleted position of that file, and removes the vector it
//     replaces in the same row delta (one live vector per data file);
//   - equality: an equality delete file on the key columns holds every key
//     of the batch; nothing is read. It removes the older rows of those
//     keys and not the batch's own rows, which share its sequence number.
//
// The winners' new rows do not depend on the plan, so they are written
// while it runs.
//
// Alter changes a table's mode, strategy or format version; a change that
// the old delete files would make unsafe (leaving merge-on-read, equality
// to position) is refused until Compact has folded them all away.
//
// # Tables cdcmerge creates
//
// Writer settings are chosen from the first batch and stored as table
// properties (so any Iceberg writer honours them; user properties win):
// zstd level 1, and no Parquet dictionary for columns whose sample is
// mostly distinct.
//
// # Partitioned tables
//
// A table cdcmerge creates may have a partition spec (Options.Partition,
// validated against the columns in partitionSpec). Rows are written
// through iceberg-go's fanout writer, one file per partition. A key-only
// delete has no partition value, and an update may move its row to another
// partition, so the plan prunes by partition only on fields derived from
// a key column alone (bucket, identity, truncate of the key: the key fixes
// that part of the partition, keyPartitionFilter); fields on other columns
// (day(updated_at)) prune nothing, and keys are looked up in the files of
// every such partition (by key bounds). The old row is deleted where it is
// and the new one written where it belongs. A position delete file takes
// the spec and partition of the data file it references.
//
// # Maintenance
//
// Compact bin-packs each partition's small files and folds delete files in,
// optionally writing each partition's rewritten rows in one key order
// (SortByKey: one group per partition, an external merge sort within the
// memory budget, keysort.go), so the new files have disjoint key ranges;
// CompactIfNeeded does it when a
// threshold (delete files, small files) is reached; Expire and
// CleanOrphans drop old snapshots and unreferenced files (CleanOrphans
// removes the key index of a data file with it and keeps those of live
// data files, which no snapshot references either). Every
// maintenance commit carries the checkpoint forward, and one that races a
// run fails or makes the run re-plan: neither loses rows.
//
// # Invariants
//   - After a commit, every key of K appears at most once in the table:
//     deleted if its latest change is D, otherwise as its latest after-image.
//   - Keys outside K are untouched (their rows are copied byte for byte in
//     value when their file is rewritten).
//   - Nothing is committed for a batch unless all of it succeeded; a crash
//     before the commit leaves only unreferenced (orphan) files.
//   - Shared CDC files of an S3 source (Options.Shared) are in the CDC list
//     of every table; a table reads only its own rows of them, so its
//     checkpoint moves over them independently of the other tables'.
//   - Every row of a data file belongs to the file's partition, and the
//     data files of a commit hold exactly the rows given to the writer.
//   - A batch that is one Parquet file larger than the batch budget is
//     applied in parts of whole row groups, one commit each; rows of a
//     file are in commit order, so applying its parts in order equals
//     applying it whole (a later part's change to a key wins, as a later
//     row, ties on the DMS timestamp included, wins within one part). A
//     run that stops between parts resumes at the next row group, the
//     file alone in its batch.
//   - A batch that is one CSV file is read in parts of consecutive
//     records within the batch budget, counted in decompressed bytes (a
//     gzip file's size says little about its records; a file that fits is
//     one part), found while the file is read once (reader.CSVParts), one
//     commit each; the checkpoint's PartRecords says how many records are
//     in, and a resumed run skips exactly those (a file that no longer
//     has more is refused as changed). Shared CDC files of an S3 source
//     are read whole.
//   - No file's changes are applied twice under two names: the files of a
//     batch are read through a reader.DigestSource (shared CDC files of an
//     S3 source by reader.SharedCDC, which digests its one read of each
//     and gives every table's rows that digest), and a file with rows
//     whose digest equals that of an earlier file of the batch or of one
//     of the checkpoint's recent files is refused (or, under quarantine,
//     skipped and recorded); the digests of the applied files go into the
//     batch's checkpoint.
//   - A sorted compaction's spill files live in a private directory of
//     the local temporary directory (CompactOptions.TempDir, else
//     $TMPDIR), never under the table's location, so no table can
//     reference one; they are removed when the compaction returns, on
//     error too, and the directory a crashed process left (its lock is
//     free) by the next sorted compaction (sweepSpillDirs).
//   - A key index is a function of its immutable data file alone (it
//     holds the file's path hash, row count and size, and a CRC-32C), so it
//     is never stale; one that is missing, unreadable or fails a check is
//     ignored and the file's key column read, so an index never changes
//     which rows a plan finds. It is written in one atomic step (rename on
//     a local disk, one PUT on an object store): concurrent writers of the
//     same index write the same bytes.
//   - Under a memory budget (Options.MemoryLimit, CompactOptions.Memory)
//     no data file is held whole: a copy-on-write rewrite streams each
//     one in record batches sized from the budget (readBatchRows), the
//     writers are sized from it (writer.Options.Memory), compaction reads
//     with one worker, and SortByKey sorts runs of rows that fit the
//     budget (sortRunShare), spills them and merges them holding one
//     batch per run (sortFanIn at a time). What is not bounded: the
//     batch itself (one row group, or one CSV record, at least; several
//     gzip CSV files are batched by their compressed size) and the
//     position deletes
//     iceberg-go loads for a compaction.
package merge
