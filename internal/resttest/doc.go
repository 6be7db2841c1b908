// Package resttest is a test fake: a small Iceberg REST catalog server
// written over iceberg-go's SQL catalog (SQLite in a temporary folder), so
// tests can drive iceberg-go's REST client (catalog/rest) end to end on
// loopback. It is not a product and not a REST catalog for real use.
//
// It implements what iceberg-go's client calls for cdcmerge's work, following
// the Iceberg REST catalog OpenAPI specification:
//
//   - POST /v1/oauth/tokens: the OAuth2 client_credentials grant. With a
//     client id and secret configured, every other request must carry
//     "Authorization: Bearer <token>" with a token issued here (or the static
//     token of Options.Token), else 401 NotAuthorizedException.
//   - GET /v1/config (defaults, overrides and the endpoints served).
//   - Namespaces: list, create, load, HEAD (exists), drop.
//   - Tables: list, create (stage-create false only), load, HEAD (exists),
//     commit (POST .../tables/{table} with requirements and updates), drop.
//
// A commit is applied through the SQL catalog's CommitTable, so its
// requirements are checked against the catalog's current metadata and the
// swap of the metadata pointer is a compare-and-set in SQLite: optimistic
// concurrency is real. A failed requirement or a lost race comes back as
// HTTP 409 CommitFailedException, which iceberg-go's client turns into an
// error wrapping table.ErrCommitFailed.
//
// Requests (method, path, status) are recorded for tests to assert on; the
// Authorization header and request bodies are not recorded.
//
// Not implemented: staged creates, register, rename, views, multi-table
// transactions, metrics, scan planning, credential vending and pagination
// (every list is returned in one page).
package resttest
