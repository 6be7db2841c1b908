// Package dictcol handles string and binary columns kept in dictionary
// form (an Arrow dictionary array: int32 indices into a small array of
// distinct values) on their way from a DMS file to a data file.
//
// DMS writes low-cardinality string columns dictionary-encoded (status
// codes, names of things, the DMS timestamp of a full load). Reading such
// a column as plain strings copies every value into a new buffer, and the
// writer then hashes every value again to build its own dictionary;
// reading it as a dictionary array costs only its indices, and the writer
// maps each distinct value once. Measured on the bench's 5M-row full load
// (see bench/README.md, round 5).
//
// Invariants:
//   - a dictionary column stands for the plain column of its value type:
//     same rows, same nulls, same values; only the representation differs;
//   - key columns never travel as dictionaries (they are hashed and
//     compared row by row); a consumer that reads other columns' values
//     either reads them through the dictionary (dedupe's order values,
//     merge's timestamp validation) or calls Decode or Plain first;
//   - Is accepts exactly the dictionaries Decode can undo (int32 indices,
//     string or binary values).
package dictcol
