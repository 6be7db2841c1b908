// Package bench is the benchmark harness behind `cdcmerge bench`: it
// generates one synthetic DMS dataset (table shop.orders, with package gen)
// and runs, in one process run so the ratios hold on a noisy machine, three
// contenders on the same files:
//
//   - cdcmerge: the built binary as a subprocess (`cdcmerge run ... --output
//     json`), once over the LOAD files only (initial load into a new table)
//     and once more after the CDC files were added (incremental merge).
//     Process start is included; wall time and the child's peak RSS are
//     recorded.
//   - floor: every input Parquet file read with arrow-go (pqarrow) and
//     written again with the same codec (zstd), two files at a time, in
//     process: the I/O and codec work no engine can avoid.
//   - duckdb: the separate module bench/duckdbpeer (cgo, never imported
//     here), built with `go build` into the work folder and run as a
//     subprocess: CREATE TABLE AS read_parquet(LOAD), QUALIFY ROW_NUMBER()
//     dedupe, MERGE INTO, COPY TO Parquet (zstd). If it cannot be built, it
//     is reported as unavailable with the reason and the rest still runs.
//
// cdcmerge runs as three contenders: copy-on-write, merge-on-read, and
// merge-on-read into a table partitioned by PartitionSpec.
//
// After the rounds, once: the small batches scenario (per write mode, a
// table of its own loaded from the LOAD files, then Options.SmallRuns
// `cdcmerge run` processes, each after one more generated CDC file of
// SmallBatchChanges changes; merge-on-read compacted every
// Options.CompactEvery runs; and the DuckDB peer doing the same batches,
// one process each, its table state carried from run to run as the
// Parquet file the previous run exported) reported as p50/p95/max wall
// time, and the read after merge: a full iceberg-go scan of each table
// before and after a `cdcmerge compact`.
//
// Every run checks correctness: each Iceberg table cdcmerge left after the
// incremental merge, and after the small batches, must equal, row for row
// and column for column, the DuckDB output after the same input (or,
// without DuckDB, a naive in-memory replay of the generated change
// stream). Rows are compared by order_id through a fingerprint of all
// their cells, so the check stays within memory at L; the reference's
// fingerprints are computed once per scenario and dropped before the next
// timed process.
//
// Results are written as <results>/<size>.json, <results>/<size>.md and
// <results>/<size>.png (a bar chart drawn with the standard library):
// the machine, the inputs, one row per contender and phase with seconds,
// peak RSS, the ratio to DuckDB's whole job, and the wall time priced as an
// ECS Fargate task and as a Glue job (prices are inputs, stated in the
// output).
//
// Invariants: the harness never writes outside the work folder and the
// results folder; the source, warehouse and output folders of a run are
// recreated from scratch, only the generated dataset is reused when its
// generator config is unchanged (gen output is deterministic).
package bench
