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
package writer
