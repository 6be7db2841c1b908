package merge

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/dedupe"
)

// PartitionField is one field of a table's partition spec as the config
// writes it: a transform of a source column, such as day(updated_at),
// bucket(16, order_id), truncate(4, name) or a bare column (identity).
type PartitionField struct {
	Column    string
	Transform string // identity, year, month, day, hour, bucket or truncate
	N         int    // bucket count or truncate width
}

func (p PartitionField) String() string {
	switch p.Transform {
	case "identity":
		return p.Column
	case "bucket", "truncate":
		return fmt.Sprintf("%s(%d, %s)", p.Transform, p.N, p.Column)
	}
	return fmt.Sprintf("%s(%s)", p.Transform, p.Column)
}

// ParsePartitionField parses one partition field: col, year(col),
// month(col), day(col), hour(col), bucket(N, col) or truncate(W, col).
func ParsePartitionField(s string) (PartitionField, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if s == "" || strings.ContainsAny(s, "), ") {
			return PartitionField{}, fmt.Errorf("partition field %q: want a column or a transform such as day(col), bucket(16, col), truncate(4, col)", s)
		}
		return PartitionField{Column: s, Transform: "identity"}, nil
	}
	if !strings.HasSuffix(s, ")") {
		return PartitionField{}, fmt.Errorf("partition field %q: missing closing parenthesis", s)
	}
	name := strings.ToLower(strings.TrimSpace(s[:open]))
	args := strings.Split(s[open+1:len(s)-1], ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	switch name {
	case "identity", "year", "month", "day", "hour":
		if len(args) != 1 || args[0] == "" {
			return PartitionField{}, fmt.Errorf("partition field %q: %s takes one column, as in %s(col)", s, name, name)
		}
		return PartitionField{Column: args[0], Transform: name}, nil
	case "bucket", "truncate":
		if len(args) != 2 || args[1] == "" {
			return PartitionField{}, fmt.Errorf("partition field %q: %s takes a number and a column, as in %s(16, col)", s, name, name)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 {
			return PartitionField{}, fmt.Errorf("partition field %q: %s needs a positive number first, as in %s(16, col)", s, name, name)
		}
		return PartitionField{Column: args[1], Transform: name, N: n}, nil
	}
	return PartitionField{}, fmt.Errorf("partition field %q: unknown transform %q; use identity (a bare column), year, month, day, hour, bucket or truncate", s, name)
}

// ParsePartition parses a comma-separated partition spec such as
// "day(updated_at),bucket(16,id)" (commas inside parentheses belong to the
// transform).
func ParsePartition(s string) ([]PartitionField, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []PartitionField
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		f, err := ParsePartitionField(s[start:i])
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		start = i + 1
	}
	return out, nil
}

func (p PartitionField) transform() iceberg.Transform {
	switch p.Transform {
	case "year":
		return iceberg.YearTransform{}
	case "month":
		return iceberg.MonthTransform{}
	case "day":
		return iceberg.DayTransform{}
	case "hour":
		return iceberg.HourTransform{}
	case "bucket":
		return iceberg.BucketTransform{NumBuckets: p.N}
	case "truncate":
		return iceberg.TruncateTransform{Width: p.N}
	}
	return iceberg.IdentityTransform{}
}

// partitionName is the partition field's name, as Spark and PyIceberg name
// them: the column for identity, else column_transform.
func (p PartitionField) partitionName(col string) string {
	switch p.Transform {
	case "identity":
		return col
	case "truncate":
		return col + "_trunc"
	}
	return col + "_" + p.Transform
}

// partitionSpec builds the Iceberg partition spec of fields on schema sc,
// or an error naming the table, the field and what is wrong with it.
func partitionSpec(tableName string, sc *iceberg.Schema, fields []PartitionField) (iceberg.PartitionSpec, error) {
	var opts []iceberg.PartitionOption
	seen := map[string]bool{}
	for i, p := range fields {
		col, ok := sc.FindFieldByNameCaseInsensitive(p.Column)
		if !ok {
			names := make([]string, 0, len(sc.Fields()))
			for _, f := range sc.Fields() {
				names = append(names, f.Name)
			}
			return iceberg.PartitionSpec{}, fmt.Errorf("table %s: partition field %s: column %q is not in the table; columns are %s", tableName, p, p.Column, strings.Join(names, ", "))
		}
		tr := p.transform()
		if _, prim := col.Type.(iceberg.PrimitiveType); !prim || !tr.CanTransform(col.Type) {
			return iceberg.PartitionSpec{}, fmt.Errorf("table %s: partition field %s: %s cannot be applied to column %s of type %s (%s)", tableName, p, p.Transform, col.Name, col.Type, transformNeeds(p.Transform))
		}
		name := p.partitionName(col.Name)
		if seen[name] {
			return iceberg.PartitionSpec{}, fmt.Errorf("table %s: partition field %s is given twice", tableName, p)
		}
		seen[name] = true
		id := 1000 + i // the spec's first partition field ID
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(col.ID, name, tr, sc, &id))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return iceberg.PartitionSpec{}, fmt.Errorf("table %s: partition spec: %w", tableName, err)
	}
	return spec, nil
}

func transformNeeds(tr string) string {
	switch tr {
	case "year", "month", "day":
		return "it needs a date or timestamp column; DMS's commit_ts is a string: partition by a timestamp column of the source table instead"
	case "hour":
		return "it needs a timestamp column"
	case "bucket":
		return "it needs an int, long, decimal, date, time, timestamp, string, binary or uuid column"
	case "truncate":
		return "it needs an int, long, decimal, string or binary column"
	}
	return "it needs a primitive column"
}

// specString renders a table's partition spec in the config's syntax, for
// comparing it with the configured one and for messages.
func specString(tbl *table.Table) string {
	sc := tbl.Schema()
	spec := tbl.Spec()
	var parts []string
	for _, f := range spec.Fields() {
		col, _ := sc.FindColumnName(f.SourceID())
		p := PartitionField{Column: col, Transform: "identity"}
		switch t := f.Transform.(type) {
		case iceberg.YearTransform:
			p.Transform = "year"
		case iceberg.MonthTransform:
			p.Transform = "month"
		case iceberg.DayTransform:
			p.Transform = "day"
		case iceberg.HourTransform:
			p.Transform = "hour"
		case iceberg.BucketTransform:
			p.Transform, p.N = "bucket", t.NumBuckets
		case iceberg.TruncateTransform:
			p.Transform, p.N = "truncate", t.Width
		case iceberg.IdentityTransform:
		default:
			p.Transform = f.Transform.String()
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// configuredSpecString renders fields like specString, resolving column
// names against the table's case.
func configuredSpecString(tbl *table.Table, fields []PartitionField) string {
	var parts []string
	for _, p := range fields {
		if f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(p.Column); ok {
			p.Column = f.Name
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// partitionOf returns the spec and partition values a delete file for data
// file df must carry: the spec requires a position delete file to be in
// the partition of the data files it references.
func partitionOf(tbl *table.Table, df iceberg.DataFile) (iceberg.PartitionSpec, map[int]any) {
	if df == nil {
		return tbl.Spec(), map[int]any{}
	}
	spec := tbl.Metadata().PartitionSpecByID(int(df.SpecID()))
	if spec == nil {
		return tbl.Spec(), map[int]any{}
	}
	p := df.Partition()
	if p == nil {
		p = map[int]any{}
	}
	return *spec, p
}

// keyPartitionFilter returns a test of whether a data file may hold a key
// of res judged by its partition, or nil when no partition field is
// derived from a key column alone. A field such as bucket(16, id) or
// identity(id) on a key column puts every row of a key in one partition,
// whatever its other values, so a file of another partition cannot hold
// the key; fields on other columns (day(updated_at)) say nothing about
// where a key lives and are ignored. Only int, long and string key
// columns are decoded; others turn pruning off.
//
// tasks are the files the filter will be asked about: once the keys seen
// cover every partition those files are in (random keys into bucket(16,
// id) do after a few dozen keys), no file can be pruned and the rest of
// the keys are not transformed at all.
func keyPartitionFilter(tbl *table.Table, key []string, res *dedupe.Result, tasks []table.FileScanTask) func(iceberg.DataFile) bool {
	spec := tbl.Spec()
	sc := tbl.Schema()
	types := make([]iceberg.Type, len(key))
	pos := map[int]int{} // field ID -> position in key
	for j, k := range key {
		f, ok := sc.FindFieldByNameCaseInsensitive(k)
		if !ok {
			return nil
		}
		types[j], pos[f.ID] = f.Type, j
		switch f.Type.(type) {
		case iceberg.Int32Type, iceberg.Int64Type, iceberg.StringType:
		default:
			return nil
		}
	}
	type keyField struct {
		id, col int
		tr      iceberg.Transform
	}
	var fields []keyField
	for _, pf := range spec.Fields() {
		if j, ok := pos[pf.SourceID()]; ok {
			fields = append(fields, keyField{pf.FieldID, j, pf.Transform})
		}
	}
	if len(fields) == 0 || res.Keys.Len() == 0 {
		return nil
	}
	tuple := func(vals []any) string {
		var b strings.Builder
		for _, v := range vals {
			fmt.Fprint(&b, v)
			b.WriteByte(0)
		}
		return b.String()
	}
	specID := spec.ID()
	// fileTuple is a file's tuple of the key-derived partition values;
	// false when the file says nothing (another spec, a missing value).
	fileTuple := func(df iceberg.DataFile) (string, bool) {
		if int(df.SpecID()) != specID {
			return "", false
		}
		p := df.Partition()
		vals := make([]any, len(fields))
		for f, kf := range fields {
			v, ok := p[kf.id]
			if !ok || v == nil {
				return "", false
			}
			vals[f] = v
		}
		return tuple(vals), true
	}
	unseen := map[string]bool{} // partitions of tasks no key has reached yet
	for _, t := range tasks {
		if tp, ok := fileTuple(t.File); ok {
			unseen[tp] = true
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	want := map[string]bool{}
	lits := make([]iceberg.Literal, len(key))
	vals := make([]any, len(fields))
	for i := 0; i < res.Keys.Len(); i++ {
		if !decodeKey(res.Keys.Key(int32(i)), types, lits) {
			return nil
		}
		for f, kf := range fields {
			out := kf.tr.Apply(iceberg.Optional[iceberg.Literal]{Val: lits[kf.col], Valid: true})
			if !out.Valid {
				return nil
			}
			vals[f] = out.Val.Any()
		}
		tp := tuple(vals)
		want[tp] = true
		if unseen[tp] {
			if delete(unseen, tp); len(unseen) == 0 {
				return nil // every file's partition holds some key
			}
		}
	}
	return func(df iceberg.DataFile) bool {
		tp, ok := fileTuple(df)
		return !ok || want[tp]
	}
}

// decodeKey decodes a key encoded by package dedupe into literals of the
// key column types (int, long or string), reporting whether it could.
func decodeKey(b []byte, types []iceberg.Type, out []iceberg.Literal) bool {
	for j, t := range types {
		switch t.(type) {
		case iceberg.Int32Type, iceberg.Int64Type:
			if len(b) < 8 {
				return false
			}
			v := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
			b = b[8:]
			if _, ok := t.(iceberg.Int32Type); ok {
				out[j] = iceberg.NewLiteral(int32(v))
			} else {
				out[j] = iceberg.NewLiteral(v)
			}
		case iceberg.StringType:
			var s []byte
			for {
				if len(b) < 2 {
					return false
				}
				if b[0] != 0 {
					s, b = append(s, b[0]), b[1:]
					continue
				}
				if b[1] == 1 { // terminator
					b = b[2:]
					break
				}
				s, b = append(s, 0), b[2:] // escaped NUL
			}
			out[j] = iceberg.NewLiteral(string(s))
		default:
			return false
		}
	}
	return len(b) == 0
}
