// Command duckdbpeer is the DuckDB contender of the cdcmerge benchmark: it
// does the Glue job's work (load the table, dedupe the CDC rows, MERGE them
// in, export Parquet) with DuckDB on local files, and prints the time of
// each phase as JSON on stdout.
//
// It lives in its own Go module because DuckDB needs cgo; the cdcmerge
// module must never import it, so the shipped binary stays CGO_ENABLED=0.
// The benchmark harness (package bench of the main module) builds and runs
// it as a subprocess.
//
//	duckdbpeer --load-glob 'dms/shop/orders/LOAD*.parquet' \
//	    --cdc-glob 'dms/shop/orders/2*.parquet' --key order_id \
//	    --out out.parquet --threads 2
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// Result is what duckdbpeer prints.
type Result struct {
	LoadSeconds   float64 `json:"load_seconds"`   // CREATE TABLE t AS SELECT * FROM read_parquet(LOAD files)
	MergeSeconds  float64 `json:"merge_seconds"`  // dedupe (QUALIFY ROW_NUMBER) + MERGE INTO
	ExportSeconds float64 `json:"export_seconds"` // COPY t TO out (zstd)
	TotalSeconds  float64 `json:"total_seconds"`  // the three phases plus opening the database and settings
	LoadRows      int64   `json:"load_rows"`
	MergedRows    int64   `json:"merged_rows"` // rows MERGE reported as affected
	FinalRows     int64   `json:"final_rows"`
	DuckDBVersion string  `json:"duckdb_version"`
	Threads       int     `json:"threads"`
	MemoryLimit   string  `json:"memory_limit"`
}

func main() {
	loadGlob := flag.String("load-glob", "", "glob of the full-load Parquet files")
	cdcGlob := flag.String("cdc-glob", "", "glob of the CDC Parquet files (empty: load and export only)")
	key := flag.String("key", "order_id", "key column(s), comma-separated")
	tsCol := flag.String("timestamp-column", "commit_ts", "the DMS timestamp column")
	out := flag.String("out", "", "output Parquet file")
	threads := flag.Int("threads", 2, "DuckDB threads")
	memLimit := flag.String("memory-limit", "", "DuckDB memory_limit (default: DuckDB's own)")
	flag.Parse()
	if *loadGlob == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "duckdbpeer: --load-glob and --out are required")
		os.Exit(2)
	}
	res, err := run(context.Background(), *loadGlob, *cdcGlob, strings.Split(*key, ","), *tsCol, *out, *threads, *memLimit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "duckdbpeer:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "duckdbpeer:", err)
		os.Exit(1)
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLit(s string) string   { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func run(ctx context.Context, loadGlob, cdcGlob string, key []string, tsCol, out string, threads int, memLimit string) (*Result, error) {
	start := time.Now()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// One connection: settings and the table live in that session.
	db.SetMaxOpenConns(1)
	res := &Result{Threads: threads}
	exec := func(q string) error {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%w\nquery: %s", err, q)
		}
		return nil
	}
	if err := exec(fmt.Sprintf("SET threads = %d", threads)); err != nil {
		return nil, err
	}
	if memLimit != "" {
		if err := exec("SET memory_limit = " + quoteLit(memLimit)); err != nil {
			return nil, err
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT version(), current_setting('memory_limit')").Scan(&res.DuckDBVersion, &res.MemoryLimit); err != nil {
		return nil, err
	}

	// Phase 1: load.
	t0 := time.Now()
	if err := exec("CREATE TABLE t AS SELECT * FROM read_parquet(" + quoteLit(loadGlob) + ")"); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&res.LoadRows); err != nil {
		return nil, err
	}
	res.LoadSeconds = time.Since(t0).Seconds()

	// Phase 2: dedupe + MERGE.
	if cdcGlob != "" {
		t0 = time.Now()
		cols, err := columns(ctx, db)
		if err != nil {
			return nil, err
		}
		var keyQ, on []string
		isKey := map[string]bool{}
		for _, k := range key {
			keyQ = append(keyQ, quoteIdent(k))
			on = append(on, "t."+quoteIdent(k)+" = s."+quoteIdent(k))
			isKey[strings.ToLower(k)] = true
		}
		var set, ins, vals []string
		for _, c := range cols {
			ins = append(ins, quoteIdent(c))
			vals = append(vals, "s."+quoteIdent(c))
			if !isKey[strings.ToLower(c)] {
				set = append(set, quoteIdent(c)+" = s."+quoteIdent(c))
			}
		}
		src := "read_parquet(" + quoteLit(cdcGlob) + ", filename = true, file_row_number = true)"
		dedup := "SELECT * FROM " + src +
			" QUALIFY ROW_NUMBER() OVER (PARTITION BY " + strings.Join(keyQ, ", ") +
			" ORDER BY " + quoteIdent(tsCol) + " DESC, filename DESC, file_row_number DESC) = 1"
		merge := "MERGE INTO t USING (" + dedup + ") AS s ON " + strings.Join(on, " AND ") +
			" WHEN MATCHED AND s.\"Op\" = 'D' THEN DELETE" +
			" WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ") +
			" WHEN NOT MATCHED AND s.\"Op\" <> 'D' THEN INSERT (" + strings.Join(ins, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
		r, err := db.ExecContext(ctx, merge)
		if err != nil {
			return nil, fmt.Errorf("%w\nquery: %s", err, merge)
		}
		res.MergedRows, _ = r.RowsAffected()
		res.MergeSeconds = time.Since(t0).Seconds()
	}

	// Phase 3: export.
	t0 = time.Now()
	if err := exec("COPY t TO " + quoteLit(out) + " (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		return nil, err
	}
	res.ExportSeconds = time.Since(t0).Seconds()
	res.TotalSeconds = time.Since(start).Seconds()
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&res.FinalRows); err != nil {
		return nil, err
	}
	return res, nil
}

// columns lists the columns of t in order.
func columns(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT column_name FROM duckdb_columns() WHERE table_name = 't' ORDER BY column_index")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}
