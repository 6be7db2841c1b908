package writer_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/dictcol"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/writer"
)

// withDictionaries returns rec with its string and binary columns as
// dictionary arrays (and a schema saying so), for every other record
// only: a write gets dictionary and plain chunks of one column mixed.
func withDictionaries(t *testing.T, recs []arrow.RecordBatch) []arrow.RecordBatch {
	r := rand.New(rand.NewSource(5))
	var out []arrow.RecordBatch
	for n, rec := range recs {
		if n%2 == 1 {
			rec.Retain()
			out = append(out, rec)
			continue
		}
		fields := slices.Clone(rec.Schema().Fields())
		cols := make([]arrow.Array, rec.NumCols())
		for i, c := range rec.Columns() {
			switch c.DataType().ID() {
			case arrow.STRING, arrow.BINARY:
				cols[i] = testutil.AsDictionary(c, r)
				fields[i].Type = cols[i].DataType()
			default:
				c.Retain()
				cols[i] = c
			}
		}
		md := rec.Schema().Metadata()
		out = append(out, array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows()))
		for _, c := range cols {
			c.Release()
		}
	}
	t.Cleanup(func() {
		for _, r := range out {
			r.Release()
		}
	})
	return out
}

// TestDictionaryInput: records whose string and binary columns come as
// dictionary arrays (the reader's form of DMS's dictionary-encoded
// columns), mixed with plain records of the same columns, are written as
// the same rows, by the direct writer (through its own dictionaries, and
// plain where a column's dictionary is off or overflows) and by
// iceberg-go's writer (a table the direct writer does not take).
func TestDictionaryInput(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		props  iceberg.Properties
		direct bool
	}{
		// note's dictionary is off; uniq's 60k distinct values overflow
		// the writer's dictionary in the one row group.
		{"direct", iceberg.Properties{"write.parquet.dict-encoding-enabled.column.note": "false"}, true},
		{"icebergwriter", iceberg.Properties{"write.parquet.bloom-filter-enabled.column.id": "true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat, tbl, asc, recs := directTable(t, tc.name, tc.props, 11, 12, 5000, 1, false)
			dicts := withDictionaries(t, recs)
			if !dictcol.Is(dicts[0].Column(2).DataType()) || dictcol.Is(dicts[1].Column(2).DataType()) {
				t.Fatal("test records are not mixed")
			}
			files, err := writer.DataFiles(ctx, tbl, asc, seqOf(dicts), writer.Options{Parallel: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := catalog.Apply(ctx, tbl, catalog.Commit{Add: files}); err != nil {
				t.Fatal(err)
			}
			tbl, err = catalog.LoadTable(ctx, cat, table.Identifier{"db", tc.name})
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, scanStrings(t, tbl), rowStrings(t, recs))
			if !tc.direct {
				return
			}
			enc := columnEncodings(t, files[0].FilePath())
			for c, dict := range map[string]bool{"status": true, "blob": true, "note": false, "uniq": false} {
				if got := slices.Contains(enc[c], parquet.Encodings.RLEDict); got != dict {
					t.Errorf("%s encodings %v, dictionary %v, want %v", c, enc[c], got, dict)
				}
			}
		})
	}
}
