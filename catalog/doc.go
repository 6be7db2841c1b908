// Package catalog opens the Iceberg catalog cdcmerge commits to, and reads
// and writes the checkpoint that rides in each commit.
//
// The embedded default is iceberg-go's SQL catalog on a SQLite file
// (modernc.org/sqlite, no cgo) at <warehouse>/catalog.db. Its tables are the
// standard ones other SQL catalogs use, so other tools can open the result.
// Each catalog type is one file that registers an Opener: catalog.go (sql),
// glue.go (AWS Glue Data Catalog: tables go to <warehouse>/<db>.db/<table>
// even if the database has its own location; created databases get the
// location <warehouse>/<db>.db; the table's columns are written in Glue's
// schema so Athena and the console show them), rest.go (an Iceberg REST
// catalog with an OAuth2 credential, a token or SigV4; secrets never
// appear in its errors).
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
