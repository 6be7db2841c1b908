package reader

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says which part of the DMS stream a file belongs to.
type Kind int

const (
	// Load is a full-load file, LOAD + 8 hex digits.
	Load Kind = iota
	// CDC is a change file named by time, yyyyMMdd-HHmmssSSS.
	CDC
)

func (k Kind) String() string {
	if k == Load {
		return "load"
	}
	return "cdc"
}

// Formats of DMS output files.
const (
	Parquet = "parquet"
	CSV     = "csv"
)

// File is one DMS output file of a table.
type File struct {
	Object
	Name   string // basename
	Kind   Kind
	Format string // Parquet or CSV
	// Number is the LOAD counter (Load files only).
	Number uint64
}

// TableFiles is every recognised file of one source table, in stream order.
type TableFiles struct {
	Schema string // DMS schema, the first path segment
	Table  string // DMS table, the second path segment
	Load   []File // by Number
	CDC    []File // by Name
}

// Ident is the default Iceberg identifier of the table: schema.table.
func (t TableFiles) Ident() string { return t.Schema + "." + t.Table }

// Dir is the table's folder relative to the source root.
func (t TableFiles) Dir() string { return t.Schema + "/" + t.Table }

// Ignored is a file Discover did not take, with the reason.
type Ignored struct {
	Path   string
	Reason string
}

var (
	loadName = regexp.MustCompile(`^LOAD([0-9A-F]{8})\.parquet$`)
	cdcName  = regexp.MustCompile(`^(\d{8}-\d{9})\.parquet$`)
)

// ParseName classifies a basename. ok is false for files DMS does not write
// as Parquet output.
func ParseName(name string) (kind Kind, number uint64, ok bool) {
	if m := loadName.FindStringSubmatch(name); m != nil {
		n, err := strconv.ParseUint(m[1], 16, 64)
		return Load, n, err == nil
	}
	if m := cdcName.FindStringSubmatch(name); m != nil {
		if _, err := time.Parse("20060102-150405000", m[1][:15]+"000"); err != nil {
			return 0, 0, false
		}
		return CDC, 0, true
	}
	return 0, 0, false
}

// ParseTargetName classifies a basename of DMS S3-target output in either
// format: LOAD + 8 hex digits or yyyyMMdd-HHmmssSSS, then .parquet, .csv or
// .csv.gz. The S3-source CSV styles (LOAD001.csv, CDC00001.csv,
// CDC_TXN-...) are not per-table target output and are not accepted here.
func ParseTargetName(name string) (kind Kind, number uint64, format string, ok bool) {
	if k, n, ok := ParseName(name); ok {
		return k, n, Parquet, true
	}
	if !csvTargetName.MatchString(name) {
		return 0, 0, "", false
	}
	k, n, ok := ParseCSVName(name)
	if !ok {
		return 0, 0, "", false
	}
	if k == Load {
		// The hex LOAD counter, as ParseName reads it.
		n, _ = strconv.ParseUint(name[4:12], 16, 64)
	}
	return k, n, CSV, true
}

var csvTargetName = regexp.MustCompile(`^(LOAD[0-9A-F]{8}|\d{8}-\d{9})\.csv(\.gz)?$`)

// MaxNameLength bounds schema and table names taken from paths (Glue's limit).
const MaxNameLength = 255

// ValidateName checks a schema or table name taken from an S3 path before it
// becomes part of an Iceberg identifier.
func ValidateName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s name", what)
	case name == "." || name == "..":
		return fmt.Errorf("%s name %q is a path element, not a name", what, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%s name %q contains \"..\"", what, name)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%s name %.40q... is %d bytes long; the limit is %d", what, name, len(name), MaxNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8", what, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '/' || r == '\\' || r == '.' || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%s name %q contains the character %q, which cannot be part of a table name", what, name, r)
		}
	}
	return nil
}

// Discover lists src and groups the DMS files by table. Files that are not
// DMS Parquet output, or that sit outside a <schema>/<table>/ folder, are
// returned as ignored; folders whose names are not valid identifiers are
// returned as ignored too, with the reason.
func Discover(ctx context.Context, src Source) ([]TableFiles, []Ignored, error) {
	objs, err := src.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	return Group(objs)
}

// Group is Discover over an already listed set of objects.
func Group(objs []Object) ([]TableFiles, []Ignored, error) {
	return group(objs, ParseTargetName)
}

// group is Group with the file name classifier parse.
func group(objs []Object, parse func(string) (Kind, uint64, string, bool)) ([]TableFiles, []Ignored, error) {
	tables := map[string]*TableFiles{}
	var ignored []Ignored
	for _, o := range objs {
		segs := strings.Split(o.Path, "/")
		if len(segs) < 3 {
			ignored = append(ignored, Ignored{o.Path, "not inside a <schema>/<table>/ folder"})
			continue
		}
		name := path.Base(o.Path)
		kind, num, format, ok := parse(name)
		if !ok {
			ignored = append(ignored, Ignored{o.Path, "name is neither LOAD########.parquet/.csv nor yyyyMMdd-HHmmssSSS.parquet/.csv"})
			continue
		}
		if kind == Load && len(segs) != 3 {
			ignored = append(ignored, Ignored{o.Path, "LOAD file below the table folder"})
			continue
		}
		if err := ValidateName("schema", segs[0]); err != nil {
			ignored = append(ignored, Ignored{o.Path, err.Error()})
			continue
		}
		if err := ValidateName("table", segs[1]); err != nil {
			ignored = append(ignored, Ignored{o.Path, err.Error()})
			continue
		}
		key := segs[0] + "/" + segs[1]
		t := tables[key]
		if t == nil {
			t = &TableFiles{Schema: segs[0], Table: segs[1]}
			tables[key] = t
		}
		f := File{Object: o, Name: name, Kind: kind, Number: num, Format: format}
		if kind == Load {
			t.Load = append(t.Load, f)
		} else {
			t.CDC = append(t.CDC, f)
		}
	}
	out := make([]TableFiles, 0, len(tables))
	for _, t := range tables {
		sort.SliceStable(t.Load, func(i, j int) bool { return t.Load[i].Number < t.Load[j].Number })
		sort.SliceStable(t.CDC, func(i, j int) bool { return CompareCDCNames(t.CDC[i].Name, t.CDC[j].Name) < 0 })
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir() < out[j].Dir() })
	return out, ignored, nil
}
