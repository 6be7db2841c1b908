package merge

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/dedupe"
	"github.com/cdcmerge/cdcmerge/internal/fault"
	"github.com/cdcmerge/cdcmerge/reader"
)

// isDocuments reports whether a batch is DocumentDB/MongoDB output: in
// document mode (every file has a _doc column) or in table mode
// (NestingLevel=one: an oid__id column, or flattened "a.b" columns).
func isDocuments(decoded []*reader.Decoded) bool {
	if len(decoded) == 0 {
		return false
	}
	for _, d := range decoded {
		if docMode(d) == reader.DocModeAuto {
			return false
		}
	}
	return true
}

// docMode is the DocumentDB output mode of a file, or DocModeAuto when the
// file is not DocumentDB output.
func docMode(d *reader.Decoded) reader.DocMode {
	if reader.IsDocumentFile(d) {
		return reader.DocModeDocument
	}
	for _, f := range d.Record.Schema().Fields() {
		if f.Name == "oid__id" || f.Name == "oid_id" {
			return reader.DocModeTable
		}
	}
	return reader.DocModeAuto
}

// documentParts turns document-mode files into parts in the table's
// schema: the documents' nested schema is inferred over the batch and
// merged into the table's (new fields added as nullable columns, at any
// depth; types widened where Iceberg allows; conflicting types land in a
// JSON-string sibling column, reported in the log), the table is created
// or evolved in one metadata commit, and each file's documents become a
// record of that schema. Delete rows carry only _id.
func (b *batchRun) documentParts(ctx context.Context, tbl *table.Table, decoded []*reader.Decoded) (*table.Table, []dedupe.Part, error) {
	batches := make([]*reader.DocBatch, len(decoded))
	for i, d := range decoded {
		db, err := reader.DocumentsOf(ctx, d, reader.DocReadOptions{Mode: docMode(d), TimestampColumn: b.opt.TimestampColumn, KeepFlat: b.opt.Documents.KeepFlat})
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: %w", b.name, err)
		}
		batches[i] = db
	}
	var merged *arrow.Schema
	var err error
	if tbl != nil {
		if merged, err = table.SchemaToArrowSchema(tbl.Schema(), nil, true, false); err != nil {
			return nil, nil, err
		}
	}
	for _, db := range batches {
		bs, err := db.Schema(reader.InferOptions{KeepRaw: b.opt.Documents.KeepRaw})
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: file %s: inferring the document schema: %w", b.name, db.File.Path, err)
		}
		if merged == nil {
			merged = bs
			continue
		}
		var fallbacks []string
		if merged, fallbacks, err = reader.MergeSchemaReport(merged, bs); err != nil {
			return nil, nil, fmt.Errorf("table %s: file %s: %w", b.name, db.File.Path, err)
		}
		if len(fallbacks) > 0 {
			b.opt.Log.Warn("document fields with conflicting types kept as JSON text", "table", b.name, "file", db.File.Path, "fields", strings.Join(fallbacks, ","))
		}
	}
	if tbl == nil {
		if tbl, err = b.ensureTable(ctx, nil, merged); err != nil {
			return nil, nil, err
		}
	} else if tbl, err = evolveNested(ctx, tbl, merged); err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", b.name, err)
	}
	target, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return nil, nil, err
	}
	parts := make([]dedupe.Part, 0, len(batches))
	for i, db := range batches {
		rec, err := db.Record(target, b.opt.Mem)
		if err != nil {
			releaseParts(parts)
			return nil, nil, fmt.Errorf("table %s: %w", b.name, err)
		}
		parts = append(parts, dedupe.Part{Path: db.File.Path, Load: db.File.Kind == reader.Load, Record: rec, Ops: db.Ops})
		decoded[i].Release()
	}
	return tbl, parts, nil
}

// evolveNested adds the fields of merged that the table lacks (those
// without a field ID, at any depth) and widens the types that changed,
// in one metadata commit.
func evolveNested(ctx context.Context, tbl *table.Table, merged *arrow.Schema) (*table.Table, error) {
	type add struct {
		path []string
		typ  iceberg.Type
		doc  string // kept: it marks JSON fallback columns
	}
	var adds []add
	var widen []add
	sc := tbl.Schema()
	var walk func(path []string, f arrow.Field) error
	walk = func(path []string, f arrow.Field) error {
		p := append(append([]string(nil), path...), f.Name)
		id := fieldID(f)
		if id < 0 {
			it, err := icebergTypeOf(f)
			if err != nil {
				return fmt.Errorf("column %s: %w", strings.Join(p, "."), err)
			}
			doc, _ := f.Metadata.GetValue("doc")
			adds = append(adds, add{p, it, doc})
			return nil
		}
		if tf, ok := sc.FindFieldByID(id); ok {
			if _, nested := tf.Type.(iceberg.NestedType); !nested {
				it, err := table.ArrowTypeToIceberg(f.Type, true)
				if err == nil && !it.Equals(tf.Type) && promotes(tf.Type, it) {
					widen = append(widen, add{p, it, ""})
				}
			}
		}
		switch t := f.Type.(type) {
		case *arrow.StructType:
			for _, c := range t.Fields() {
				if err := walk(p, c); err != nil {
					return err
				}
			}
		case *arrow.ListType:
			return walk(p, t.ElemField())
		case *arrow.MapType:
			if err := walk(p, t.KeyField()); err != nil {
				return err
			}
			return walk(p, t.ItemField())
		}
		return nil
	}
	for _, f := range merged.Fields() {
		if err := walk(nil, f); err != nil {
			return nil, err
		}
	}
	if len(adds) == 0 && len(widen) == 0 {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	up := tx.UpdateSchema(true, false)
	for _, a := range adds {
		up = up.AddColumn(a.path, a.typ, a.doc, false, nil)
	}
	for _, w := range widen {
		up = up.UpdateColumn(w.path, table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Val: w.typ, Valid: true}})
	}
	if err := up.Commit(); err != nil {
		return nil, fmt.Errorf("evolving the document schema: %w", err)
	}
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("committing the schema change: %w", err)
	}
	if err := fault.Point(fault.AfterSchemaCommit); err != nil {
		return nil, err
	}
	return out, nil
}

// icebergTypeOf converts one (possibly nested) Arrow field to an Iceberg
// type with provisional field IDs; AddColumn assigns the real ones.
func icebergTypeOf(f arrow.Field) (iceberg.Type, error) {
	sc, err := table.ArrowSchemaToIcebergWithFreshIDs(arrow.NewSchema([]arrow.Field{f}, nil), true)
	if err != nil {
		return nil, err
	}
	return sc.Field(0).Type, nil
}
