// Package catalog opens the Iceberg catalog cdcmerge commits to, and reads
// and writes the checkpoint that rides in each commit.
//
// The embedded default is iceberg-go's SQL catalog on a SQLite file
// (modernc.org/sqlite, no cgo) at <warehouse>/catalog.db. Its tables are the
// standard ones other SQL catalogs use, so other tools can open the result.
//
// # Checkpoint
//
// Every commit cdcmerge makes carries the table's reader.Checkpoint in its
// snapshot summary under SummaryCheckpoint. The data and the checkpoint are
// therefore one atomic unit: either both are in the table or neither is.
// CheckpointOf walks back from the current snapshot to the newest snapshot
// that carries one, so commits by other tools (compaction, expiry) in
// between do not lose it.
package catalog
