// Package writer turns Arrow records in a table's schema into Iceberg data
// files of that table. It writes files and returns their metadata (path,
// row count, column statistics); it never commits. A file that is written
// but never committed is an orphan: it is not referenced by the table and
// cannot change what readers see. The files returned hold exactly the
// rows given (checked: a short write is an error), and a partitioned
// table's rows go to one file per partition. Under a memory budget
// (Options.Memory) a writer closes a row group at a size taken from the
// budget and queues two record batches, and fewer files are written at
// once (Options.Budget); the table's own properties are never changed for
// this (WithRowGroupBytes writes through a copy).
//
// An unpartitioned, unsorted table of flat columns is written by the
// direct writer (direct.go) instead of iceberg-go's WriteRecords: arrow-go's
// Parquet writer driven row group by row group, with cdcmerge's own
// dictionaries for string columns and delta encoding for ascending integer
// columns, the table's writer properties otherwise, and each file's
// metadata (counts, bounds, sizes) built from its footer by iceberg-go's
// DataFileFromMetadata, the statistics code of iceberg-go's own writer.
// Everything else (partitions, sort orders, bloom filters, nested or
// unusual types) goes through iceberg-go.
//
// A record's string or binary column may come as an Arrow dictionary
// array (internal/dictcol: the reader keeps DMS's dictionary-encoded
// columns that way): its field then has the dictionary type where the
// table's schema has the plain one. The direct writer maps its distinct
// values into the row group's dictionary, or decodes it where the column
// is written plain; records for iceberg-go's writer are decoded first.
// Either way the files hold the plain values.
package writer
