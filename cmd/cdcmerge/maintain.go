package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/merge"
)

// cmdMaintain runs compact, expire or clean-orphans over the catalog's
// tables that match --tables (default: all).
func cmdMaintain(ctx context.Context, op string, args []string, stdout, stderr io.Writer) error {
	var olderThan string
	var minInput, retainLast int
	var dryRun, sortByKey bool
	defOlder := map[string]string{"expire": "120h", "clean-orphans": "24h"}[op]
	cfg, err := parseCommon("maintenance", args, stderr, func(fs *flag.FlagSet) {
		switch op {
		case "compact":
			fs.IntVar(&minInput, "min-input-files", 0, "small files a group needs before it is rewritten (default 5)")
			fs.BoolVar(&sortByKey, "sort-by-key", false, "sort the rows of each rewritten group by the table's key")
		case "expire":
			fs.StringVar(&olderThan, "older-than", defOlder, "expire snapshots older than this")
			fs.IntVar(&retainLast, "retain-last", 1, "always keep this many snapshots")
		case "clean-orphans":
			fs.StringVar(&olderThan, "older-than", defOlder, "only delete unreferenced files older than this (a safety margin for runs in progress)")
			fs.BoolVar(&dryRun, "dry-run", false, "list the orphan files, delete nothing")
		}
	})
	if err != nil {
		return err
	}
	var age time.Duration
	if olderThan != "" {
		if age, err = time.ParseDuration(olderThan); err != nil || age < 0 {
			return usagef("--older-than %q is not a duration such as 24h", olderThan)
		}
	}
	target, _ := parseBytes(cfg.TargetFileSize) // checked by loadConfig
	log, err := newLogger(cfg.LogLevel, logStream(cfg, stdout, stderr))
	if err != nil {
		return err
	}
	if ctx, err = withAWS(ctx, cfg); err != nil {
		return err
	}
	cat, err := openCatalog(ctx, cfg)
	if err != nil {
		return err
	}
	idents, err := catalogTables(ctx, cat, cfg)
	if err != nil {
		return err
	}
	type result struct {
		Table string `json:"table"`
		merge.CompactResult
		Files []string `json:"files,omitempty"`
		Error string   `json:"error,omitempty"`
	}
	var results []result
	failed := 0
	for _, ident := range idents {
		name := strings.Join(ident, ".")
		r := result{Table: name}
		tbl, err := cat.LoadTable(ctx, ident)
		if err == nil {
			switch op {
			case "compact":
				r.CompactResult, err = merge.Compact(ctx, tbl, merge.CompactOptions{TargetFileSize: target, MinInputFiles: uint(max(minInput, 0)), SortByKey: sortByKey})
				r.Table = name
			case "expire":
				err = merge.Expire(ctx, tbl, age, retainLast)
			case "clean-orphans":
				r.Files, err = merge.CleanOrphans(ctx, tbl, age, dryRun)
			}
		}
		if err != nil {
			failed++
			r.Error = err.Error()
			log.Error(op+" failed", "table", name, "error", err.Error())
		}
		results = append(results, r)
	}
	if cfg.Output == "json" {
		enc := json.NewEncoder(stdout)
		return enc.Encode(map[string]any{"msg": op + " summary", "tables": results, "failed": failed})
	}
	for _, r := range results {
		switch {
		case r.Error != "":
			fmt.Fprintf(stdout, "%s: FAILED: %s\n", r.Table, r.Error)
		case op == "compact":
			fmt.Fprintf(stdout, "%s: rewrote %d data files into %d, removed %d delete files\n", r.Table, r.RemovedDataFiles, r.AddedDataFiles, r.RemovedDeleteFiles)
		case op == "expire":
			fmt.Fprintf(stdout, "%s: snapshots older than %s expired (kept at least %d)\n", r.Table, age, retainLast)
		case dryRun:
			fmt.Fprintf(stdout, "%s: %d orphan files (dry run, nothing deleted)\n", r.Table, len(r.Files))
		default:
			fmt.Fprintf(stdout, "%s: deleted %d orphan files\n", r.Table, len(r.Files))
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

// catalogTables lists the catalog's tables (one namespace level, as
// cdcmerge creates them) that match --tables.
func catalogTables(ctx context.Context, cat icecat.Catalog, cfg *Config) ([]table.Identifier, error) {
	nss, err := cat.ListNamespaces(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []table.Identifier
	for _, ns := range nss {
		for ident, err := range cat.ListTables(ctx, ns) {
			if err != nil {
				return nil, fmt.Errorf("listing tables of %s: %w", strings.Join(ns, "."), err)
			}
			if cfg.selected(strings.Join(ident, ".")) {
				out = append(out, ident)
			}
		}
	}
	return out, nil
}
