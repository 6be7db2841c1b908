// Package reader finds and decodes the files AWS DMS writes to an S3 target
// folder, and knows the position in that stream that a table has reached.
//
// # Layout
//
// A DMS bucket folder holds one folder per source table:
//
//	<root>/<schema>/<table>/LOAD00000001.parquet        full load, 8 upper-case hex digits
//	<root>/<schema>/<table>/20260510-100001234.parquet  CDC, named yyyyMMdd-HHmmssSSS
//	<root>/<schema>/<table>/2026/05/10/20260510-...     CDC under date-partition folders
//
// Discover lists the root recursively and groups files by table. LOAD files
// are ordered by their number, CDC files by basename (never by the full path:
// some date-partition sequences such as DDMMYYYY do not sort).
//
// The S3-source CSV layout (see s3source.go) has LOAD001.csv files per table
// and shared CDC files holding every table's rows (CDC00001.csv,
// CDC_TXN-yyyyMMddHHmmssSSS.csv) in one folder. GroupS3Source returns those
// apart (Format CSVChanges), ordered by number (CompareCDCNames: CDC9.csv
// before CDC00010.csv); the caller lists them as the CDC files of every
// table, and SharedCDC reads each once and hands each table its own rows, so
// each table keeps its own checkpoint over the shared files.
//
// # Decoding
//
// ReadFile (or ReadRowGroups, for some of its row groups) decodes one
// Parquet file into an Arrow record whose column types
// are already ones Iceberg can hold (unsigned and small integers widened,
// times and timestamps in microseconds, INT96 converted), plus the per-row
// operation taken from the Op column. Columns are addressed by name, never
// by position. Op is removed from the record; every other column, the DMS
// timestamp column included, stays. ReadParquet can keep string and
// binary columns whose pages DMS dictionary-encoded as Arrow dictionary
// arrays (ReadOptions.Dictionaries, internal/dictcol): merge asks for it
// for every column but the key, so that low-cardinality columns (and DMS
// timestamps, shared by the rows of a transaction) reach the writer
// without their values being copied row by row. docs/types.md lists, for each source
// database type, what DMS writes and the type and value read; its rows are
// checked by TestDocumentedTypes.
//
// A corrupt file must fail with a FileError, never crash or exhaust
// memory: the footer's column chunks must lie inside the file (checkFooter),
// page sizes are capped by the file size (readProps), the Snappy codec is
// registered wrapped so a block cannot claim more than its page
// (boundedSnappy, for every Parquet reader of the process), and a panic in
// the decoder is recovered into a FileError.
//
// # Checkpoint
//
// A Checkpoint records how far a table has consumed the stream: the last
// LOAD file and the last CDC file applied, and the horizon (the newest
// modification time among the files listed when that batch was planned).
// Pending selects the files after a checkpoint. A Parquet file larger
// than a batch is applied in parts of whole row groups (ReadRowGroups,
// RowGroupSizes); while it is, PartFile and PartRowGroups say how many of
// its row groups are in, and the file stays pending. A CSV file is applied
// in parts of consecutive records within a byte budget of its
// decompressed text (CSVParts: read once, front to back, the parts found
// while reading; a resumed file's applied records are scanned again, not
// decoded); while it is, PartFile and PartRecords say how many records are
// in. The shared CDC files of an S3 source are read whole. Invariants:
//   - a file is either at or before the checkpoint (applied) or after it
//     (pending); nothing is applied twice;
//   - a file named at or before the checkpoint that was modified after the
//     horizon arrived late; it is reported as an error, never skipped and
//     never applied out of order.
//
// # Digests
//
// A DigestSource wraps a Source and gives every file read through it a
// Digest of its content, computed from the bytes the decoder reads anyway
// (Parquet: the footer and the column chunks; CSV: the stream), so no file
// is read twice. Byte-identical files get the same digest. The first part
// of a CSV file read in several parts has the digest of its records and
// the file's size instead (the stream's digest is known only at its end);
// a copy read in the same parts gets the same one. SharedCDC reads each
// shared CDC file through a DigestSource and gives every table's rows of
// it the digest of the whole file. The checkpoint
// keeps the digests of the last RecentFiles files applied (Recent), so
// that the same file delivered again under another name is recognised
// later too. Fields are only ever added at the end of Checkpoint; an older
// checkpoint (without Recent) decodes unchanged.
package reader
