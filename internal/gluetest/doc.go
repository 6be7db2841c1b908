// Package gluetest is a protocol fake of the AWS Glue Data Catalog for
// tests. It is not an emulator and holds no real data: it speaks Glue's
// JSON 1.1 wire protocol (POST /, X-Amz-Target: AWSGlue.<Op>,
// Content-Type: application/x-amz-json-1.1) well enough that the unmodified
// aws-sdk-go-v2 Glue client, and iceberg-go's Glue catalog on top of it,
// run against it on loopback. No Glue emulator runs on the machines this
// project is built on (moto and LocalStack need Python or Docker), so the
// Glue catalog path is tested against this fake instead.
//
// # What it models
//
// The operations iceberg-go's Glue catalog calls, with the documented
// behaviour of the real API:
//
//   - GetDatabase, GetDatabases (paginated), CreateDatabase
//     (AlreadyExistsException), UpdateDatabase, DeleteDatabase (drops the
//     database's tables too).
//   - GetTable, GetTables (paginated with NextToken), CreateTable
//     (EntityNotFoundException when the database is missing,
//     AlreadyExistsException when the table exists), DeleteTable.
//   - UpdateTable with optimistic concurrency: every table has a VersionId,
//     "0" after CreateTable and incremented by every UpdateTable; an
//     UpdateTable whose VersionId is not the current one fails with
//     ConcurrentModificationException and changes nothing. An UpdateTable
//     without a VersionId is unconditional, as in Glue.
//   - Database and table names are case-insensitive and stored lower-case.
//   - Errors are HTTP 400 with a body {"__type": "<Code>", "message": "..."},
//     the shape the SDK decodes into its typed errors.
//
// # What it does not model
//
// Signatures are not verified, but a request without a SigV4 Authorization
// header for the "glue" service is refused (MissingAuthenticationTokenException),
// so a test proves credentials were really sent. CatalogId is recorded per
// call (see Calls) but all requests share one catalog. Table versions are
// not archived (GetTableVersions is not served); partitions, Lake
// Formation, GetTables' Expression and everything else answer
// UnknownOperationException or InvalidInputException.
//
// # Inspecting state
//
// Every TableInput a table was created or updated with is kept (Table
// returns them in order), so a test can check the Parameters
// (table_type, metadata_location) and StorageDescriptor.Columns that
// Athena and the Glue console read. OnUpdateTable runs a function before an
// UpdateTable is applied, which makes commit races deterministic without
// sleeping.
package gluetest
