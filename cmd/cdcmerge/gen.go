package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
)

func genFlags(fs *flag.FlagSet, cfg *gen.Config) (out *string, tables *string) {
	out = fs.String("out", "", "folder or s3://bucket/prefix to write DMS output into (required)")
	tables = fs.String("tables", "shop.orders,shop.order_items", "tables to generate, schema.orders or schema.order_items, comma-separated")
	fs.IntVar(&cfg.Rows, "rows", 1000, "full-load rows per table")
	fs.IntVar(&cfg.Changes, "changes", 200, "CDC changes per table")
	fs.IntVar(&cfg.LoadFiles, "load-files", 1, "LOAD files per table")
	fs.IntVar(&cfg.CDCFiles, "cdc-files", 4, "CDC files per table")
	fs.Float64Var(&cfg.UpdateFrac, "updates", 0.6, "share of changes that are updates")
	fs.Float64Var(&cfg.DeleteFrac, "deletes", 0.2, "share of changes that are deletes (the rest insert new keys)")
	fs.Float64Var(&cfg.TieFrac, "ties", 0.3, "share of changes with the same commit timestamp as the previous one")
	fs.Float64Var(&cfg.KeyOnlyDeleteFrac, "key-only-deletes", 0.5, "share of deletes that carry only the key")
	fs.Float64Var(&cfg.AbsentFrac, "absent", 0.02, "share of updates and deletes aimed at keys that never existed")
	fs.BoolVar(&cfg.DatePartition, "date-partition", false, "put CDC files under yyyy/MM/dd folders")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed (same seed, same files)")
	fs.StringVar(&cfg.Compression, "compression", "snappy", "snappy, zstd, gzip or none")
	return out, tables
}

// zeroAsExplicit maps flag values of 0 to gen's "explicit zero" (negative),
// since gen treats 0 as "use the default".
func zeroAsExplicit(cfg *gen.Config) {
	if cfg.Rows == 0 {
		cfg.Rows = -1
	}
	if cfg.Changes == 0 {
		cfg.Changes = -1
	}
	for _, f := range []*float64{&cfg.UpdateFrac, &cfg.DeleteFrac, &cfg.TieFrac, &cfg.KeyOnlyDeleteFrac, &cfg.AbsentFrac} {
		if *f == 0 {
			*f = -1
		}
	}
}

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg gen.Config
	out, tables := genFlags(fs, &cfg)
	endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint when --out is s3:// (default AWS_ENDPOINT_URL_S3)")
	format := fs.String("format", "parquet", "parquet, csv (DMS DataFormat=csv) or docdb (DocumentDB document mode, collection from --tables, default appdb.users)")
	var csvOpt gen.CSVOptions
	delim := fs.String("csv-delimiter", "", "CSV field delimiter (default ,)")
	fs.StringVar(&csvOpt.NullValue, "csv-null-value", "", "CSV null marker (default: empty field)")
	fs.BoolVar(&csvOpt.Header, "csv-header", false, "write a header row (AddColumnName)")
	fs.BoolVar(&csvOpt.Gzip, "gzip", false, "gzip CSV files (.csv.gz)")
	defOut := fs.String("definition-out", "", "with --format csv, write the DMS external table definition (JSON) to this file")
	layout := fs.String("layout", "target", "with --format csv: target (DMS S3-target output, per-table folders) or s3-source (LOAD001.csv per table, shared CDC00001.csv files)")
	var srcOpt gen.S3SourceOptions
	fs.StringVar(&srcOpt.CDCPath, "cdc-path", "cdc", "with --layout s3-source: folder of the shared CDC files")
	fs.BoolVar(&srcOpt.PreserveTransactions, "preserve-transactions", false, "with --layout s3-source: name CDC files CDC_TXN-yyyyMMddHHmmssSSS.csv")
	fs.BoolVar(&srcOpt.LoadOp, "load-op", false, "with --layout s3-source: LOAD rows start with an I column")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errFlagHelp
		}
		return &usageError{err.Error()}
	}
	if *out == "" {
		return usagef("gen: --out is required")
	}
	cfg.Tables = splitList(*tables)
	zeroAsExplicit(&cfg)
	sink := gen.DirSink(*out)
	if s3util.IsURL(*out) {
		bucket, prefix, err := s3util.ParseURL(*out)
		if err != nil {
			return usagef("gen --out: %v", err)
		}
		client, err := s3util.Client(ctx, s3util.Options{Endpoint: *endpoint})
		if err != nil {
			return err
		}
		sink = gen.S3Sink(client, bucket, prefix)
	}
	var sum gen.Summary
	var err error
	switch *format {
	case "parquet":
		sum, err = gen.Generate(ctx, sink, cfg)
	case "csv":
		if *delim != "" {
			csvOpt.Delimiter = []rune(*delim)[0]
		}
		switch *layout {
		case "target":
			sum, err = gen.GenerateCSV(ctx, sink, cfg, csvOpt)
		case "s3-source":
			csvOpt.OpWords = true
			sum, err = gen.GenerateS3Source(ctx, sink, cfg, csvOpt, srcOpt)
		default:
			return usagef("gen --layout must be target or s3-source, got %q", *layout)
		}
		if err == nil && *defOut != "" {
			var f *os.File
			if f, err = os.Create(*defOut); err == nil {
				err = gen.WriteTableDefinition(f, cfg.Tables)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
	case "docdb":
		coll := "appdb.users"
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "tables" && len(cfg.Tables) > 0 {
				coll = cfg.Tables[0]
			}
		})
		if _, err = gen.GenerateDocDB(ctx, sink, gen.DocDBConfig{Collection: coll, Docs: max(cfg.Rows, 1), Changes: max(cfg.Changes, 1), CDCFiles: cfg.CDCFiles, Seed: cfg.Seed}); err == nil {
			fmt.Fprintf(stdout, "%s: DocumentDB document-mode output (%d documents, %d changes) in %s; key _id\n", coll, max(cfg.Rows, 1), max(cfg.Changes, 1), *out)
			return nil
		}
	default:
		return usagef("gen --format must be parquet, csv or docdb, got %q", *format)
	}
	if err != nil {
		return err
	}
	for _, t := range sum.Tables {
		fmt.Fprintf(stdout, "%s: %d LOAD files (%d rows), %d CDC files (%d changes: %d I, %d U, %d D) in %s\n",
			t.Table, len(t.LoadFiles), t.LoadRows, len(t.CDCFiles), t.Changes, t.Inserts, t.Updates, t.Deletes, *out)
	}
	return nil
}

// cmdDemo generates sample DMS output, merges it into the embedded
// default catalog and prints what the tables hold.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "cdcmerge-demo", "folder for the sample data (dms/) and the warehouse (warehouse/)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errFlagHelp
		}
		return &usageError{err.Error()}
	}
	src := filepath.Join(*dir, "dms")
	wh := filepath.Join(*dir, "warehouse")
	if _, err := os.Stat(src); err != nil {
		fmt.Fprintf(stdout, "== cdcmerge gen --out %s\n", src)
		if err := cmdGen(ctx, []string{"--out", src, "--rows", "10000", "--changes", "2000", "--cdc-files", "8"}, stdout, stderr); err != nil {
			return err
		}
	}
	runArgs := []string{"--source", src, "--warehouse", wh, "--key", "shop.orders=order_id", "--key", "shop.order_items=order_id,line_no", "--log-level", "warn"}
	fmt.Fprintf(stdout, "== cdcmerge run --source %s --warehouse %s --key shop.orders=order_id --key shop.order_items=order_id,line_no\n", src, wh)
	if err := cmdRun(ctx, runArgs, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "== cdcmerge status --source %s --warehouse %s\n", src, wh)
	return cmdStatus(ctx, runArgs[:4], stdout, stderr)
}
