// Package dedupe keeps the latest change per key of one batch of DMS files.
//
// A batch is a sequence of decoded files in stream order (LOAD files by
// number, then CDC files by basename), each already conformed to the table's
// Arrow schema. The order of changes is:
//
//  1. every full-load row ranks below every CDC row;
//  2. among CDC rows, the change sequence column (AR_H_CHANGE_SEQ) when the
//     row has one, otherwise the DMS timestamp column;
//  3. ties fall back to the position in the stream: later file, then later
//     row, wins.
//
// Because the files are visited in stream order, rule 3 needs no state: a
// change replaces the current winner for its key when its (class, order
// value) is greater than or equal to the winner's.
//
// Latest runs a Scan over the parts and builds the Result from them; a
// caller may instead feed a Scan files as they are decoded (Add, in stream
// order) and build the Result from the same rows conformed to the table's
// schema (Result checks they are: ErrScanMismatch otherwise). Order values
// of a part whose values never descend, or that all lie at or above an
// earlier part's, are compared by their ranges (orderSpan), not row by row.
//
// The result is the set of keys the batch touches (every winner, whatever its
// operation) and the rows to upsert (winners whose operation is I or U).
// A D winner only deletes; a D of a key the table does not hold is a no-op.
//
// Keys are encoded by KeyEncoder into byte strings that compare like the
// values they encode (per column, then column by column), so the encoding
// of the first key column can be compared with a data file's column bounds.
// The keys live in a KeySet that holds no Go pointers per key; a key of one
// 8-byte column (integers, dates, timestamps) is kept as a number in a flat
// open-addressing table, and KeySet.Sorted gives those numbers in order;
// while such keys arrive in increasing order (a full load read in key
// order) the set is only their sorted list, and the table is built at the
// first key out of order.
package dedupe
