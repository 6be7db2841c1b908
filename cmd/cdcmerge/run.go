package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/mattn/go-isatty"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// commonFlags registers the settings shared by run and status.
func commonFlags(name string, stderr io.Writer) (*flag.FlagSet, *Config, keyFlags, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	v := &Config{}
	keys := keyFlags{}
	var configPath, tables string
	fs.StringVar(&v.Source, "source", "", "DMS bucket folder root")
	fs.StringVar(&v.Warehouse, "warehouse", "", "Iceberg warehouse root")
	fs.StringVar(&v.Catalog, "catalog", "", "catalog type: sql, glue or rest")
	fs.StringVar(&v.CatalogURI, "catalog-uri", "", "catalog database (default <warehouse>/catalog.db)")
	fs.StringVar(&v.CatalogName, "catalog-name", "", "catalog name (default: default)")
	fs.StringVar(&v.S3Endpoint, "s3-endpoint", "", "S3-compatible endpoint (MinIO); path-style addressing")
	fs.StringVar(&v.S3Region, "s3-region", "", "AWS region")
	fs.StringVar(&v.SourceEndpoint, "source-s3-endpoint", "", "endpoint of the source only")
	fs.StringVar(&v.WarehouseEndpt, "warehouse-s3-endpoint", "", "endpoint of the warehouse only")
	fs.StringVar(&v.GlueCatalogID, "glue-catalog-id", "", "glue: Data Catalog account id")
	fs.StringVar(&v.GlueEndpoint, "glue-endpoint", "", "glue: endpoint URL")
	fs.BoolVar(&v.GlueNoCreateDBs, "glue-no-create-database", false, "glue: do not create missing databases")
	fs.StringVar(&v.RESTCredential, "rest-credential", "", "rest: OAuth2 client credential id:secret")
	fs.StringVar(&v.RESTToken, "rest-token", "", "rest: bearer token")
	fs.BoolVar(&v.RESTSigV4, "rest-sigv4", false, "rest: sign requests with AWS SigV4")
	fs.StringVar(&v.RESTSigV4Svc, "rest-sigv4-service", "", "rest: SigV4 service (glue or s3tables)")
	fs.Var(keys, "key", "schema.table=col[,col...] (repeatable)")
	fs.StringVar(&tables, "tables", "", "globs on schema.table, comma-separated")
	fs.StringVar(&v.TimestampColumn, "timestamp-column", "", "DMS TimestampColumnName (default commit_ts if present)")
	fs.Int64Var(&v.BatchBytes, "batch-bytes", 0, "input bytes per commit")
	fs.IntVar(&v.BatchFiles, "batch-files", 0, "input files per commit")
	fs.StringVar(&v.OnBadFile, "on-bad-file", "", "fail or quarantine")
	fs.IntVar(&v.CompactAfter, "compact-after-delete-files", 0, "compact a table after its run when it has this many delete files (0: never)")
	fs.StringVar(&v.Output, "output", "", "text or json")
	fs.StringVar(&v.LogLevel, "log-level", "", "error, warn, info or debug")
	fs.StringVar(&v.LogStream, "log-stream", "", "stderr or stdout")
	fs.StringVar(&v.MaxDuration, "max-duration", "", "stop starting batches after this long (e.g. 10m)")
	fs.StringVar(&v.TableDefinition, "table-definition", "", "DMS external table definition (JSON) for CSV output")
	fs.StringVar(&v.CSVDelimiter, "csv-delimiter", "", "CSV field delimiter (default ,)")
	fs.StringVar(&v.CSVNullValue, "csv-null-value", "", "unquoted CSV field meaning null (default: empty)")
	fs.BoolVar(&v.CSVHeader, "csv-header", false, "CSV files start with a header row")
	fs.BoolVar(&v.DocKeepRaw, "doc-keep-raw", false, "DocumentDB: keep the raw _doc JSON column too")
	fs.BoolVar(&v.DocKeepFlat, "doc-keep-flat", false, "DocumentDB table mode: keep DMS's flat columns")
	fs.StringVar(&v.WriteMode, "write-mode", "", "copy-on-write or merge-on-read (new tables)")
	fs.IntVar(&v.FormatVersion, "format-version", 0, "Iceberg format version of new tables: 2 (default) or 3")
	fs.StringVar(&v.DeleteStrategy, "delete-strategy", "", "merge-on-read deletes of new tables: position (default) or equality")
	fs.StringVar(&v.MemoryLimit, "memory-limit", "", "soft memory limit, e.g. 768MiB (default) or 0 for none")
	fs.StringVar(&v.CPUProfile, "cpu-profile", "", "write a CPU profile to this file")
	fs.StringVar(&v.HeapProfile, "heap-profile", "", "write a heap profile to this file")
	fs.StringVar(&v.CDCPath, "cdc-path", "", "S3-source layout: folder of the shared CDC files (CDC00001.csv, CDC_TXN-*.csv) under --source (default: found anywhere)")
	fs.StringVar(&configPath, "config", "", "YAML config file")
	v.partitions = partitionFlags{}
	fs.Var(v.partitions, "partition", "schema.table=field[,field...]: partition spec of a new table (repeatable)")
	fs.IntVar(&v.CompactSmallFiles, "compact-after-small-files", 0, "compact a table after its run when it has this many small data files (0: never)")
	fs.StringVar(&v.ExpireOlderThan, "expire-older-than", "", "expire snapshots older than this after a table's run")
	fs.IntVar(&v.ExpireRetainLast, "expire-retain-last", 0, "after a table's run, keep only this many newest snapshots (0: no expiry)")
	fs.StringVar(&v.TargetFileSize, "target-file-size", "", "data file size of new tables and of compaction, e.g. 128MiB")
	return fs, v, keys, &configPath, &tables
}

func parseCommon(name string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (*Config, error) {
	fs, v, keys, configPath, tables := commonFlags(name, stderr)
	for _, e := range extra {
		e(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errFlagHelp
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(fs, keys, v, *configPath, *tables)
	if err != nil {
		return nil, err
	}
	if cfg.Source == "" && name != "maintenance" {
		return nil, usagef("--source is required (the DMS bucket folder root)")
	}
	if cfg.Warehouse == "" {
		return nil, usagef("--warehouse is required (the Iceberg warehouse root)")
	}
	return cfg, nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit (unless
// GOMEMLIMIT is set) and returns the batch size: --batch-bytes, or a
// sixteenth of the limit, since a batch's decoded and rewritten rows take
// many times its compressed input size.
//
// Under a limit it also lets the heap grow to three times the live data
// between collections (GOGC 200, unless GOGC is set): the limit, not
// GOGC, is what bounds memory, and a merge allocates its batch's decoded
// rows at a high rate. Measured on the bench's L merge-on-read merge
// (1M changes, three interleaved runs each): 0.91-1.07 s -> 0.86-0.97 s
// wall, 1.59-1.88 -> 1.45-1.67 CPU s; peak RSS 526-548 -> 572-597 MiB.
func applyMemoryLimit(cfg *Config, log *slog.Logger) int64 {
	limit := memoryLimit(cfg)
	if os.Getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercentUnderLimit)
		}
	}
	if cfg.BatchBytes > 0 {
		return cfg.BatchBytes
	}
	if limit > 0 {
		return max(limit/16, 4<<20)
	}
	return merge.DefaultBatchBytes
}

// gcPercentUnderLimit is the GOGC cdcmerge runs with under a memory limit.
const gcPercentUnderLimit = 200

// memoryLimit is --memory-limit in bytes (0: none).
func memoryLimit(cfg *Config) int64 {
	limit, _ := parseBytes(firstNonEmpty(cfg.MemoryLimit, DefaultMemoryLimit)) // checked by loadConfig
	return max(limit, 0)
}

// startProfiles starts the CPU profile and returns what writes the profiles
// at the end of the run.
func startProfiles(cfg *Config) (func(), error) {
	var cpu *os.File
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		cpu = f
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if cfg.HeapProfile != "" {
			if f, err := os.Create(cfg.HeapProfile); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}, nil
}

// csvOptions is the DMS CSV dialect from the settings.
func csvOptions(cfg *Config) reader.CSVOptions {
	o := reader.CSVOptions{Header: cfg.CSVHeader, NullValue: cfg.CSVNullValue}
	if cfg.CSVDelimiter != "" {
		o.Delimiter, _ = utf8.DecodeRuneInString(cfg.CSVDelimiter)
	}
	return o
}

// tableDefinitions returns the tables of --table-definition (none without
// it).
func tableDefinitions(cfg *Config) ([]reader.TableDef, error) {
	if cfg.TableDefinition == "" {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.TableDefinition)
	if err != nil {
		return nil, fmt.Errorf("reading --table-definition: %w", err)
	}
	defs, err := reader.ParseTableDefinition(b)
	if err != nil {
		return nil, fmt.Errorf("--table-definition %s: %w", cfg.TableDefinition, err)
	}
	return defs, nil
}

// tableDefinition returns the definition of DMS table name from
// --table-definition, or nil.
func tableDefinition(cfg *Config, name string) (*reader.TableDef, error) {
	defs, err := tableDefinitions(cfg)
	if err != nil {
		return nil, err
	}
	for i := range defs {
		if strings.EqualFold(defs[i].Ident(), name) {
			return &defs[i], nil
		}
	}
	return nil, nil
}

// logStream is where logs go: stderr, or stdout for log collectors that
// read one stream (the ECS awslogs driver reads both, but one stream keeps
// the order).
func logStream(cfg *Config, stdout, stderr io.Writer) io.Writer {
	if cfg.LogStream == "stdout" {
		return stdout
	}
	return stderr
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "", "info":
		l = slog.LevelInfo
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, usagef("--log-level must be error, warn, info or debug, got %q", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// tableJob is one source table and where it goes.
type tableJob struct {
	files  reader.TableFiles
	target string
	cfg    TableConfig
}

func planJobs(ctx context.Context, cfg *Config, src reader.Source, log *slog.Logger) ([]tableJob, []reader.File, error) {
	objs, err := src.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	tables, shared, ignored, err := reader.GroupS3Source(objs, cfg.CDCPath)
	if err != nil {
		return nil, nil, err
	}
	for _, ig := range ignored {
		log.Warn("file ignored", "path", ig.Path, "reason", ig.Reason)
	}
	if len(shared) > 0 {
		if tables, err = withSharedCDC(cfg, tables, shared); err != nil {
			return nil, nil, err
		}
	}
	var jobs []tableJob
	for _, t := range tables {
		name := t.Ident()
		if !cfg.selected(name) {
			continue
		}
		tc := cfg.Tables[name]
		target := tc.Target
		if target == "" {
			target = name
		}
		jobs = append(jobs, tableJob{files: t, target: target, cfg: tc})
	}
	for name := range cfg.Tables {
		found := false
		for _, t := range tables {
			if t.Ident() == name {
				found = true
			}
		}
		if !found {
			log.Warn("configured table has no files in the source", "table", name)
		}
	}
	return jobs, shared, nil
}

// withSharedCDC gives every table the shared CDC files of an S3 source as
// its CDC stream. The tables are those with a LOAD folder, those of
// --table-definition and those configured under tables: (any of them may
// have rows in the shared files, and which do is only known by reading
// them).
func withSharedCDC(cfg *Config, tables []reader.TableFiles, shared []reader.File) ([]reader.TableFiles, error) {
	defs, err := tableDefinitions(cfg)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, t := range tables {
		have[strings.ToLower(t.Ident())] = true
	}
	add := func(schema, table string) {
		if reader.ValidateName("schema", schema) != nil || reader.ValidateName("table", table) != nil {
			return // reported when a row names it
		}
		if !have[strings.ToLower(schema+"."+table)] {
			have[strings.ToLower(schema+"."+table)] = true
			tables = append(tables, reader.TableFiles{Schema: schema, Table: table})
		}
	}
	for _, d := range defs {
		add(d.Schema, d.Table)
	}
	for name := range cfg.Tables {
		if schema, table, ok := strings.Cut(name, "."); ok {
			add(schema, table)
		}
	}
	for i := range tables {
		if len(tables[i].CDC) > 0 {
			return nil, fmt.Errorf("table %s has CDC files of its own (%s) and the source has shared CDC files of an S3 source (%s); the two layouts do not mix: point --source at one of them",
				tables[i].Ident(), tables[i].CDC[0].Path, shared[0].Path)
		}
		tables[i].CDC = shared
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Dir() < tables[j].Dir() })
	return tables, nil
}

// newSharedCDC prepares the reader of the shared CDC files for jobs: each
// table reads its rows with the columns of its table definition, or of the
// existing table.
func newSharedCDC(ctx context.Context, cfg *Config, src reader.Source, cat icecat.Catalog, jobs []tableJob, batchBytes int64) (*reader.SharedCDC, error) {
	s := &reader.SharedCDC{Src: src, Tables: map[string]*arrow.Schema{}, CSV: csvOptions(cfg), MaxCached: 2 * batchBytes,
		Skip: func(ident string) bool { return !cfg.selected(ident) }}
	for _, j := range jobs {
		td, err := tableDefinition(cfg, j.files.Ident())
		if err != nil {
			return nil, err
		}
		if td != nil {
			s.Tables[j.files.Ident()] = td.ArrowSchema()
			continue
		}
		ident, err := catalog.Ident(j.target)
		if err != nil {
			continue // reported when the table runs
		}
		tbl, err := catalog.LoadTable(ctx, cat, ident)
		if err != nil || tbl == nil {
			continue // no columns known: the table fails when it runs
		}
		if s.Tables[j.files.Ident()], err = merge.CSVColumns(tbl); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func openCatalog(ctx context.Context, cfg *Config) (icecat.Catalog, error) {
	wo := s3util.Options{Endpoint: firstNonEmpty(cfg.WarehouseEndpt, cfg.S3Endpoint), Region: cfg.S3Region}
	return catalog.Open(ctx, catalog.Config{Type: cfg.Catalog, Name: cfg.CatalogName, URI: cfg.CatalogURI, Warehouse: cfg.Warehouse,
		S3Endpoint: wo.ResolvedEndpoint(), S3Region: cfg.S3Region,
		GlueCatalogID: cfg.GlueCatalogID, GlueEndpoint: cfg.GlueEndpoint, GlueNoCreateDBs: cfg.GlueNoCreateDBs,
		RESTCredential: cfg.RESTCredential, RESTToken: cfg.RESTToken, RESTSigV4: cfg.RESTSigV4, RESTSigV4Service: cfg.RESTSigV4Svc})
}

// withAWS loads the AWS configuration (default credential chain) when the
// source or warehouse is on S3, and puts it in the context where
// iceberg-go's S3 file IO looks for it.
func withAWS(ctx context.Context, cfg *Config) (context.Context, error) {
	if !s3util.IsURL(cfg.Source) && !s3util.IsURL(cfg.Warehouse) && cfg.Catalog != "glue" && cfg.Catalog != "rest" {
		return ctx, nil
	}
	awsCfg, err := s3util.Config(ctx, s3util.Options{Region: cfg.S3Region})
	if err != nil {
		return nil, err
	}
	return utils.WithAwsConfig(ctx, &awsCfg), nil
}

// openSource returns the Source for --source: a local folder or s3://.
func openSource(ctx context.Context, cfg *Config) (reader.Source, error) {
	if !s3util.IsURL(cfg.Source) {
		return reader.DirSource{Root: cfg.Source}, nil
	}
	bucket, prefix, err := s3util.ParseURL(cfg.Source)
	if err != nil {
		return nil, usagef("--source: %v", err)
	}
	client, err := s3util.Client(ctx, s3util.Options{Endpoint: firstNonEmpty(cfg.SourceEndpoint, cfg.S3Endpoint), Region: cfg.S3Region})
	if err != nil {
		return nil, err
	}
	return reader.S3Source{Client: client, Bucket: bucket, Prefix: prefix}, nil
}

type tableResult struct {
	merge.Stats
	Compacted *merge.CompactResult `json:"compacted,omitempty"`
	// Expired says snapshots were expired after the run.
	Expired bool   `json:"expired,omitempty"`
	Error   string `json:"error,omitempty"`
}

// session is what run and status share: the settings, the logger, the
// source, the catalog and the tables found in the source.
type session struct {
	ctx  context.Context // carries the AWS configuration when S3 or Glue is used
	cfg  *Config
	log  *slog.Logger
	src  reader.Source
	cat  icecat.Catalog
	jobs []tableJob
	// shared are the shared CDC files of an S3 source (none otherwise).
	shared []reader.File
}

func openSession(ctx context.Context, name string, args []string, stdout, stderr io.Writer, extra ...func(*flag.FlagSet)) (*session, error) {
	cfg, err := parseCommon(name, args, stderr, extra...)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.LogLevel, logStream(cfg, stdout, stderr))
	if err != nil {
		return nil, err
	}
	if ctx, err = withAWS(ctx, cfg); err != nil {
		return nil, err
	}
	src, err := openSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cat, err := openCatalog(ctx, cfg)
	if err != nil {
		return nil, err
	}
	jobs, shared, err := planJobs(ctx, cfg, src, log)
	if err != nil {
		return nil, err
	}
	return &session{ctx: ctx, cfg: cfg, log: log, src: src, cat: cat, jobs: jobs, shared: shared}, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	ss, err := openSession(ctx, "run", args, stdout, stderr)
	if err != nil {
		return err
	}
	ctx, cfg, log, src, cat, jobs := ss.ctx, ss.cfg, ss.log, ss.src, ss.cat, ss.jobs
	stopProfiles, err := startProfiles(cfg)
	if err != nil {
		return err
	}
	defer stopProfiles()
	if len(jobs) == 0 {
		log.Warn("no tables found in the source", "source", src.String())
	}
	batchBytes := applyMemoryLimit(cfg, log)
	var stopAfter time.Time
	if cfg.MaxDuration != "" {
		d, _ := time.ParseDuration(cfg.MaxDuration) // checked by loadConfig
		stopAfter = start.Add(d)
	}
	tty := false
	if f, ok := stderr.(*os.File); ok && cfg.Output == "text" {
		tty = isatty.IsTerminal(f.Fd())
	}
	var results []tableResult
	failed := 0
	var shared *reader.SharedCDC
	if len(ss.shared) > 0 {
		if shared, err = newSharedCDC(ctx, cfg, src, cat, jobs, batchBytes); err != nil {
			return err
		}
		defer shared.Close()
	}
	for _, j := range jobs {
		res := tableResult{}
		ident, err := catalog.Ident(j.target)
		if err == nil {
			for _, part := range ident {
				if err = reader.ValidateName("target", part); err != nil {
					break
				}
			}
		}
		var td *reader.TableDef
		if err == nil {
			td, err = tableDefinition(cfg, j.files.Ident())
		}
		if err == nil {
			opt := merge.Options{
				StopAfter:       stopAfter,
				WriteMode:       firstNonEmpty(j.cfg.WriteMode, cfg.WriteMode),
				FormatVersion:   cmp.Or(j.cfg.FormatVersion, cfg.FormatVersion),
				DeleteStrategy:  firstNonEmpty(j.cfg.DeleteStrategy, cfg.DeleteStrategy),
				OnBadFile:       cfg.OnBadFile,
				CSV:             csvOptions(cfg),
				Documents:       merge.DocumentOptions{KeepRaw: cfg.DocKeepRaw, KeepFlat: cfg.DocKeepFlat},
				Key:             j.cfg.Key,
				TimestampColumn: firstNonEmpty(j.cfg.TimestampColumn, cfg.TimestampColumn),
				BatchBytes:      batchBytes,
				BatchFiles:      cfg.BatchFiles,
				Log:             log,
				Shared:          shared,
				MemoryLimit:     memoryLimit(cfg),
			}
			opt.Partition, err = merge.ParsePartition(strings.Join(j.cfg.Partition, ","))
			if target, _ := parseBytes(cfg.TargetFileSize); target > 0 { // checked by loadConfig
				opt.TableProperties = map[string]string{table.WriteTargetFileSizeBytesKey: strconv.FormatInt(target, 10)}
			}
			if td != nil {
				opt.CSVSchema = td.ArrowSchema()
				if len(opt.Key) == 0 {
					opt.Key = td.Key
				}
			}
			if tty {
				opt.Progress = progressBar(stderr)
			}
			if err == nil {
				res.Stats, err = merge.Table(ctx, cat, src, j.files, ident, opt)
			}
			if shared != nil {
				shared.Done(j.files.Ident())
			}
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if err == nil && ctx.Err() == nil {
				res.Compacted, res.Expired = maintainAfterRun(ctx, cfg, cat, ident, log)
			}
		}
		res.Table = j.target
		if err != nil {
			failed++
			res.Error = err.Error()
			log.Error("table failed", "table", j.target, "error", err.Error())
		} else {
			log.Info("table done", "table", j.target, "files", res.Files, "inserted", res.Inserted, "updated", res.Updated, "deleted", res.Deleted, "commits", res.Commits)
		}
		results = append(results, res)
		if ctx.Err() != nil {
			break
		}
	}
	if shared != nil {
		// Rows of tables with no columns: reported, the other tables went on.
		jobTables := map[string]bool{}
		for _, j := range jobs {
			jobTables[strings.ToLower(j.files.Ident())] = true
		}
		for _, u := range shared.Unknown() {
			if jobTables[strings.ToLower(u.Table)] {
				continue // failed as a table already: it has no columns
			}
			failed++
			msg := u.Err.Error()
			results = append(results, tableResult{Stats: merge.Stats{Table: u.Table}, Error: msg})
			log.Error("table failed", "table", u.Table, "error", msg)
		}
		log.Info("shared CDC files", "files", len(ss.shared), "reads", shared.Reads())
	}
	if cfg.Output == "json" {
		enc := json.NewEncoder(stdout)
		if cfg.LogStream != "stdout" {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(map[string]any{"msg": "run summary", "tables": results, "failed": failed}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintln(stdout, summaryLine(r))
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped by signal: %w", ctx.Err())
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

func summaryLine(r tableResult) string {
	if r.Error != "" {
		return fmt.Sprintf("%s: FAILED: %s", r.Table, r.Error)
	}
	left := ""
	if r.Stopped {
		left = fmt.Sprintf("; stopped at --max-duration with %d files left for the next run", r.PendingFiles)
	}
	if r.Files == 0 && !r.Stopped {
		return fmt.Sprintf("%s: up to date (checkpoint %s)", r.Table, checkpointText(r.Checkpoint))
	}
	return fmt.Sprintf("%s: %d files, %d rows read, %d inserted, %d updated, %d deleted, %d commits, %.2fs (checkpoint %s)%s",
		r.Table, r.Files, r.Rows, r.Inserted, r.Updated, r.Deleted, r.Commits, r.Seconds, checkpointText(r.Checkpoint), left)
}

func checkpointText(c reader.Checkpoint) string {
	switch {
	case c.CDCLast != "":
		return c.CDCLast
	case c.LoadLast != "":
		return c.LoadLast
	}
	return "none"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func progressBar(w io.Writer) func(merge.Progress) {
	return func(p merge.Progress) {
		const width = 30
		frac := 0.0
		if p.TotalBytes > 0 {
			frac = float64(p.Bytes) / float64(p.TotalBytes)
		}
		n := int(frac * width)
		fmt.Fprintf(w, "\r\033[K%s [%s%s] %d/%d files read, %s", p.Table, strings.Repeat("#", n), strings.Repeat(" ", width-n), p.Files, p.TotalFiles, p.Step)
	}
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var orphans bool
	ss, err := openSession(ctx, "status", args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&orphans, "orphans", false, "also list files under each table's location that no snapshot references (lists the whole location)")
	})
	if err != nil {
		return err
	}
	ctx, cfg, cat, jobs := ss.ctx, ss.cfg, ss.cat, ss.jobs
	type status struct {
		Table          string             `json:"table"`
		Exists         bool               `json:"exists"`
		Checkpoint     *reader.Checkpoint `json:"checkpoint,omitempty"`
		PendingFiles   int                `json:"pending_files"`
		PendingBytes   int64              `json:"pending_bytes"`
		OldestPending  string             `json:"oldest_pending,omitempty"`
		OldestAgeSecs  float64            `json:"oldest_pending_age_seconds,omitempty"`
		Problem        string             `json:"problem,omitempty"`
		SnapshotID     int64              `json:"snapshot_id,omitempty"`
		IdentifierCols []string           `json:"key,omitempty"`
		OrphanFiles    []string           `json:"orphan_files,omitempty"`
		Skipped        []merge.Skipped    `json:"skipped_files,omitempty"`
		Mode           string             `json:"mode,omitempty"`
	}
	var out []status
	now := time.Now()
	for _, j := range jobs {
		s := status{Table: j.target}
		ident, err := catalog.Ident(j.target)
		if err != nil {
			s.Problem = err.Error()
			out = append(out, s)
			continue
		}
		tbl, err := catalog.LoadTable(ctx, cat, ident)
		if err != nil {
			s.Problem = err.Error()
			out = append(out, s)
			continue
		}
		cp := reader.Checkpoint{}
		if tbl != nil {
			s.Exists = true
			if snap := tbl.CurrentSnapshot(); snap != nil {
				s.SnapshotID = snap.SnapshotID
			}
			for _, id := range tbl.Schema().IdentifierFieldIDs {
				if f, ok := tbl.Schema().FindFieldByID(id); ok {
					s.IdentifierCols = append(s.IdentifierCols, f.Name)
				}
			}
			s.Skipped = merge.SkippedFiles(tbl)
			s.Mode = merge.DescribeMode(tbl)
			cp, err = catalog.CheckpointOf(tbl)
			if err != nil {
				s.Problem = err.Error()
			}
			if !cp.IsZero() {
				s.Checkpoint = &cp
			}
		}
		pending, _, err := reader.Pending(j.files, cp)
		if err != nil {
			s.Problem = err.Error()
		}
		if orphans && tbl != nil {
			if s.OrphanFiles, err = merge.CleanOrphans(ctx, tbl, 0, true); err != nil {
				s.Problem = err.Error()
			}
		}
		s.PendingFiles = len(pending)
		for _, f := range pending {
			s.PendingBytes += f.Size
		}
		if len(pending) > 0 {
			f := pending[0]
			s.OldestPending = f.Path
			s.OldestAgeSecs = now.Sub(changeTime(f)).Round(time.Second).Seconds()
		}
		out = append(out, s)
	}
	if cfg.Output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"tables": out})
	}
	for _, s := range out {
		line := fmt.Sprintf("%s: ", s.Table)
		if !s.Exists {
			line += "not created yet, "
		}
		if s.Checkpoint != nil {
			line += "checkpoint " + checkpointText(*s.Checkpoint) + ", "
		} else {
			line += "checkpoint none, "
		}
		line += fmt.Sprintf("%d files pending (%d bytes)", s.PendingFiles, s.PendingBytes)
		if s.OldestPending != "" {
			line += fmt.Sprintf(", oldest pending change %s old (%s)", time.Duration(s.OldestAgeSecs*float64(time.Second)), s.OldestPending)
		}
		if len(s.Skipped) > 0 {
			line += fmt.Sprintf(", %d files quarantined (newest: %s: %s)", len(s.Skipped), s.Skipped[0].Path, s.Skipped[0].Reason)
		}
		if len(s.OrphanFiles) > 0 {
			line += fmt.Sprintf(", %d orphan files (not in the table; remove them with cdcmerge clean-orphans)", len(s.OrphanFiles))
		}
		if s.Mode != "" {
			line += " [" + s.Mode + "]"
		}
		if s.Problem != "" {
			line += ", PROBLEM: " + s.Problem
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// changeTime is when the changes of a file were made: the time in a CDC
// file's name, or the upload time of a LOAD file.
func changeTime(f reader.File) time.Time {
	if f.Kind == reader.CDC && f.Format != reader.CSVChanges && len(f.Name) >= 18 {
		if t, err := time.Parse("20060102-150405.000", f.Name[:15]+"."+f.Name[15:18]); err == nil {
			return t
		}
	}
	return f.ModTime
}

// maintainAfterRun compacts and expires a table after its run, as the
// thresholds in cfg say. The merge is committed already: a failure here
// loses nothing, is logged, and is tried again after the next run.
func maintainAfterRun(ctx context.Context, cfg *Config, cat icecat.Catalog, ident table.Identifier, log *slog.Logger) (*merge.CompactResult, bool) {
	name := strings.Join(ident, ".")
	th := merge.CompactThresholds{DeleteFiles: cfg.CompactAfter, SmallFiles: cfg.CompactSmallFiles}
	th.TargetFileSize, _ = parseBytes(cfg.TargetFileSize) // checked by loadConfig
	th.Memory = memoryLimit(cfg)
	expire := cfg.ExpireOlderThan != "" || cfg.ExpireRetainLast > 0
	if th.DeleteFiles <= 0 && th.SmallFiles <= 0 && !expire {
		return nil, false
	}
	tbl, err := catalog.LoadTable(ctx, cat, ident)
	if err != nil || tbl == nil {
		return nil, false
	}
	var compacted *merge.CompactResult
	did, cres, err := merge.CompactIfNeeded(ctx, tbl, th)
	switch {
	case err != nil:
		log.Warn("compaction after the run failed", "table", name, "error", err.Error())
	case did:
		compacted = &cres
		log.Info("compacted", "table", name, "removed_data_files", cres.RemovedDataFiles, "added_data_files", cres.AddedDataFiles, "removed_delete_files", cres.RemovedDeleteFiles)
		if tbl, err = catalog.LoadTable(ctx, cat, ident); err != nil || tbl == nil {
			return compacted, false
		}
	}
	if !expire {
		return compacted, false
	}
	age, _ := time.ParseDuration(firstNonEmpty(cfg.ExpireOlderThan, "0s")) // checked by loadConfig
	if err := merge.Expire(ctx, tbl, age, max(cfg.ExpireRetainLast, 1)); err != nil {
		log.Warn("expiry after the run failed", "table", name, "error", err.Error())
		return compacted, false
	}
	log.Info("snapshots expired", "table", name, "older_than", age.String(), "retain_last", max(cfg.ExpireRetainLast, 1))
	return compacted, true
}
