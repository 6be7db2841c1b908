package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	ctx, log, cat, idents, err := openTables(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	applyMemoryLimit(cfg, log)
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
				r.CompactResult, err = merge.Compact(ctx, tbl, merge.CompactOptions{TargetFileSize: target, MinInputFiles: uint(max(minInput, 0)), SortByKey: sortByKey, Memory: memoryLimit(cfg)})
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

// openTables opens the logger and the catalog of a maintenance command and
// lists the tables it acts on.
func openTables(ctx context.Context, cfg *Config, stdout, stderr io.Writer) (context.Context, *slog.Logger, icecat.Catalog, []table.Identifier, error) {
	log, err := newLogger(cfg.LogLevel, logStream(cfg, stdout, stderr))
	if err != nil {
		return ctx, nil, nil, nil, err
	}
	if ctx, err = withAWS(ctx, cfg); err != nil {
		return ctx, nil, nil, nil, err
	}
	cat, err := openCatalog(ctx, cfg)
	if err != nil {
		return ctx, nil, nil, nil, err
	}
	idents, err := catalogTables(ctx, cat, cfg)
	return ctx, log, cat, idents, err
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

// cmdAlter changes the write mode, delete strategy or format version of
// existing tables matching --tables to the settings given (flags, then
// environment, then the config file, where tables.<t>.* wins over the
// global setting): the explicit step run refuses to take on its own.
func cmdAlter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseCommon("maintenance", args, stderr)
	if err != nil {
		return err
	}
	if cfg.WriteMode == "" && cfg.DeleteStrategy == "" && cfg.FormatVersion == 0 && !tableWriteSettings(cfg) {
		return usagef("alter needs --write-mode, --delete-strategy or --format-version (or the same settings in the config file)")
	}
	ctx, log, cat, idents, err := openTables(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	type result struct {
		merge.AlterResult
		Error string `json:"error,omitempty"`
	}
	var results []result
	failed := 0
	for _, ident := range idents {
		name := strings.Join(ident, ".")
		r := result{AlterResult: merge.AlterResult{Table: name}}
		tbl, err := cat.LoadTable(ctx, ident)
		if err == nil {
			tc := cfg.tableConfigByTarget(name)
			r.AlterResult, err = merge.Alter(ctx, tbl, merge.AlterOptions{
				WriteMode:      firstNonEmpty(tc.WriteMode, cfg.WriteMode),
				DeleteStrategy: firstNonEmpty(tc.DeleteStrategy, cfg.DeleteStrategy),
				FormatVersion:  cmp.Or(tc.FormatVersion, cfg.FormatVersion),
			})
			r.Table = name
		}
		if err != nil {
			failed++
			r.Error = err.Error()
			log.Error("alter failed", "table", name, "error", err.Error())
		}
		results = append(results, r)
	}
	if cfg.Output == "json" {
		return json.NewEncoder(stdout).Encode(map[string]any{"msg": "alter summary", "tables": results, "failed": failed})
	}
	for _, r := range results {
		desc := fmt.Sprintf("%s, format v%d", r.WriteMode, r.FormatVersion)
		if r.DeleteStrategy != "" {
			desc += ", " + r.DeleteStrategy + " deletes"
		}
		switch {
		case r.Error != "":
			fmt.Fprintf(stdout, "%s: FAILED: %s\n", r.Table, r.Error)
		case r.Changed:
			fmt.Fprintf(stdout, "%s: now %s\n", r.Table, desc)
		default:
			fmt.Fprintf(stdout, "%s: unchanged (%s)\n", r.Table, desc)
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

// tableWriteSettings reports whether any table of the config sets a write
// mode, delete strategy or format version.
func tableWriteSettings(cfg *Config) bool {
	for _, tc := range cfg.Tables {
		if tc.WriteMode != "" || tc.DeleteStrategy != "" || tc.FormatVersion != 0 {
			return true
		}
	}
	return false
}

// tableConfigByTarget is the config of the source table whose Iceberg
// table is target (its target setting, else its own schema.table name).
func (c *Config) tableConfigByTarget(target string) TableConfig {
	for name, tc := range c.Tables {
		if firstNonEmpty(tc.Target, name) == target {
			return tc
		}
	}
	return TableConfig{}
}
