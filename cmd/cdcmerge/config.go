package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/cdcmerge/cdcmerge/merge"
)

// Config is every setting of a run. Precedence: command-line flags, then
// CDCMERGE_* environment variables, then the config file, then defaults.
type Config struct {
	Source          string                 `yaml:"source"`
	Warehouse       string                 `yaml:"warehouse"`
	Catalog         string                 `yaml:"catalog"`
	CatalogURI      string                 `yaml:"catalog_uri"`
	CatalogName     string                 `yaml:"catalog_name"`
	S3Endpoint      string                 `yaml:"s3_endpoint"`
	S3Region        string                 `yaml:"s3_region"`
	SourceEndpoint  string                 `yaml:"source_s3_endpoint"`
	WarehouseEndpt  string                 `yaml:"warehouse_s3_endpoint"`
	GlueCatalogID   string                 `yaml:"glue_catalog_id"`
	GlueEndpoint    string                 `yaml:"glue_endpoint"`
	GlueNoCreateDBs bool                   `yaml:"glue_no_create_database"`
	RESTCredential  string                 `yaml:"rest_credential"`
	RESTToken       string                 `yaml:"rest_token"`
	RESTSigV4       bool                   `yaml:"rest_sigv4"`
	RESTSigV4Svc    string                 `yaml:"rest_sigv4_service"`
	TimestampColumn string                 `yaml:"timestamp_column"`
	BatchBytes      int64                  `yaml:"batch_bytes"`
	BatchFiles      int                    `yaml:"batch_files"`
	Select          []string               `yaml:"select"`
	Output          string                 `yaml:"output"`
	LogLevel        string                 `yaml:"log_level"`
	LogStream       string                 `yaml:"log_stream"`
	MaxDuration     string                 `yaml:"max_duration"`
	MemoryLimit     string                 `yaml:"memory_limit"`
	WriteMode       string                 `yaml:"write_mode"`
	TableDefinition string                 `yaml:"table_definition"`
	CSVDelimiter    string                 `yaml:"csv_delimiter"`
	CSVNullValue    string                 `yaml:"csv_null_value"`
	CSVHeader       bool                   `yaml:"csv_header"`
	DocKeepRaw      bool                   `yaml:"doc_keep_raw"`
	DocKeepFlat     bool                   `yaml:"doc_keep_flat"`
	CompactAfter    int                    `yaml:"compact_after_delete_files"`
	OnBadFile       string                 `yaml:"on_bad_file"`
	CPUProfile      string                 `yaml:"cpu_profile"`
	HeapProfile     string                 `yaml:"heap_profile"`
	CDCPath         string                 `yaml:"cdc_path"`
	Tables          map[string]TableConfig `yaml:"tables"`
	// Maintenance after a run and the target file size.
	CompactSmallFiles int    `yaml:"compact_after_small_files"`
	ExpireOlderThan   string `yaml:"expire_older_than"`
	ExpireRetainLast  int    `yaml:"expire_retain_last"`
	TargetFileSize    string `yaml:"target_file_size"`
	// partitions holds the --partition flags (the file's are in Tables).
	partitions     partitionFlags
	FormatVersion  int    `yaml:"format_version"`
	DeleteStrategy string `yaml:"delete_strategy"`
}

// TableConfig holds the settings of one source table, keyed by its DMS
// name schema.table.
type TableConfig struct {
	Key             []string `yaml:"key"`
	Target          string   `yaml:"target"`
	TimestampColumn string   `yaml:"timestamp_column"`
	// Partition is the partition spec of the table when cdcmerge creates
	// it, one field per entry: col, day(col), bucket(16, col), ...
	Partition []string `yaml:"partition"`
	// WriteMode, FormatVersion and DeleteStrategy override the global
	// settings for this table when cdcmerge creates it.
	WriteMode      string `yaml:"write_mode"`
	FormatVersion  int    `yaml:"format_version"`
	DeleteStrategy string `yaml:"delete_strategy"`
}

// settingDocs documents every setting once; the README table is checked
// against it by a test.
var settingDocs = []struct{ Flag, Env, YAML, Doc string }{
	{"--source", "CDCMERGE_SOURCE", "source", "DMS bucket folder root holding <schema>/<table>/ folders: a local folder or s3://bucket/prefix"},
	{"--warehouse", "CDCMERGE_WAREHOUSE", "warehouse", "Iceberg warehouse root (local folder or s3://bucket/prefix); new tables are created under it"},
	{"--catalog", "CDCMERGE_CATALOG", "catalog", "catalog type: sql (default; SQLite at <warehouse>/catalog.db), glue or rest"},
	{"--catalog-uri", "CDCMERGE_CATALOG_URI", "catalog_uri", "sql: the SQLite file (default <warehouse>/catalog.db) or a postgres:// URI; rest: the catalog's URI"},
	{"--catalog-name", "CDCMERGE_CATALOG_NAME", "catalog_name", "catalog name stored in the SQL catalog rows (default default, what other tools assume)"},
	{"--s3-endpoint", "CDCMERGE_S3_ENDPOINT", "s3_endpoint", "S3-compatible endpoint for s3:// source and warehouse (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS); turns on path-style addressing"},
	{"--s3-region", "CDCMERGE_S3_REGION", "s3_region", "AWS region (default: AWS_REGION or the profile's region)"},
	{"--source-s3-endpoint", "CDCMERGE_SOURCE_S3_ENDPOINT", "source_s3_endpoint", "endpoint for the source only, when it differs from the warehouse's"},
	{"--warehouse-s3-endpoint", "CDCMERGE_WAREHOUSE_S3_ENDPOINT", "warehouse_s3_endpoint", "endpoint for the warehouse only, when it differs from the source's"},
	{"--glue-catalog-id", "CDCMERGE_GLUE_CATALOG_ID", "glue_catalog_id", "glue: the Data Catalog's account id, for a catalog in another account (default: the caller's)"},
	{"--glue-endpoint", "CDCMERGE_GLUE_ENDPOINT", "glue_endpoint", "glue: endpoint URL (VPC endpoint or test server; default AWS)"},
	{"--glue-no-create-database", "CDCMERGE_GLUE_NO_CREATE_DATABASE", "glue_no_create_database", "glue: fail instead of creating a missing database"},
	{"--rest-credential", "CDCMERGE_REST_CREDENTIAL", "rest_credential", "rest: OAuth2 client credential id:secret (prefer the environment variable: flags show in process lists)"},
	{"--rest-token", "CDCMERGE_REST_TOKEN", "rest_token", "rest: bearer token (prefer the environment variable)"},
	{"--rest-sigv4", "CDCMERGE_REST_SIGV4", "rest_sigv4", "rest: sign requests with AWS SigV4 (S3 Tables, Glue Iceberg REST endpoint)"},
	{"--rest-sigv4-service", "CDCMERGE_REST_SIGV4_SERVICE", "rest_sigv4_service", "rest: the SigV4 service name: glue (default) or s3tables"},
	{"--key", "CDCMERGE_KEY", "tables.<t>.key", "key columns of a table: schema.table=col[,col...]; repeat the flag per table (env: ';' between tables)"},
	{"--tables", "CDCMERGE_TABLES", "select", "only the tables matching these globs on schema.table, comma-separated (default all)"},
	{"--timestamp-column", "CDCMERGE_TIMESTAMP_COLUMN", "timestamp_column", "the DMS TimestampColumnName (default commit_ts when the table has it)"},
	{"--memory-limit", "CDCMERGE_MEMORY_LIMIT", "memory_limit", "soft memory limit for the Go runtime, e.g. 768MiB (default), 4GiB, or 0 for none; GOMEMLIMIT wins if set"},
	{"--write-mode", "CDCMERGE_WRITE_MODE", "write_mode", "copy-on-write (default) or merge-on-read, for tables cdcmerge creates; an existing table keeps its mode"},
	{"--table-definition", "CDCMERGE_TABLE_DEFINITION", "table_definition", "DMS external table definition (JSON) naming and typing the columns of CSV output; ColumnIsPk gives the key"},
	{"--csv-delimiter", "CDCMERGE_CSV_DELIMITER", "csv_delimiter", "CSV field delimiter, the DMS CsvDelimiter (default ,)"},
	{"--csv-null-value", "CDCMERGE_CSV_NULL_VALUE", "csv_null_value", "the unquoted CSV field that means null, the DMS CsvNullValue (default: an empty field)"},
	{"--csv-header", "CDCMERGE_CSV_HEADER", "csv_header", "CSV files start with a row of column names (DMS AddColumnName=true)"},
	{"--doc-keep-raw", "CDCMERGE_DOC_KEEP_RAW", "doc_keep_raw", "DocumentDB: keep each document's JSON text in a _doc column besides the nested columns"},
	{"--doc-keep-flat", "CDCMERGE_DOC_KEEP_FLAT", "doc_keep_flat", "DocumentDB table mode (NestingLevel=one): keep the dotted columns and JSON arrays as DMS wrote them"},
	{"--compact-after-delete-files", "CDCMERGE_COMPACT_AFTER_DELETE_FILES", "compact_after_delete_files", "after a table's run, compact it when it has at least this many delete files (merge-on-read; default 0: never)"},
	{"--on-bad-file", "CDCMERGE_ON_BAD_FILE", "on_bad_file", "fail (default: a bad file stops its table, which stays as it was) or quarantine (skip it, record it with the reason in the snapshot summary; status lists it)"},
	{"--batch-bytes", "CDCMERGE_BATCH_BYTES", "batch_bytes", "input bytes per commit (default: memory limit / 16, or 256 MiB without a limit); bounds memory"},
	{"--batch-files", "CDCMERGE_BATCH_FILES", "batch_files", "input files per commit (default 500)"},
	{"--output", "CDCMERGE_OUTPUT", "output", "text (default) or json"},
	{"--log-level", "CDCMERGE_LOG_LEVEL", "log_level", "error, warn, info (default) or debug; logs are JSON lines, never with secrets"},
	{"--log-stream", "CDCMERGE_LOG_STREAM", "log_stream", "where logs go: stderr (default) or stdout (for CloudWatch, with --output json the summary is one JSON line too)"},
	{"--max-duration", "CDCMERGE_MAX_DURATION", "max_duration", "stop starting new batches after this long (e.g. 10m); the batch in progress commits, the rest waits for the next run"},
	{"--cpu-profile", "CDCMERGE_CPU_PROFILE", "cpu_profile", "write a Go CPU profile of the run to this file (go tool pprof)"},
	{"--heap-profile", "CDCMERGE_HEAP_PROFILE", "heap_profile", "write a Go heap profile at the end of the run to this file"},
	{"--config", "CDCMERGE_CONFIG", "", "YAML file with any of these settings, and per-table key, target and timestamp_column under tables:"},
	{"--cdc-path", "CDCMERGE_CDC_PATH", "cdc_path", "S3-source layout: the folder (CdcPath) under --source holding the shared CDC files CDC00001.csv or CDC_TXN-*.csv (default: found anywhere, all in one folder)"},
	{"--partition", "CDCMERGE_PARTITION", "tables.<t>.partition", "partition spec of a table cdcmerge creates: schema.table=field[,field...], each field col (identity), year(col), month(col), day(col), hour(col), bucket(N, col) or truncate(W, col); repeat the flag per table (env: ';' between tables); an existing table keeps its spec"},
	{"--compact-after-small-files", "CDCMERGE_COMPACT_AFTER_SMALL_FILES", "compact_after_small_files", "after a table's run, compact it when it has at least this many data files below 3/4 of the target file size (default 0: never)"},
	{"--expire-older-than", "CDCMERGE_EXPIRE_OLDER_THAN", "expire_older_than", "after a table's run, expire its snapshots older than this (e.g. 120h); clean-orphans then deletes their files (default: no expiry)"},
	{"--expire-retain-last", "CDCMERGE_EXPIRE_RETAIN_LAST", "expire_retain_last", "after a table's run, expire all but this many newest snapshots, or with --expire-older-than keep at least this many (default 0: no expiry)"},
	{"--target-file-size", "CDCMERGE_TARGET_FILE_SIZE", "target_file_size", "write.target-file-size-bytes of tables cdcmerge creates, e.g. 128MiB (default 512MiB), and the size compact packs files to (default: the table's property)"},
	{"--format-version", "CDCMERGE_FORMAT_VERSION", "format_version", "Iceberg format version of tables cdcmerge creates: 2 (default) or 3 (merge-on-read only: deletion vectors); per table under tables.<t>.format_version; cdcmerge alter upgrades a table"},
	{"--delete-strategy", "CDCMERGE_DELETE_STRATEGY", "delete_strategy", "how merge-on-read tables cdcmerge creates record deletes: position (default; position delete files on v2, deletion vectors on v3) or equality (opt-in: no key reads, slow reads; see Write modes); per table under tables.<t>.delete_strategy"},
}

// partitionFlags collects --partition schema.table=field[,field...].
type partitionFlags map[string][]string

func (p partitionFlags) String() string { return "" }
func (p partitionFlags) Set(v string) error {
	t, spec, ok := strings.Cut(v, "=")
	if !ok || t == "" || spec == "" {
		return fmt.Errorf("--partition wants schema.table=field[,field...], got %q", v)
	}
	fields, err := merge.ParsePartition(spec)
	if err != nil {
		return fmt.Errorf("--partition %s: %v", t, err)
	}
	for _, f := range fields {
		p[t] = append(p[t], f.String())
	}
	return nil
}

type keyFlags map[string][]string

func (k keyFlags) String() string { return "" }
func (k keyFlags) Set(v string) error {
	t, cols, ok := strings.Cut(v, "=")
	if !ok || t == "" || cols == "" {
		return fmt.Errorf("--key wants schema.table=col[,col...], got %q", v)
	}
	for _, c := range strings.Split(cols, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return fmt.Errorf("--key %q has an empty column name", v)
		}
		k[t] = append(k[t], c)
	}
	return nil
}

// usageError is a mistake in how cdcmerge was called (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// loadConfig builds the Config from the flag set (already parsed), the
// environment and the config file.
func loadConfig(fs *flag.FlagSet, keys keyFlags, flagVals *Config, configPath string, tablesFlag string) (*Config, error) {
	cfg := &Config{}
	if configPath == "" {
		configPath = os.Getenv("CDCMERGE_CONFIG")
	}
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return nil, usagef("reading config file: %v", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, usagef("config file %s: %v", configPath, err)
		}
	}
	if cfg.Tables == nil {
		cfg.Tables = map[string]TableConfig{}
	}
	env := func(name string, dst *string) {
		if v := os.Getenv(name); v != "" {
			*dst = v
		}
	}
	env("CDCMERGE_SOURCE", &cfg.Source)
	env("CDCMERGE_WAREHOUSE", &cfg.Warehouse)
	env("CDCMERGE_CATALOG", &cfg.Catalog)
	env("CDCMERGE_CATALOG_URI", &cfg.CatalogURI)
	env("CDCMERGE_CATALOG_NAME", &cfg.CatalogName)
	env("CDCMERGE_S3_ENDPOINT", &cfg.S3Endpoint)
	env("CDCMERGE_S3_REGION", &cfg.S3Region)
	env("CDCMERGE_SOURCE_S3_ENDPOINT", &cfg.SourceEndpoint)
	env("CDCMERGE_WAREHOUSE_S3_ENDPOINT", &cfg.WarehouseEndpt)
	env("CDCMERGE_GLUE_CATALOG_ID", &cfg.GlueCatalogID)
	env("CDCMERGE_GLUE_ENDPOINT", &cfg.GlueEndpoint)
	env("CDCMERGE_REST_CREDENTIAL", &cfg.RESTCredential)
	env("CDCMERGE_REST_TOKEN", &cfg.RESTToken)
	env("CDCMERGE_REST_SIGV4_SERVICE", &cfg.RESTSigV4Svc)
	for name, dst := range map[string]*bool{"CDCMERGE_GLUE_NO_CREATE_DATABASE": &cfg.GlueNoCreateDBs, "CDCMERGE_REST_SIGV4": &cfg.RESTSigV4, "CDCMERGE_CSV_HEADER": &cfg.CSVHeader,
		"CDCMERGE_DOC_KEEP_RAW": &cfg.DocKeepRaw, "CDCMERGE_DOC_KEEP_FLAT": &cfg.DocKeepFlat} {
		if v := os.Getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, usagef("%s=%q is not true or false", name, v)
			}
			*dst = b
		}
	}
	env("CDCMERGE_TIMESTAMP_COLUMN", &cfg.TimestampColumn)
	env("CDCMERGE_OUTPUT", &cfg.Output)
	env("CDCMERGE_LOG_LEVEL", &cfg.LogLevel)
	env("CDCMERGE_LOG_STREAM", &cfg.LogStream)
	env("CDCMERGE_MAX_DURATION", &cfg.MaxDuration)
	env("CDCMERGE_MEMORY_LIMIT", &cfg.MemoryLimit)
	env("CDCMERGE_ON_BAD_FILE", &cfg.OnBadFile)
	env("CDCMERGE_CPU_PROFILE", &cfg.CPUProfile)
	env("CDCMERGE_HEAP_PROFILE", &cfg.HeapProfile)
	env("CDCMERGE_WRITE_MODE", &cfg.WriteMode)
	env("CDCMERGE_DELETE_STRATEGY", &cfg.DeleteStrategy)
	if v := os.Getenv("CDCMERGE_FORMAT_VERSION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, usagef("CDCMERGE_FORMAT_VERSION=%q is not 2 or 3", v)
		}
		cfg.FormatVersion = n
	}
	env("CDCMERGE_TABLE_DEFINITION", &cfg.TableDefinition)
	env("CDCMERGE_CSV_DELIMITER", &cfg.CSVDelimiter)
	env("CDCMERGE_CSV_NULL_VALUE", &cfg.CSVNullValue)
	env("CDCMERGE_CDC_PATH", &cfg.CDCPath)
	if v := os.Getenv("CDCMERGE_TABLES"); v != "" {
		cfg.Select = splitList(v)
	}
	if v := os.Getenv("CDCMERGE_BATCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, usagef("CDCMERGE_BATCH_BYTES=%q is not a number", v)
		}
		cfg.BatchBytes = n
	}
	if v := os.Getenv("CDCMERGE_COMPACT_AFTER_DELETE_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, usagef("CDCMERGE_COMPACT_AFTER_DELETE_FILES=%q is not a count", v)
		}
		cfg.CompactAfter = n
	}
	if v := os.Getenv("CDCMERGE_BATCH_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, usagef("CDCMERGE_BATCH_FILES=%q is not a number", v)
		}
		cfg.BatchFiles = n
	}
	envKeys := keyFlags{}
	if err := envPerTable("CDCMERGE_KEY", envKeys.Set); err != nil {
		return nil, err
	}
	mergeKeys(cfg, envKeys)
	envParts := partitionFlags{}
	if err := envPerTable("CDCMERGE_PARTITION", envParts.Set); err != nil {
		return nil, err
	}
	mergePartitions(cfg, envParts)
	for name, dst := range map[string]*int{"CDCMERGE_COMPACT_AFTER_SMALL_FILES": &cfg.CompactSmallFiles, "CDCMERGE_EXPIRE_RETAIN_LAST": &cfg.ExpireRetainLast} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, usagef("%s=%q is not a count", name, v)
			}
			*dst = n
		}
	}
	env("CDCMERGE_EXPIRE_OLDER_THAN", &cfg.ExpireOlderThan)
	env("CDCMERGE_TARGET_FILE_SIZE", &cfg.TargetFileSize)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	override(set, "source", &cfg.Source, flagVals.Source)
	override(set, "warehouse", &cfg.Warehouse, flagVals.Warehouse)
	override(set, "catalog", &cfg.Catalog, flagVals.Catalog)
	override(set, "catalog-uri", &cfg.CatalogURI, flagVals.CatalogURI)
	override(set, "catalog-name", &cfg.CatalogName, flagVals.CatalogName)
	override(set, "s3-endpoint", &cfg.S3Endpoint, flagVals.S3Endpoint)
	override(set, "s3-region", &cfg.S3Region, flagVals.S3Region)
	override(set, "source-s3-endpoint", &cfg.SourceEndpoint, flagVals.SourceEndpoint)
	override(set, "warehouse-s3-endpoint", &cfg.WarehouseEndpt, flagVals.WarehouseEndpt)
	override(set, "glue-catalog-id", &cfg.GlueCatalogID, flagVals.GlueCatalogID)
	override(set, "glue-endpoint", &cfg.GlueEndpoint, flagVals.GlueEndpoint)
	override(set, "rest-credential", &cfg.RESTCredential, flagVals.RESTCredential)
	override(set, "rest-token", &cfg.RESTToken, flagVals.RESTToken)
	override(set, "rest-sigv4-service", &cfg.RESTSigV4Svc, flagVals.RESTSigV4Svc)
	override(set, "glue-no-create-database", &cfg.GlueNoCreateDBs, flagVals.GlueNoCreateDBs)
	override(set, "rest-sigv4", &cfg.RESTSigV4, flagVals.RESTSigV4)
	override(set, "timestamp-column", &cfg.TimestampColumn, flagVals.TimestampColumn)
	override(set, "output", &cfg.Output, flagVals.Output)
	override(set, "log-level", &cfg.LogLevel, flagVals.LogLevel)
	override(set, "log-stream", &cfg.LogStream, flagVals.LogStream)
	override(set, "max-duration", &cfg.MaxDuration, flagVals.MaxDuration)
	override(set, "memory-limit", &cfg.MemoryLimit, flagVals.MemoryLimit)
	override(set, "on-bad-file", &cfg.OnBadFile, flagVals.OnBadFile)
	override(set, "cpu-profile", &cfg.CPUProfile, flagVals.CPUProfile)
	override(set, "heap-profile", &cfg.HeapProfile, flagVals.HeapProfile)
	override(set, "write-mode", &cfg.WriteMode, flagVals.WriteMode)
	override(set, "delete-strategy", &cfg.DeleteStrategy, flagVals.DeleteStrategy)
	override(set, "format-version", &cfg.FormatVersion, flagVals.FormatVersion)
	override(set, "table-definition", &cfg.TableDefinition, flagVals.TableDefinition)
	override(set, "csv-delimiter", &cfg.CSVDelimiter, flagVals.CSVDelimiter)
	override(set, "csv-null-value", &cfg.CSVNullValue, flagVals.CSVNullValue)
	override(set, "cdc-path", &cfg.CDCPath, flagVals.CDCPath)
	override(set, "csv-header", &cfg.CSVHeader, flagVals.CSVHeader)
	override(set, "doc-keep-raw", &cfg.DocKeepRaw, flagVals.DocKeepRaw)
	override(set, "doc-keep-flat", &cfg.DocKeepFlat, flagVals.DocKeepFlat)
	override(set, "batch-bytes", &cfg.BatchBytes, flagVals.BatchBytes)
	override(set, "compact-after-delete-files", &cfg.CompactAfter, flagVals.CompactAfter)
	override(set, "batch-files", &cfg.BatchFiles, flagVals.BatchFiles)
	if set["tables"] {
		cfg.Select = splitList(tablesFlag)
	}
	mergeKeys(cfg, keys)
	if err := checkKeys(cfg); err != nil {
		return nil, err
	}
	override(set, "compact-after-small-files", &cfg.CompactSmallFiles, flagVals.CompactSmallFiles)
	override(set, "expire-retain-last", &cfg.ExpireRetainLast, flagVals.ExpireRetainLast)
	override(set, "expire-older-than", &cfg.ExpireOlderThan, flagVals.ExpireOlderThan)
	override(set, "target-file-size", &cfg.TargetFileSize, flagVals.TargetFileSize)
	mergePartitions(cfg, flagVals.partitions)
	if err := checkMaintenance(cfg); err != nil {
		return nil, err
	}
	if cfg.Output == "" {
		cfg.Output = "text"
	}
	switch cfg.LogStream {
	case "", "stderr", "stdout":
	default:
		return nil, usagef("--log-stream must be stderr or stdout, got %q", cfg.LogStream)
	}
	if cfg.MaxDuration != "" {
		d, err := time.ParseDuration(cfg.MaxDuration)
		if err != nil || d <= 0 {
			return nil, usagef("--max-duration %q is not a positive duration such as 10m or 1h30m", cfg.MaxDuration)
		}
	}
	if _, err := parseBytes(firstNonEmpty(cfg.MemoryLimit, DefaultMemoryLimit)); err != nil {
		return nil, usagef("--memory-limit: %v", err)
	}
	if n := utf8.RuneCountInString(cfg.CSVDelimiter); n > 1 {
		return nil, usagef("--csv-delimiter must be one character, got %q", cfg.CSVDelimiter)
	}
	switch cfg.OnBadFile {
	case "", "fail", "quarantine":
	default:
		return nil, usagef("--on-bad-file must be fail or quarantine, got %q", cfg.OnBadFile)
	}
	if err := checkWriteSettings("", cfg.WriteMode, cfg.DeleteStrategy, cfg.FormatVersion); err != nil {
		return nil, err
	}
	for t, tc := range cfg.Tables {
		if err := checkWriteSettings(t, firstNonEmpty(tc.WriteMode, cfg.WriteMode), firstNonEmpty(tc.DeleteStrategy, cfg.DeleteStrategy), cmp.Or(tc.FormatVersion, cfg.FormatVersion)); err != nil {
			return nil, err
		}
	}
	if cfg.Output != "text" && cfg.Output != "json" {
		return nil, usagef("--output must be text or json, got %q", cfg.Output)
	}
	for _, g := range cfg.Select {
		if _, err := path.Match(g, "x"); err != nil {
			return nil, usagef("--tables pattern %q is not a valid glob", g)
		}
	}
	return cfg, nil
}

func mergeKeys(cfg *Config, keys keyFlags) {
	names := make([]string, 0, len(keys))
	for t := range keys {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		tc := cfg.Tables[t]
		tc.Key = keys[t]
		cfg.Tables[t] = tc
	}
}

// envPerTable gives each ';'-separated part of environment variable name
// (one table's setting, as its flag takes it) to set.
func envPerTable(name string, set func(string) error) error {
	for _, part := range strings.Split(os.Getenv(name), ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if err := set(part); err != nil {
			return usagef("%s: %v", name, err)
		}
	}
	return nil
}

func mergePartitions(cfg *Config, parts partitionFlags) {
	for t, fields := range parts {
		tc := cfg.Tables[t]
		tc.Partition = fields
		cfg.Tables[t] = tc
	}
}

// checkMaintenance checks the partition specs' syntax (the columns and
// their types are checked when a table is created) and the maintenance
// settings.
func checkMaintenance(cfg *Config) error {
	for t, tc := range cfg.Tables {
		for _, f := range tc.Partition {
			if _, err := merge.ParsePartitionField(f); err != nil {
				return usagef("table %s: %v", t, err)
			}
		}
	}
	if cfg.CompactSmallFiles < 0 || cfg.ExpireRetainLast < 0 {
		return usagef("--compact-after-small-files and --expire-retain-last must not be negative")
	}
	if cfg.ExpireOlderThan != "" {
		if d, err := time.ParseDuration(cfg.ExpireOlderThan); err != nil || d < 0 {
			return usagef("--expire-older-than %q is not a duration such as 120h", cfg.ExpireOlderThan)
		}
	}
	if cfg.TargetFileSize != "" {
		if n, err := parseBytes(cfg.TargetFileSize); err != nil || n <= 0 {
			return usagef("--target-file-size %q is not a size such as 128MiB", cfg.TargetFileSize)
		}
	}
	return nil
}

// checkKeys rejects a table key that names a column twice (as a repeated
// --key for one table or "a,a" would) or names an empty column: the key
// becomes the table's Iceberg identifier fields, which are a set.
func checkKeys(cfg *Config) error {
	names := make([]string, 0, len(cfg.Tables))
	for t := range cfg.Tables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		seen := map[string]bool{}
		for _, c := range cfg.Tables[t].Key {
			l := strings.ToLower(strings.TrimSpace(c))
			if l == "" {
				return usagef("the key of table %s has an empty column name", t)
			}
			if seen[l] {
				return usagef("the key of table %s names column %q more than once", t, c)
			}
			seen[l] = true
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// selected reports whether DMS table name (schema.table) passes --tables.
func (c *Config) selected(name string) bool {
	if len(c.Select) == 0 {
		return true
	}
	for _, g := range c.Select {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// DefaultMemoryLimit is the soft memory limit when none is set: what a
// small scheduled task has to spare.
const DefaultMemoryLimit = "768MiB"

// parseBytes parses a size: a number of bytes, or a number with a unit
// (KiB, MiB, GiB, KB, MB, GB).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mul
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1GiB or 512MiB", s)
	}
	return int64(f * float64(mul)), nil
}

// checkWriteSettings checks the write mode, delete strategy and format
// version given for new tables (of table t, or globally when t is "").
func checkWriteSettings(t, mode, strategy string, version int) error {
	where := ""
	if t != "" {
		where = " (table " + t + ")"
	}
	switch mode {
	case "", merge.CopyOnWrite, merge.MergeOnRead:
	default:
		return usagef("--write-mode must be copy-on-write or merge-on-read, got %q%s", mode, where)
	}
	switch strategy {
	case "", merge.DeletePosition, merge.DeleteEquality:
	default:
		return usagef("--delete-strategy must be position or equality, got %q%s", strategy, where)
	}
	if strategy == merge.DeleteEquality && mode != merge.MergeOnRead {
		return usagef("--delete-strategy equality needs --write-mode merge-on-read%s", where)
	}
	switch version {
	case 0, 2:
	case 3:
		if mode != merge.MergeOnRead {
			return usagef("--format-version 3 needs --write-mode merge-on-read (deletion vectors)%s: copy-on-write tables stay on v2", where)
		}
	default:
		return usagef("--format-version must be 2 or 3, got %d%s", version, where)
	}
	return nil
}

// override sets *dst to v when the flag name was given on the command
// line: flags win over the environment and the config file.
func override[T any](set map[string]bool, name string, dst *T, v T) {
	if set[name] {
		*dst = v
	}
}
