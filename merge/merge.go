package merge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/reader"
	"github.com/cdcmerge/cdcmerge/writer"
)

// DefaultTimestampColumn is used as the DMS timestamp column when the
// table has a column of that name and no other was configured.
const DefaultTimestampColumn = "commit_ts"

// Default batch bounds.
const (
	DefaultBatchBytes = 256 << 20
	DefaultBatchFiles = 500
)

// Options configure the merge of one table.
type Options struct {
	// Key names the key columns. A table that already has identifier
	// fields uses those; Key must then be empty or equal.
	Key []string
	// TimestampColumn is the DMS TimestampColumnName; "" means
	// DefaultTimestampColumn when the table has it.
	TimestampColumn string
	// BatchBytes and BatchFiles bound one batch (one commit): input file
	// bytes and file count. A single file larger than BatchBytes is a batch
	// of its own.
	BatchBytes int64
	BatchFiles int
	// StopAfter, when not zero, is a soft deadline: no batch starts after
	// it (the batch in progress finishes and commits). Stats.Stopped says
	// the run ended early; the next run goes on from the checkpoint.
	StopAfter time.Time
	// WriteMode is copy-on-write (default) or merge-on-read, set on tables
	// cdcmerge creates (an existing table keeps its own; giving another one
	// is an error, since changing a table's mode is an explicit step).
	WriteMode string
	// CSV says how to read DMS CSV output (DataFormat=csv).
	CSV reader.CSVOptions
	// CSVSchema names and types the columns of headerless CSV files (from
	// a DMS external table definition). Without it, CSV files take the
	// existing table's columns, in order.
	CSVSchema *arrow.Schema
	// OnBadFile is Fail (default: a bad file stops the table) or
	// Quarantine (the file is skipped, and recorded with the reason in the
	// summary of the snapshot that moves the checkpoint past it).
	OnBadFile string
	// Documents tunes DocumentDB/MongoDB collections.
	Documents DocumentOptions
	// TableProperties are set on tables cdcmerge creates.
	TableProperties map[string]string
	Writer          writer.Options
	Mem             memory.Allocator
	Log             *slog.Logger
	// Progress, when set, is told after each file is read and after each
	// commit. It is called from one goroutine at a time.
	Progress func(Progress)
	// Shared reads the shared CDC files of an S3 source (Format
	// reader.CSVChanges in the table's CDC list): the table takes its own
	// rows of each, found by its DMS name schema.table.
	Shared *reader.SharedCDC
	// Partition is the partition spec of a table cdcmerge creates (none:
	// unpartitioned). An existing table keeps its own; giving another one
	// is an error.
	Partition []PartitionField
	// FormatVersion is the Iceberg format version (2 or 3; 0 means 2) of
	// tables cdcmerge creates. An existing table keeps its own (giving
	// another one is an error: cdcmerge alter upgrades a table).
	FormatVersion int
	// DeleteStrategy is how a merge-on-read table cdcmerge creates records
	// replaced rows: DeletePosition (default; position delete files on
	// v2, deletion vectors on v3) or DeleteEquality. It is stored in the
	// table property cdcmerge.delete-strategy; an existing table keeps its
	// own.
	DeleteStrategy string
	// MemoryLimit is the run's memory budget (0: none). Rewrites read
	// their data files in record batches sized from it, and it is the
	// writers' budget unless Writer.Memory is set (see writer.Options).
	MemoryLimit int64
}

// DocumentOptions tune how DocumentDB/MongoDB output becomes columns.
type DocumentOptions struct {
	// KeepRaw keeps each document's JSON text in a _doc column as well.
	KeepRaw bool
	// KeepFlat keeps table-mode (NestingLevel=one) columns as DMS wrote
	// them: dotted names, arrays as JSON text.
	KeepFlat bool
}

// Progress reports work done within a table's run.
type Progress struct {
	Table      string
	Step       string // "read" (a file was decoded), "write", "commit"
	Files      int    // files done so far
	TotalFiles int
	Bytes      int64
	TotalBytes int64
}

// Stats summarise the run of one table.
type Stats struct {
	Table      string            `json:"table"`
	Files      int               `json:"files"`
	Rows       int64             `json:"rows_read"`
	Inserted   int64             `json:"inserted"`
	Updated    int64             `json:"updated"`
	Deleted    int64             `json:"deleted"`
	Commits    int               `json:"commits"`
	Rewritten  int               `json:"data_files_rewritten"`
	Added      int               `json:"data_files_added"`
	Seconds    float64           `json:"seconds"`
	Checkpoint reader.Checkpoint `json:"checkpoint"`
	Created    bool              `json:"created,omitempty"`
	// Skipped counts the files quarantined (OnBadFile: Quarantine).
	Skipped int `json:"skipped_files,omitempty"`
	// Stopped is set when StopAfter ended the run with files still pending.
	Stopped      bool `json:"stopped,omitempty"`
	PendingFiles int  `json:"pending_files"`
	// Phases holds the seconds spent in each step, summed over batches:
	// read, schema, dedupe, plan, write, commit.
	Phases map[string]float64 `json:"phases"`
}

func (st *Stats) phase(name string, since time.Time) time.Time {
	now := time.Now()
	if st.Phases == nil {
		st.Phases = map[string]float64{}
	}
	st.Phases[name] += now.Sub(since).Seconds()
	return now
}

// KeyError says a table has no usable key.
type KeyError struct{ Table, Msg string }

func (e *KeyError) Error() string { return "table " + e.Table + ": " + e.Msg }

// Table applies the pending files of tf to the Iceberg table ident.
func Table(ctx context.Context, cat icecat.Catalog, src reader.Source, tf reader.TableFiles, ident table.Identifier, opt Options) (st Stats, err error) {
	start := time.Now()
	name := strings.Join(ident, ".")
	st.Table = name
	defer func() { st.Seconds = time.Since(start).Seconds() }()
	if opt.Mem == nil {
		opt.Mem = memory.DefaultAllocator
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.BatchBytes <= 0 {
		opt.BatchBytes = DefaultBatchBytes
	}
	if opt.BatchFiles <= 0 {
		opt.BatchFiles = DefaultBatchFiles
	}
	if opt.Writer.Memory == 0 {
		opt.Writer.Memory = opt.MemoryLimit
	}
	tbl, err := catalog.LoadTable(ctx, cat, ident)
	if err != nil {
		return st, err
	}
	key, err := resolveKey(name, tbl, opt.Key)
	if err != nil {
		return st, err
	}
	if err := checkTableSettings(opt.WriteMode, opt.DeleteStrategy, opt.FormatVersion); err != nil {
		return st, fmt.Errorf("table %s: %w", name, err)
	}
	if tbl != nil && opt.WriteMode != "" && writeMode(tbl) != opt.WriteMode {
		return st, fmt.Errorf("table %s is %s but %s was asked for; a table's write mode is changed by an explicit step (cdcmerge alter), not by a run: drop --write-mode for this table", name, writeMode(tbl), opt.WriteMode)
	}
	if tbl != nil && opt.FormatVersion != 0 && formatVersion(tbl) != opt.FormatVersion {
		return st, fmt.Errorf("table %s has format version %d but %d was asked for; a table's format version is changed by an explicit step (cdcmerge alter), not by a run: drop --format-version for this table", name, formatVersion(tbl), opt.FormatVersion)
	}
	if tbl != nil && opt.DeleteStrategy != "" && deleteStrategy(tbl) != opt.DeleteStrategy {
		return st, fmt.Errorf("table %s uses the %s delete strategy but %s was asked for; it is changed by an explicit step (cdcmerge alter), not by a run: drop --delete-strategy for this table", name, deleteStrategy(tbl), opt.DeleteStrategy)
	}
	if tbl != nil && len(opt.Partition) > 0 {
		if have, want := specString(tbl), configuredSpecString(tbl, opt.Partition); have != want {
			return st, fmt.Errorf("table %s is partitioned by (%s) but the config asks for (%s); a table's partitioning is set when cdcmerge creates it: fix the partition setting for this table", name, have, want)
		}
	}
	runID := uuid.NewString()
	replans := 0
	for {
		err = applyPending(ctx, tbl, runID, batchRun{name: name, source: tf.Ident(), ident: ident, cat: cat, src: src, key: key, opt: &opt, st: &st}, tf)
		var rp *replanError
		if !errors.As(err, &rp) {
			return st, err
		}
		// Another writer committed to the table since we planned: what we
		// wrote may no longer fit. Start over from the table as it is now.
		replans++
		if replans > MaxReplans {
			return st, fmt.Errorf("table %s: gave up after %d commit conflicts with concurrent writers (last: %w); run again later", name, replans-1, rp.cause)
		}
		opt.Log.Info("commit conflict: re-planning from the current table", "table", name, "attempt", replans, "cause", rp.cause.Error())
		if tbl, err = catalog.LoadTable(ctx, cat, ident); err != nil {
			return st, err
		}
		if err := backoff(ctx, replans); err != nil {
			return st, err
		}
	}
}

// applyPending applies the files of tf after tbl's checkpoint, batch by
// batch.
func applyPending(ctx context.Context, tbl *table.Table, runID string, b batchRun, tf reader.TableFiles) error {
	cp, err := catalog.CheckpointOf(tbl)
	if err != nil {
		return err
	}
	b.st.Checkpoint = cp
	pending, horizon, err := reader.Pending(tf, cp)
	if err != nil {
		return err
	}
	if err := fault.Point(fault.AfterList); err != nil {
		return err
	}
	var total int64
	for _, f := range pending {
		total += f.Size
	}
	b.prog = &progress{fn: b.opt.Progress, p: Progress{Table: b.name, TotalFiles: len(pending), TotalBytes: total}}
	b.runID = runID
	b.st.PendingFiles = len(pending)
	batches := Batches(pending, b.opt.BatchBytes, b.opt.BatchFiles)
	if len(pending) > 0 && (cp.AppliedRowGroups(pending[0]) > 0 || cp.AppliedRecords(pending[0]) > 0) && len(batches[0]) > 1 {
		// The file an interrupted run was applying in parts goes on alone,
		// from its next row group or record, whatever the batch settings
		// are now.
		batches = append([][]reader.File{pending[:1]}, Batches(pending[1:], b.opt.BatchBytes, b.opt.BatchFiles)...)
	}
	for _, batch := range batches {
		var stopped bool
		tbl, cp, stopped, err = b.applyBatch(ctx, tbl, cp, batch, horizon)
		if err != nil || stopped {
			return err
		}
		b.st.PendingFiles -= len(batch)
	}
	return nil
}

// applyBatch applies one batch, in parts when it is one file larger than
// the batch budget, one commit per part. stopped says StopAfter ended it
// before its first or between two of its parts.
func (b *batchRun) applyBatch(ctx context.Context, tbl *table.Table, cp reader.Checkpoint, batch []reader.File, horizon reader.Horizon) (_ *table.Table, _ reader.Checkpoint, stopped bool, err error) {
	parts, err := b.parts(ctx, tbl, batch, cp)
	if err != nil {
		return tbl, cp, false, err
	}
	defer func() {
		for _, p := range parts {
			if p != nil && p.csv != nil {
				p.csv.Close()
			}
		}
	}()
	for i := 0; i < len(parts); i++ {
		if err := ctx.Err(); err != nil {
			return tbl, cp, false, err
		}
		if !b.opt.StopAfter.IsZero() && time.Now().After(b.opt.StopAfter) {
			b.st.Stopped = true
			return tbl, cp, true, nil
		}
		part := parts[i]
		b.part = part
		tbl, cp, err = b.apply(ctx, tbl, cp, batch, horizon)
		b.part = nil
		if err != nil {
			return tbl, cp, false, err
		}
		b.prog.report("commit", 0, 0)
		b.st.Checkpoint = cp
		if part != nil && part.csv != nil && cp.AppliedRecords(batch[0]) > 0 {
			// The CSV file is still in progress (its last part moves the
			// checkpoint past it, and so does quarantining it): its next
			// part is read on from the same stream.
			parts = append(parts, part)
		}
	}
	return tbl, cp, false, nil
}

// filePart is the part of a file too large for one batch that one commit
// applies: some of its row groups (Parquet) or records (CSV).
type filePart struct {
	rows reader.RowGroups
	// csv is the open CSV file, whose parts are found while it is read:
	// each part decodes the records after the previous one's.
	csv *reader.CSVParts
	// digests gives the digest of a CSV file read whole in one part.
	digests *reader.DigestSource
	// from and records are how many records of the CSV file are applied
	// before and after this part (set when the part is read).
	from, records int64
	last          bool // the file's last part: its commit moves the checkpoint past the file
}

// checkpoint is cp once the part is applied, when it is not the file's
// last: how far into file f the table is.
func (p *filePart) checkpoint(cp reader.Checkpoint, f reader.File) reader.Checkpoint {
	if p.csv != nil {
		return cp.InPartRecords(f, p.records)
	}
	return cp.InPart(f, p.rows.To)
}

// first reports whether the part starts at the file's first row.
func (p *filePart) first() bool {
	if p.csv != nil {
		return p.from == 0
	}
	return p.rows.From == 0
}

// readCSV reads the CSV file's next part: the records that follow the
// previous part, within budget bytes of the file.
func (p *filePart) readCSV(ctx context.Context, budget int64) (*reader.Decoded, error) {
	d, err := p.csv.Next(ctx, budget)
	if err != nil {
		return nil, err
	}
	p.from, p.records, p.last = d.FirstRow, d.FirstRow+d.Record.NumRows(), p.csv.Done()
	if d.Digest == "" && p.from == 0 {
		// Read whole in one part: the file's digest, as for any file
		// (a first part that is not the whole file has a digest of its
		// records, and later parts none: see reader.CSVParts.Next).
		d.Digest, _ = p.digests.Digest(d.File.Path)
	}
	return d, nil
}

// csvPart opens the one CSV file of a batch to be read in parts of
// records within the batch budget, after the records an interrupted run
// applied already. Any CSV file alone in its batch is read so (one that
// fits is one part): the size of a gzip file says little about its
// records. A file that cannot be opened is read whole, which reports the
// problem (or quarantines the file).
func (b *batchRun) csvPart(ctx context.Context, tbl *table.Table, f reader.File, cp reader.Checkpoint) ([]*filePart, error) {
	done := cp.AppliedRecords(f)
	schema, err := b.csvSchema(tbl)
	if err != nil && done == 0 {
		return []*filePart{nil}, nil
	}
	digests := reader.NewDigestSource(b.src)
	var p *reader.CSVParts
	var skipped int64
	if err == nil {
		p, err = reader.OpenCSVParts(ctx, digests, f, schema, f.Kind == reader.CDC, b.opt.CSV, b.opt.Mem)
	}
	if err == nil && done > 0 {
		skipped, err = p.Skip(ctx, done)
	}
	if done > 0 && (err != nil || skipped < done || p.Done()) {
		if p != nil {
			p.Close()
		}
		// Reading it whole would apply its first records twice.
		msg := fmt.Sprintf("the checkpoint says %d of its records are applied, but the file now has %d; it changed while it was being applied", done, skipped)
		if err != nil {
			msg = fmt.Sprintf("the checkpoint says %d of its records are applied, but they cannot be read again (%v); it changed while it was being applied", done, err)
		}
		return nil, fmt.Errorf("table %s: %w", b.name, &reader.FileError{Path: f.Path, Row: -1, Msg: msg,
			Hint: "DMS never rewrites a file: restore the original"})
	}
	if err != nil {
		return []*filePart{nil}, nil
	}
	return []*filePart{{csv: p, digests: digests}}, nil
}

// parts splits a batch that is one file larger than the batch budget into
// parts within the budget (starting after the row groups or records an
// interrupted run applied already), so that memory is bounded by the
// budget rather than by the file. Any other batch is one part, nil: whole
// files. Only a Parquet file's footer is read here; a CSV file is opened
// and its parts found while it is read (see csvPart).
func (b *batchRun) parts(ctx context.Context, tbl *table.Table, batch []reader.File, cp reader.Checkpoint) ([]*filePart, error) {
	whole := []*filePart{nil}
	if len(batch) == 1 && batch[0].Format == reader.CSV {
		return b.csvPart(ctx, tbl, batch[0], cp)
	}
	if len(batch) != 1 || batch[0].Format != reader.Parquet {
		return whole, nil
	}
	f := batch[0]
	done := cp.AppliedRowGroups(f)
	if f.Size <= b.opt.BatchBytes && done == 0 {
		return whole, nil
	}
	sizes, err := reader.RowGroupSizes(ctx, b.src, f)
	if done > 0 && (err != nil || done >= len(sizes)) {
		// Reading it whole would apply its first row groups twice.
		return nil, fmt.Errorf("table %s: %w", b.name, &reader.FileError{Path: f.Path, Row: -1,
			Msg:  fmt.Sprintf("the checkpoint says %d of its row groups are applied, but the file now has %d (or cannot be read: %v); it changed while it was being applied", done, len(sizes), err),
			Hint: "DMS never rewrites a file: restore the original"})
	}
	if err != nil || len(sizes) <= 1 {
		// Reading the whole file reports the problem, if any.
		return whole, nil
	}
	var out []*filePart
	var size int64
	for i := done; i < len(sizes); i++ {
		if n := len(out); n > 0 && size+sizes[i] <= b.opt.BatchBytes {
			out[n-1].rows.To = i + 1
			size += sizes[i]
			continue
		}
		out = append(out, &filePart{rows: reader.RowGroups{From: i, To: i + 1}})
		size = sizes[i]
	}
	out[len(out)-1].last = true
	if len(out) == 1 && done == 0 {
		return whole, nil
	}
	return out, nil
}

func resolveKey(name string, tbl *table.Table, given []string) ([]string, error) {
	if tbl != nil {
		if have := identifierNames(tbl); len(have) > 0 {
			if len(given) > 0 && !sameNames(have, given) {
				return nil, &KeyError{name, fmt.Sprintf("the table's identifier fields are (%s) but the key given is (%s); a table's key cannot change: fix the --key setting",
					strings.Join(have, ","), strings.Join(given, ","))}
			}
			return have, nil
		}
	}
	seen := map[string]bool{}
	for _, k := range given {
		l := strings.ToLower(k)
		if k == "" || seen[l] {
			return nil, &KeyError{name, fmt.Sprintf("the key (%s) names a column twice or has an empty name", strings.Join(given, ","))}
		}
		seen[l] = true
	}
	if len(given) == 0 {
		return nil, &KeyError{name, fmt.Sprintf("no key columns are known; give them with --key %s=<col>[,<col>...] or under tables.%s.key in the config file", name, name)}
	}
	return given, nil
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Batches splits files (in stream order) into batches bounded by bytes and
// count. Order is kept; every file lands in exactly one batch.
func Batches(files []reader.File, maxBytes int64, maxFiles int) [][]reader.File {
	var out [][]reader.File
	var cur []reader.File
	var size int64
	for _, f := range files {
		if len(cur) > 0 && (size+f.Size > maxBytes || len(cur) >= maxFiles) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += f.Size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// progress serialises Progress reports from the reading goroutines.
type progress struct {
	mu sync.Mutex
	fn func(Progress)
	p  Progress
}

func (p *progress) report(step string, files int, bytes int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.Step = step
	p.p.Files += files
	p.p.Bytes += bytes
	p.fn(p.p)
}

type batchRun struct {
	// skipped are the files of the current batch quarantined so far.
	skipped []Skipped
	// part is the part of the batch's one file the batch applies; nil:
	// the batch applies its files whole.
	part   *filePart
	prog   *progress
	runID  string
	name   string
	source string // the DMS table, schema.table
	ident  table.Identifier
	cat    icecat.Catalog
	src    reader.Source
	key    []string
	opt    *Options
	st     *Stats
	// createProps are table properties chosen from the data for a table
	// this batch creates (newTableProperties); TableProperties win.
	createProps map[string]string
	// early is the dedupe scan run while the batch is read (earlyScan).
	early *earlyScan
}

// apply runs one batch to its commit.
func (b *batchRun) apply(ctx context.Context, tbl *table.Table, cp reader.Checkpoint, files []reader.File, horizon reader.Horizon) (*table.Table, reader.Checkpoint, error) {
	if tbl != nil {
		// The plan assumes the table is at cp. After a commit whose reply was
		// lost, a concurrent writer may have moved it on: start over then,
		// or this batch could apply files a second time.
		now, err := catalog.CheckpointOf(tbl)
		if err != nil {
			return nil, cp, err
		}
		if now.Encode() != cp.Encode() {
			return nil, cp, &replanError{fmt.Errorf("the table's checkpoint moved from %s to %s", cp.CDCLast, now.CDCLast)}
		}
	}
	t0 := time.Now()
	decoded, err := b.read(ctx, tbl, files)
	// The early scan reads the decoded records: nothing below may drop or
	// release one before it is done (it lags the read by a file or two).
	b.early.wait()
	defer func() {
		for _, d := range decoded {
			if d != nil {
				d.Release()
			}
		}
	}()
	if err != nil {
		return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
	}
	if err := fault.Point(fault.AfterRead); err != nil {
		return nil, cp, err
	}
	if decoded, err = b.duplicates(cp, decoded); err != nil {
		return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
	}
	if b.opt.OnBadFile == Quarantine {
		decoded = b.screen(tbl, decoded)
		if len(decoded) == 0 {
			return b.commitSkipsOnly(ctx, tbl, cp, files, horizon)
		}
	}
	applied := digestsOf(decoded)
	if b.part != nil && !b.part.first() {
		// A file applied in parts is remembered by its first part only (a
		// copy split the same way is caught there, before any of it is
		// applied), so that one large file cannot push every other file
		// out of the checkpoint's recent files.
		applied = nil
	}
	documents := isDocuments(decoded) // their _id is checked when the documents are read
	for _, d := range decoded {
		b.st.Rows += d.Record.NumRows()
		for _, k := range b.key {
			if documents {
				break
			}
			if reader.ColumnIndex(d.Record.Schema(), k) < 0 {
				return nil, cp, fmt.Errorf("table %s: %w", b.name, &reader.FileError{Path: d.File.Path, Row: -1, Column: k, Msg: "the key column is missing",
					Hint: "DMS writes every column into every file: check that the file belongs to this table and that --key is right"})
			}
		}
	}
	if !documents {
		// Every row is checked before anything is committed, the schema
		// change included: a bad row must leave the table as it was.
		if err := validateRows(decoded, b.key, b.opt.TimestampColumn); err != nil {
			return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
		}
	}
	t0 = b.st.phase("read", t0)
	var parts []dedupe.Part
	defer func() {
		for _, p := range parts {
			p.Record.Release()
		}
	}()
	if documents {
		tbl, parts, err = b.documentParts(ctx, tbl, decoded)
	} else {
		tbl, parts, err = b.tableParts(ctx, tbl, decoded)
	}
	if err != nil {
		return nil, cp, err
	}
	target, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return nil, cp, err
	}
	tsCol := b.opt.TimestampColumn
	if tsCol == "" {
		if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(DefaultTimestampColumn); ok {
			tsCol = DefaultTimestampColumn
		}
	}
	t0 = b.st.phase("schema", t0)
	res, err := b.early.result(ctx, parts, tsCol, b.opt.Mem)
	if res == nil && err == nil {
		res, err = dedupe.Latest(ctx, parts, dedupe.Options{Key: b.key, TimestampColumn: tsCol}, b.opt.Mem)
	}
	if err != nil {
		return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
	}
	defer res.Release()
	t0 = b.st.phase("dedupe", t0)
	mode, strategy := writeMode(tbl), deleteStrategy(tbl)
	early := b.startUpserts(ctx, tbl, mode, target, res)
	defer early.stop(ctx, b, tbl)
	var m *matches
	switch {
	case mode == MergeOnRead && strategy == DeleteEquality:
		m = planEquality(res)
	case mode == MergeOnRead:
		m, err = planMergeOnRead(ctx, tbl, b.key, res, b.opt.Mem)
	default:
		m, err = planCopyOnWrite(ctx, tbl, b.key, res)
	}
	if err != nil {
		return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
	}
	m.memory = b.opt.MemoryLimit
	t0 = b.st.phase("plan", t0)
	b.prog.report("write", 0, 0)
	var added []iceberg.DataFile
	if early != nil {
		added, err = early.wait()
		if err != nil {
			return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
		}
	} else if len(m.rewrites) > 0 || len(res.Upserts) > 0 {
		added, err = writer.DataFiles(ctx, tbl, target, rewrittenRows(ctx, tbl, m, res.Upserts, target, b.opt.Mem), b.opt.Writer)
		if err != nil {
			return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
		}
	}
	if err := fault.Point(fault.AfterDataFiles); err != nil {
		return nil, cp, err
	}
	var deletes, replaced []iceberg.DataFile
	switch {
	case mode != MergeOnRead:
	case strategy == DeleteEquality:
		deletes, err = writeEqualityDeletes(ctx, tbl, b.key, res, b.opt.Mem)
	case formatVersion(tbl) >= 3:
		deletes, replaced, err = writeDeletionVectors(ctx, tbl, m)
	default:
		deletes, err = writePositionDeletes(ctx, tbl, m.deletes, m.touched, b.opt.Mem)
	}
	if err != nil {
		return nil, cp, fmt.Errorf("table %s: %w", b.name, err)
	}
	if err := fault.Point(fault.AfterDeleteFiles); err != nil {
		return nil, cp, err
	}
	t0 = b.st.phase("write", t0)
	var removed []iceberg.DataFile
	for _, rw := range m.rewrites {
		removed = append(removed, rw.task.File)
	}
	inserted, updated, deleted := counts(res, m)
	next := cp.After(files, horizon).Remember(applied)
	if b.part != nil && !b.part.last {
		next = b.part.checkpoint(cp, files[0]).Remember(applied)
	}
	if err := fault.Point(fault.BeforeCommit); err != nil {
		return nil, cp, err
	}
	if err := ctx.Err(); err != nil {
		// Stopped (SIGTERM): abandon the batch rather than start a commit.
		b.discard(ctx, tbl, append(added, deletes...))
		return nil, cp, err
	}
	out, err := b.commit(ctx, tbl, catalog.Commit{Remove: removed, Add: added, Deletes: deletes, ReplacedDeletes: replaced, Checkpoint: next, Summary: map[string]string{
		"cdcmerge.files":    strconv.Itoa(len(files)),
		"cdcmerge.inserted": strconv.FormatInt(inserted, 10),
		"cdcmerge.updated":  strconv.FormatInt(updated, 10),
		"cdcmerge.deleted":  strconv.FormatInt(deleted, 10),
		SummaryRunID:        b.runID,
		SummarySkipped:      encodeSkipped(b.skipped),
	}})
	if err != nil {
		return nil, cp, err
	}
	b.st.phase("commit", t0)
	if err := fault.Point(fault.AfterCommit); err != nil {
		return nil, cp, err
	}
	if b.part == nil || b.part.last {
		b.st.Files += len(files)
	}
	b.st.Skipped += len(b.skipped)
	b.skipped = nil
	b.st.Inserted += inserted
	b.st.Updated += updated
	b.st.Deleted += deleted
	b.st.Commits++
	b.st.Rewritten += len(removed)
	b.st.Added += len(added)
	b.opt.Log.Debug("batch committed", "table", b.name, "files", len(files), "candidates", m.candidates, "indexed", m.indexed, "data_files", m.files,
		"rewritten", len(removed), "added", len(added), "checkpoint", next.CDCLast)
	return out, next, nil
}

// csvSchema is the column list of the table's CSV files: the table
// definition's, else the existing table's (without its field IDs).
func (b *batchRun) csvSchema(tbl *table.Table) (*arrow.Schema, error) {
	if b.opt.CSVSchema != nil {
		return b.opt.CSVSchema, nil
	}
	if tbl == nil {
		return nil, fmt.Errorf("table %s: DMS CSV files carry no column names or types, and the table does not exist yet: give a DMS external table definition with --table-definition", b.name)
	}
	return CSVColumns(tbl)
}

// CSVColumns is the column list of headerless CSV files written for an
// existing table: its columns in order, nullable, without field IDs.
func CSVColumns(tbl *table.Table) (*arrow.Schema, error) {
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(sc.Fields()))
	for i, f := range sc.Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// validateRows checks what dedupe relies on in every row of the batch:
// key columns that are neither null nor empty, and in CDC files a DMS
// timestamp that is set and has the DMS form (changes are ordered by it,
// so a value that does not sort like a time would make the result depend
// on how files are batched).
func validateRows(decoded []*reader.Decoded, key []string, tsCol string) error {
	if tsCol == "" {
		tsCol = DefaultTimestampColumn
	}
	for _, d := range decoded {
		sc := d.Record.Schema()
		for _, k := range key {
			i := reader.ColumnIndex(sc, k)
			if i < 0 {
				continue
			}
			err := firstBadRow(d, i, rowProblem{"key column is null", "every row must carry its key; check that --key names the table's primary key"},
				func(v string) rowProblem {
					if v == "" {
						return rowProblem{"key is an empty string", "an empty key cannot identify a row; check the source table and --key"}
					}
					return rowProblem{}
				})
			if err != nil {
				return err
			}
		}
		if d.File.Kind != reader.CDC {
			continue
		}
		i := reader.ColumnIndex(sc, tsCol)
		if i < 0 {
			continue
		}
		const hint = "changes are ordered by it; fix the file, or name the right column with --timestamp-column"
		err := firstBadRow(d, i, rowProblem{"the DMS timestamp is null", hint}, func(v string) rowProblem {
			if !dmsTimestamp(v) {
				return rowProblem{fmt.Sprintf("the DMS timestamp %q is not of the form yyyy-MM-dd HH:mm:ss[.ffffff]", v), hint}
			}
			return rowProblem{}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rowProblem is what is wrong with a row's value (msg empty: nothing) and
// what the user can do about it.
type rowProblem struct{ msg, hint string }

// firstBadRow reports the first row of column i of d that is null (null
// says why that is wrong) or whose string value bad rejects. A column kept
// as a dictionary (internal/dictcol) has each distinct value judged once.
func firstBadRow(d *reader.Decoded, i int, null rowProblem, bad func(string) rowProblem) error {
	col := d.Record.Column(i)
	var value func(r int) rowProblem
	switch c := col.(type) {
	case *array.String:
		value = func(r int) rowProblem { return bad(c.Value(r)) }
	case *array.Dictionary:
		if values, ok := c.Dictionary().(*array.String); ok {
			judged := make([]*rowProblem, values.Len())
			value = func(r int) rowProblem {
				k := c.GetValueIndex(r)
				if judged[k] == nil {
					p := bad(values.Value(k))
					judged[k] = &p
				}
				return *judged[k]
			}
		}
	}
	noNulls := col.NullN() == 0
	if noNulls && value == nil {
		return nil
	}
	for r := 0; r < col.Len(); r++ {
		var p rowProblem
		switch {
		case !noNulls && col.IsNull(r):
			p = null
		case value != nil:
			p = value(r)
		}
		if p.msg != "" {
			return &reader.FileError{Path: d.File.Path, Row: d.FirstRow + int64(r), Column: d.Record.Schema().Field(i).Name, Msg: p.msg, Hint: p.hint}
		}
	}
	return nil
}

// dmsTimestamp reports whether s looks like DMS's TimestampColumnName
// value, yyyy-MM-dd HH:mm:ss with an optional fraction, which sorts as a
// string exactly as it sorts as a time.
func dmsTimestamp(s string) bool {
	if len(s) < 19 || (len(s) > 19 && (s[19] != '.' || len(s) > 29)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != ' ' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		case 19:
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// tableParts evolves (or creates) the table for the batch's columns and
// conforms every decoded file to the table's schema.
func (b *batchRun) tableParts(ctx context.Context, tbl *table.Table, decoded []*reader.Decoded) (*table.Table, []dedupe.Part, error) {
	union, err := unionSchema(b.name, decoded)
	if err != nil {
		return nil, nil, err
	}
	fields := make([]arrow.Field, len(union))
	for i, u := range union {
		fields[i] = u.field
	}
	if tbl == nil {
		b.createProps = newTableProperties(decoded, b.opt.TableProperties)
	}
	if tbl, err = b.ensureTable(ctx, tbl, arrow.NewSchema(fields, nil)); err != nil {
		return nil, nil, err
	}
	tbl, err = evolveTable(ctx, tbl, union)
	if err != nil {
		return nil, nil, err
	}
	target, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return nil, nil, err
	}
	parts := make([]dedupe.Part, 0, len(decoded))
	for _, d := range decoded {
		rec, err := reader.Conform(d.Record, target, b.opt.Mem)
		if err != nil {
			releaseParts(parts)
			return nil, nil, &reader.FileError{Path: d.File.Path, Row: -1, Msg: "cannot convert to the table schema", Err: err}
		}
		parts = append(parts, dedupe.Part{Path: d.File.Path, Load: d.File.Kind == reader.Load, Record: rec, Ops: d.Ops})
		d.Release()
	}
	return tbl, parts, nil
}

func releaseParts(parts []dedupe.Part) {
	for _, p := range parts {
		p.Record.Release()
	}
}

// ensureTable creates the table from sc when it does not exist yet, with
// the key columns required and set as identifier fields.
func (b *batchRun) ensureTable(ctx context.Context, tbl *table.Table, sc *arrow.Schema) (*table.Table, error) {
	if tbl != nil {
		return tbl, nil
	}
	version := b.opt.FormatVersion
	if version == 0 {
		version = DefaultFormatVersion
	}
	props := iceberg.Properties{table.PropertyFormatVersion: strconv.Itoa(version)}
	if b.opt.WriteMode != "" {
		for k, v := range WriteModeProperties(b.opt.WriteMode) {
			props[k] = v
		}
	}
	if b.opt.DeleteStrategy == DeleteEquality {
		props[PropertyDeleteStrategy] = DeleteEquality
	}
	for k, v := range b.createProps {
		props[k] = v
	}
	for k, v := range b.opt.TableProperties {
		props[k] = v
	}
	tbl, err := createTable(ctx, b.cat, b.ident, sc, b.key, props, b.opt.Partition)
	if err != nil {
		return nil, err
	}
	b.st.Created = true
	// Another writer may have created it and committed already.
	if tbl.CurrentSnapshot() != nil {
		return nil, &replanError{errors.New("the table was created and written by a concurrent writer")}
	}
	return tbl, nil
}

// counts splits the winners into inserted, updated and deleted rows.
func counts(res *dedupe.Result, m *matches) (ins, upd, del int64) {
	var found, foundDel int64
	for k, f := range m.found {
		if !f {
			continue
		}
		found++
		if res.IsDelete(int32(k)) {
			foundDel++
		}
	}
	upd = found - foundDel
	ins = res.UpsertRows() - upd
	return ins, upd, foundDel
}

// read decodes files with two workers, keeping stream order.
func (b *batchRun) read(ctx context.Context, tbl *table.Table, files []reader.File) ([]*reader.Decoded, error) {
	var csvSchema *arrow.Schema
	for _, f := range files {
		if f.Format == reader.CSV {
			var err error
			if csvSchema, err = b.csvSchema(tbl); err != nil {
				return nil, err
			}
			break
		}
	}
	// The digests that find duplicate deliveries come from the reads the
	// decoders make anyway: no file is read twice.
	src := reader.NewDigestSource(b.src)
	out := make([]*reader.Decoded, len(files))
	errs := make([]error, len(files))
	ready := make([]chan struct{}, len(files))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	b.early = b.startEarlyScan(ctx, files, out, ready)
	parallel(len(files), 2, func() func(int) {
		return func(i int) {
			defer close(ready[i])
			switch f := files[i]; {
			case f.Format == reader.CSVChanges && b.opt.Shared == nil:
				errs[i] = fmt.Errorf("file %s is a shared CDC file of an S3 source but no reader for those was set up", f.Path)
			case f.Format == reader.CSVChanges:
				// Read once for every table by the shared reader, not
				// through src: the rows carry the digest of that read.
				out[i], errs[i] = b.opt.Shared.Rows(ctx, f, b.source)
			case f.Format == reader.CSV && b.part != nil:
				out[i], errs[i] = b.part.readCSV(ctx, b.opt.BatchBytes)
			case f.Format == reader.CSV:
				out[i], errs[i] = reader.ReadCSV(ctx, src, f, csvSchema, f.Kind == reader.CDC, b.opt.CSV, b.opt.Mem)
			default:
				var rows reader.RowGroups
				if b.part != nil {
					rows = b.part.rows
				}
				// Only the key is read plain: it is hashed and compared
				// row by row (see internal/dictcol).
				out[i], errs[i] = reader.ReadParquet(ctx, src, f, reader.ReadOptions{RowGroups: rows, Dictionaries: true, Plain: b.key}, b.opt.Mem)
			}
			if out[i] != nil && out[i].Digest == "" {
				// A reader that digests on its own (the shared CDC
				// reader, a CSV file's first part) has set it already.
				if dg, ok := src.Digest(files[i].Path); ok {
					out[i].Digest = dg
				}
			}
			if err := fault.Point(fault.MidRead); err != nil && errs[i] == nil {
				errs[i] = err
			}
			b.prog.report("read", 1, files[i].Size)
		}
	})
	for i, e := range errs {
		if e == nil {
			continue
		}
		var fe *reader.FileError
		if b.opt.OnBadFile == Quarantine && errors.As(e, &fe) && ctx.Err() == nil {
			b.quarantine(files[i], e)
			continue
		}
		// Report the first bad file in stream order: that is where the
		// user has to look.
		return out, e
	}
	return out, nil
}

// quarantine records that a file is skipped, and why.
func (b *batchRun) quarantine(f reader.File, reason error) {
	b.skipped = append(b.skipped, Skipped{Path: f.Path, Reason: reason.Error()})
	b.opt.Log.Warn("file quarantined: skipped, recorded in the snapshot summary", "table", b.name, "path", f.Path, "reason", reason.Error())
}

// screen drops (quarantines) the decoded files that could not be applied:
// a missing key column, a bad row, a column type the table cannot take.
func (b *batchRun) screen(tbl *table.Table, decoded []*reader.Decoded) []*reader.Decoded {
	var keep []*reader.Decoded
	for _, d := range decoded {
		if d == nil {
			continue
		}
		err := validateRows([]*reader.Decoded{d}, b.key, b.opt.TimestampColumn)
		for _, k := range b.key {
			if err == nil && reader.ColumnIndex(d.Record.Schema(), k) < 0 {
				err = &reader.FileError{Path: d.File.Path, Row: -1, Column: k, Msg: "the key column is missing"}
			}
		}
		if err == nil && tbl != nil {
			var union []unionField
			if union, err = unionSchema(b.name, []*reader.Decoded{d}); err == nil {
				_, _, err = planEvolution(tbl, union)
			}
		}
		if err != nil {
			b.quarantine(d.File, err)
			d.Release()
			continue
		}
		keep = append(keep, d)
	}
	return keep
}
