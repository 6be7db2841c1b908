package writer

import (
	"context"
	"fmt"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Options tune how data files are written.
type Options struct {
	// TargetFileSize overrides the table's write.target-file-size-bytes.
	TargetFileSize int64
	// Workers bounds parallel file writers (0: iceberg-go's default).
	Workers int
}

// DataFiles writes records, which must have sc (the table's Arrow schema
// with field IDs), as data files of tbl.
func DataFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], opt Options) ([]iceberg.DataFile, error) {
	var opts []table.WriteRecordOption
	if opt.TargetFileSize > 0 {
		opts = append(opts, table.WithTargetFileSize(opt.TargetFileSize))
	}
	if opt.Workers > 0 {
		opts = append(opts, table.WithMaxWriteWorkers(opt.Workers))
	}
	var out []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, sc, records, opts...) {
		if err != nil {
			return out, fmt.Errorf("writing data files: %w", err)
		}
		out = append(out, df)
	}
	return out, nil
}
