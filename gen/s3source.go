package gen

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// S3SourceOptions shape the S3-source CSV layout GenerateS3Source writes.
type S3SourceOptions struct {
	// CDCPath is the folder of the shared CDC files (DMS CdcPath);
	// default "cdc".
	CDCPath string
	// PreserveTransactions names the shared files CDC_TXN-yyyyMMddHHmmssSSS.csv
	// (by the commit time of their first change) instead of CDC00001.csv.
	PreserveTransactions bool
	// LoadOp writes full-load rows with a leading I column.
	LoadOp bool
}

// SharedFile is one shared CDC file: its name and rows, in file order.
type SharedFile struct {
	Name string
	Rows []TableRow
}

// SharedChanges is the CDC stream of every table of cfg as an S3 source
// writes it: the tables' changes (GenerateChanges) merged into one stream
// by commit time (equal times: the order of cfg.Tables, each table's own
// order kept), split evenly into cfg.CDCFiles files named CDC00001.csv ...
// or, with PreserveTransactions, CDC_TXN-... by their first change. Each
// table's rows keep their order, so replaying a table's rows of the files in
// order replays its GenerateChanges stream.
func SharedChanges(cfg Config, opt S3SourceOptions) ([]SharedFile, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return sharedChanges(cfg, opt)
}

func sharedChanges(cfg Config, opt S3SourceOptions) ([]SharedFile, error) {
	streams := make([][]Row, len(cfg.Tables))
	for i, name := range cfg.Tables {
		_, cdc, _, _, err := generateChanges(cfg, name)
		if err != nil {
			return nil, err
		}
		for _, f := range cdc {
			streams[i] = append(streams[i], f...)
		}
	}
	var flat []TableRow
	next := make([]int, len(streams))
	for {
		best := -1
		for i, s := range streams {
			if next[i] < len(s) && (best < 0 || s[next[i]].Values[0].(string) < streams[best][next[best]].Values[0].(string)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		flat = append(flat, TableRow{Table: cfg.Tables[best], Row: streams[best][next[best]]})
		next[best]++
	}
	var files []SharedFile
	var byTime [][]Row
	for _, part := range splitEven(len(flat), cfg.CDCFiles) {
		if len(part) == 0 {
			continue
		}
		rows := flat[part[0] : part[len(part)-1]+1 : part[len(part)-1]+1]
		files = append(files, SharedFile{Name: fmt.Sprintf("CDC%05d.csv", len(files)+1), Rows: rows})
		byTime = append(byTime, []Row{rows[0].Row})
	}
	if opt.PreserveTransactions {
		for i, t := range cdcFileNames(byTime) {
			files[i].Name = fmt.Sprintf("CDC_TXN-%s%03d.csv", t.Format("20060102150405"), t.Nanosecond()/1e6)
		}
	}
	return files, nil
}

// GenerateS3Source writes the tables of cfg in the layout DMS reads from
// (and, with PreserveTransactions, writes to) S3 as CSV:
//
//	<schema>/<table>/LOAD001.csv ...     full load, a decimal counter (optional leading I column)
//	<CDCPath>/CDC00001.csv ...           every table's changes, rows op,table,schema,values...
//	<CDCPath>/CDC_TXN-yyyyMMddHHmmssSSS.csv  the same with PreserveTransactions
//
// The rows are those of GenerateChanges (see SharedChanges for the CDC
// files); opt.Gzip adds .gz; csv.Header is ignored for the CDC files, which
// never have one. The table definition is WriteTableDefinition's.
func GenerateS3Source(ctx context.Context, sink Sink, cfg Config, csv CSVOptions, opt S3SourceOptions) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	if opt.CDCPath == "" {
		opt.CDCPath = "cdc"
	}
	cdcDir := strings.Trim(opt.CDCPath, "/") + "/"
	ext := csvFileExt(csv)
	var sum Summary
	schemas := map[string]*arrow.Schema{}
	index := map[string]int{}
	for _, name := range cfg.Tables {
		schemaName, tableName, err := splitTable(name)
		if err != nil {
			return sum, err
		}
		load, _, schema, _, err := generateChanges(cfg, name)
		if err != nil {
			return sum, err
		}
		schemas[name] = schema
		ts := TableSummary{Table: name, LoadRows: len(load)}
		fileSchema := schema
		if opt.LoadOp {
			fileSchema = withOp(schema)
		}
		for _, part := range splitEven(len(load), cfg.LoadFiles) {
			if len(part) == 0 {
				continue
			}
			rows := make([][]any, 0, len(part))
			for _, r := range load[part[0] : part[len(part)-1]+1] {
				if opt.LoadOp {
					rows = append(rows, append([]any{opName("I", csv)}, r.Values...))
				} else {
					rows = append(rows, r.Values)
				}
			}
			p := fmt.Sprintf("%s/%s/LOAD%03d%s", schemaName, tableName, len(ts.LoadFiles)+1, ext)
			if err := writeCSVFile(ctx, sink, p, fileSchema, rows, csv); err != nil {
				return sum, err
			}
			ts.LoadFiles = append(ts.LoadFiles, p)
		}
		index[name] = len(sum.Tables)
		sum.Tables = append(sum.Tables, ts)
	}
	files, err := sharedChanges(cfg, opt)
	if err != nil {
		return sum, err
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := WriteCSVChanges(&buf, schemas, f.Rows, csv); err != nil {
			return sum, fmt.Errorf("gen: %s: %w", f.Name, err)
		}
		p := cdcDir + strings.TrimSuffix(f.Name, ".csv") + ext
		if err := writeFile(ctx, sink, p, buf.Bytes()); err != nil {
			return sum, err
		}
		seen := map[string]bool{}
		for _, r := range f.Rows {
			ts := &sum.Tables[index[r.Table]]
			ts.count(r.Row.Op)
			if !seen[r.Table] {
				seen[r.Table] = true
				ts.CDCFiles = append(ts.CDCFiles, p)
			}
		}
	}
	return sum, nil
}
