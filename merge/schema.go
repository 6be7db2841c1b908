package merge

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/dictcol"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/reader"
)

// SchemaError is a column whose type in a file cannot be reconciled with
// the table.
type SchemaError struct {
	Table, Path, Column string
	Msg                 string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("table %s: file %s, column %q: %s", e.Table, e.Path, e.Column, e.Msg)
}

type unionField struct {
	field arrow.Field
	path  string // first file that has it, for messages
}

// unionSchema merges the schemas of the decoded files (by name,
// case-insensitively, in first-seen order), widening types where Iceberg
// allows it.
func unionSchema(tableName string, files []*reader.Decoded) ([]unionField, error) {
	var out []unionField
	idx := map[string]int{}
	for _, d := range files {
		for _, f := range d.Record.Schema().Fields() {
			k := strings.ToLower(f.Name)
			i, ok := idx[k]
			if !ok {
				idx[k] = len(out)
				out = append(out, unionField{field: arrow.Field{Name: f.Name, Type: dictcol.ValueType(f.Type), Nullable: true}, path: d.File.Path})
				continue
			}
			w, ok := widerArrow(out[i].field.Type, dictcol.ValueType(f.Type))
			if !ok {
				return nil, &SchemaError{Table: tableName, Path: d.File.Path, Column: f.Name, Msg: fmt.Sprintf(
					"type %s conflicts with type %s in %s; cdcmerge cannot convert between them without losing data: fix the source files or map the column to a new name",
					dictcol.ValueType(f.Type), out[i].field.Type, out[i].path)}
			}
			out[i].field.Type = w
		}
	}
	return out, nil
}

// widerArrow returns the type that holds both a and b without loss.
func widerArrow(a, b arrow.DataType) (arrow.DataType, bool) {
	if arrow.TypeEqual(a, b) {
		return a, true
	}
	ia, err1 := table.ArrowTypeToIceberg(a, true)
	ib, err2 := table.ArrowTypeToIceberg(b, true)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	w, ok := widerIceberg(ia, ib)
	if !ok {
		return nil, false
	}
	if w.Equals(ia) {
		return a, true
	}
	if w.Equals(ib) {
		return b, true
	}
	t, err := table.TypeToArrowType(w, false, false)
	return t, err == nil
}

// widerIceberg returns the Iceberg type both promote to, per the spec's
// allowed promotions (int->long, float->double, decimal precision up).
func widerIceberg(a, b iceberg.Type) (iceberg.Type, bool) {
	if a.Equals(b) {
		return a, true
	}
	if promotes(a, b) {
		return b, true
	}
	if promotes(b, a) {
		return a, true
	}
	da, oka := a.(iceberg.DecimalType)
	db, okb := b.(iceberg.DecimalType)
	if oka && okb && da.Scale() == db.Scale() {
		p := max(da.Precision(), db.Precision())
		return iceberg.DecimalTypeOf(p, da.Scale()), true
	}
	return nil, false
}

// promotes reports whether from can be promoted to to in place.
func promotes(from, to iceberg.Type) bool {
	switch from.(type) {
	case iceberg.Int32Type:
		_, ok := to.(iceberg.Int64Type)
		return ok
	case iceberg.Float32Type:
		_, ok := to.(iceberg.Float64Type)
		return ok
	case iceberg.DecimalType:
		f := from.(iceberg.DecimalType)
		t, ok := to.(iceberg.DecimalType)
		return ok && t.Scale() == f.Scale() && t.Precision() >= f.Precision()
	}
	return false
}

// createTable creates the table from an Arrow schema (nested types allowed;
// fresh field IDs), with the key columns required and set as identifier
// fields, partitioned by partition (none: unpartitioned).
func createTable(ctx context.Context, cat icecat.Catalog, ident table.Identifier, arrowSc *arrow.Schema, key []string, props iceberg.Properties, partition []PartitionField) (*table.Table, error) {
	sc, err := table.ArrowSchemaToIcebergWithFreshIDs(arrowSc, true)
	if err != nil {
		return nil, fmt.Errorf("table %s: deriving the Iceberg schema: %w", strings.Join(ident, "."), err)
	}
	nf := sc.Fields()
	var ids []int
	for _, k := range key {
		found := false
		for i := range nf {
			if strings.EqualFold(nf[i].Name, k) {
				nf[i].Required = true
				ids = append(ids, nf[i].ID)
				found = true
			}
		}
		if !found {
			names := make([]string, len(nf))
			for i, f := range nf {
				names[i] = f.Name
			}
			return nil, fmt.Errorf("table %s: key column %q is in no file of the table; columns are %s", strings.Join(ident, "."), k, strings.Join(names, ", "))
		}
	}
	sc = iceberg.NewSchemaWithIdentifiers(0, ids, nf...)
	if len(partition) == 0 {
		return catalog.CreateTable(ctx, cat, ident, sc, props)
	}
	spec, err := partitionSpec(strings.Join(ident, "."), sc, partition)
	if err != nil {
		return nil, err
	}
	return catalog.CreateTable(ctx, cat, ident, sc, props, icecat.WithPartitionSpec(&spec))
}

// evolveTable adds the batch's new columns (nullable) and widens column
// types, in one metadata commit made before any data that needs them.
func evolveTable(ctx context.Context, tbl *table.Table, union []unionField) (*table.Table, error) {
	adds, widen, err := planEvolution(tbl, union)
	if err != nil {
		return nil, err
	}
	return commitEvolution(ctx, tbl, adds, widen)
}

type columnChange struct {
	name string
	typ  iceberg.Type
}

// planEvolution says which columns the batch adds and which it widens, or
// which file and column cannot be reconciled with the table.
func planEvolution(tbl *table.Table, union []unionField) (adds, widen []columnChange, err error) {
	name := strings.Join(tbl.Identifier(), ".")
	sc := tbl.Schema()
	type add = columnChange
	for _, u := range union {
		it, err := table.ArrowTypeToIceberg(u.field.Type, true)
		if err != nil {
			return nil, nil, &SchemaError{Table: name, Path: u.path, Column: u.field.Name, Msg: err.Error()}
		}
		tf, ok := sc.FindFieldByNameCaseInsensitive(u.field.Name)
		if !ok {
			adds = append(adds, add{u.field.Name, it})
			continue
		}
		if tf.Type.Equals(it) || promotes(it, tf.Type) {
			continue
		}
		w, ok := widerIceberg(tf.Type, it)
		if !ok || !promotes(tf.Type, w) {
			return nil, nil, &SchemaError{Table: name, Path: u.path, Column: u.field.Name, Msg: fmt.Sprintf(
				"the file has type %s but the table column is %s, and Iceberg cannot change one into the other; the table is left as it was: fix the source, or drop and re-create the table",
				it, tf.Type)}
		}
		widen = append(widen, add{tf.Name, w})
	}
	return adds, widen, nil
}

// commitEvolution adds and widens columns in one metadata commit.
func commitEvolution(ctx context.Context, tbl *table.Table, adds, widen []columnChange) (*table.Table, error) {
	name := strings.Join(tbl.Identifier(), ".")
	if len(adds) == 0 && len(widen) == 0 {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	up := tx.UpdateSchema(true, false)
	for _, a := range adds {
		up = up.AddColumn([]string{a.name}, a.typ, "", false, nil)
	}
	for _, w := range widen {
		up = up.UpdateColumn([]string{w.name}, table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Val: w.typ, Valid: true}})
	}
	if err := up.Commit(); err != nil {
		return nil, fmt.Errorf("table %s: evolving the schema: %w", name, err)
	}
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %s: committing the schema change: %w", name, err)
	}
	if err := fault.Point(fault.AfterSchemaCommit); err != nil {
		return nil, err
	}
	return out, nil
}
