// Package gen writes synthetic AWS DMS S3-target output in Parquet, for
// demos, tests and benchmarks.
//
// # What it writes
//
// Generate writes, for each configured "schema.table", a full load followed
// by a CDC change stream, exactly laid out as DMS does (see
// docs/dms-output.md):
//
//	<schema>/<table>/LOAD00000001.parquet           full load, counter = 8 upper-case hex digits from 1
//	<schema>/<table>/LOAD0000000A.parquet           ...
//	<schema>/<table>/20260510-100000000.parquet     CDC, named yyyyMMdd-HHmmssSSS by the first change's commit time
//	<schema>/<table>/2026/05/10/20260510-...parquet CDC with Config.DatePartition (YYYYMMDD, SLASH)
//
// Files are written through a Sink; DirSink writes to a local directory
// (temporary file + rename, so readers never see half a file).
//
// Columns: CDC files start with Op ("I", "U" or "D"), then commit_ts
// (STRING "yyyy-MM-dd HH:mm:ss.SSSSSS", UTC), then the table's columns.
// LOAD files have no Op column and start with commit_ts (the load time, an
// hour before Config.Start). Every column is optional, as DMS writes them.
//
// Built-in table shapes, chosen by the table part of the name:
//
//	orders:      order_id int64 (key), customer_id int32, status string,
//	             amount decimal(12,2), created_at timestamp[us] (local),
//	             note string (null ~20%), is_gift bool
//	order_items: order_id int64 + line_no int32 (key), sku string, qty int32,
//	             price decimal(10,2), updated_at timestamp[us] (local)
//
// # Invariants of the generated stream
//
//   - The full load holds Config.Rows distinct keys.
//   - CDC files of a table have strictly increasing basenames (a name is
//     bumped by 1 ms when two files would collide) and partition the change
//     stream in order; row order within a file is commit order.
//   - commit_ts is non-decreasing over the whole stream of a table; a
//     TieFrac share of changes repeats the previous timestamp, the others
//     advance by 1 ms to 2 s.
//   - U rows target a live key (skewed, so some keys change many times,
//     also within one file) and carry the full after-image with changed
//     values; D rows carry the before-image or, for a KeyOnlyDeleteFrac
//     share, only the key with every other column null; I rows insert a new
//     key or, occasionally, re-insert a deleted one. An AbsentFrac share of
//     U/D rows target keys that never existed.
//   - Output is deterministic: the same Config (including Seed) gives
//     byte-identical files.
//
// GenerateS3Source writes the S3-source CSV layout instead: LOAD001.csv per
// table and the changes of all tables merged by commit time into shared
// CDC00001.csv (or, with PreserveTransactions, CDC_TXN-...) files under a
// CdcPath folder, rows op,table,schema,values (SharedChanges returns them).
//
// GenerateChanges returns the same rows as Go values, for tests that need the
// expected final state.
//
// # Lower-level helpers
//
// WriteParquet writes arbitrary rows with an Arrow schema (via arrow-go's
// pqarrow), with options for compression, row-group size, page version and
// dictionary encoding. WriteTypesFixture writes a LOAD and a CDC file (with
// parquet-go, to control physical types exactly) covering every physical and
// logical layout DMS may produce (INT8..INT64, UINT_8..UINT_64, FLOAT, DOUBLE,
// BOOLEAN, STRING, BINARY, DATE, TIME millis, TIMESTAMP millis/micros local
// and UTC, unannotated INT64, INT96, DECIMAL as INT32, INT64,
// FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY) and returns, per column, the Iceberg
// type and final values expected after merging.
//
// Go values used throughout: int32, int64 (and other integer widths in
// WriteParquet), float32, float64, bool, string, []byte, Decimal, Date,
// Time, Timestamp and nil for null.
package gen
