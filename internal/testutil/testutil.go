// Package testutil holds helpers shared by the tests of several packages:
// reading an Iceberg table back into plain values, and rendering Arrow and
// Go values the same way so a model can be compared with a table.
package testutil

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/gen"
)

// Null is how a null cell is rendered.
const Null = "<null>"

// Cell renders row i of an Arrow column.
func Cell(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return Null
	}
	switch c := col.(type) {
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10)
	case *array.Float32:
		return strconv.FormatFloat(float64(c.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(c.Value(i), 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(c.Value(i))
	case *array.String:
		return "s:" + c.Value(i)
	case *array.Binary:
		return fmt.Sprintf("b:%x", c.Value(i))
	case *array.Decimal128:
		sc := c.DataType().(*arrow.Decimal128Type).Scale
		return fmt.Sprintf("d:%s/%d", c.Value(i).BigInt().String(), sc)
	case *array.Date32:
		return fmt.Sprintf("date:%d", c.Value(i))
	case *array.Time64:
		return fmt.Sprintf("time:%d", c.Value(i))
	case *array.Timestamp:
		return fmt.Sprintf("ts:%d", c.Value(i))
	}
	return fmt.Sprintf("?%s:%s", col.DataType(), col.ValueStr(i))
}

// Value renders a Go value as gen writes it, the way Cell renders the
// Arrow value it becomes in the table.
func Value(v any) string {
	switch x := v.(type) {
	case nil:
		return Null
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return fmt.Sprintf("d:%d/0", x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return "s:" + x
	case []byte:
		return fmt.Sprintf("b:%x", x)
	case gen.Decimal:
		u := x.Unscaled
		if u == nil {
			u = new(big.Int)
		}
		return fmt.Sprintf("d:%s/%d", u.String(), x.Scale)
	case gen.Date:
		return fmt.Sprintf("date:%d", int32(x))
	case gen.Time:
		return fmt.Sprintf("time:%d", int64(x))
	case gen.Timestamp:
		return fmt.Sprintf("ts:%d", int64(x))
	}
	return fmt.Sprintf("?%T:%v", v, v)
}

// Rows is a table read back: rendered key -> column name -> rendered value.
type Rows map[string]map[string]string

// ReadTable scans the table's current snapshot. key names the key columns;
// a key that appears twice is returned as an error (a merge engine must
// never leave duplicates).
func ReadTable(ctx context.Context, tbl *table.Table, key []string) (Rows, error) {
	out := Rows{}
	if tbl.CurrentSnapshot() == nil {
		return out, nil
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		return nil, err
	}
	for rec, err := range recs {
		if err != nil {
			return nil, err
		}
		sc := rec.Schema()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := map[string]string{}
			for c, f := range sc.Fields() {
				row[strings.ToLower(f.Name)] = Cell(rec.Column(c), i)
			}
			var kp []string
			for _, k := range key {
				kp = append(kp, row[strings.ToLower(k)])
			}
			k := strings.Join(kp, "|")
			if _, dup := out[k]; dup {
				rec.Release()
				return nil, fmt.Errorf("key %s appears more than once in the table", k)
			}
			out[k] = row
		}
		rec.Release()
	}
	return out, nil
}

// Diff describes the differences between want and got (empty if equal),
// at most limit lines.
func Diff(want, got Rows, limit int) string {
	var lines []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, okw := want[k]
		g, okg := got[k]
		switch {
		case !okg:
			lines = append(lines, fmt.Sprintf("key %s: missing from table, want %v", k, w))
		case !okw:
			lines = append(lines, fmt.Sprintf("key %s: in table but should not be: %v", k, g))
		default:
			for c, wv := range w {
				if g[c] != wv {
					lines = append(lines, fmt.Sprintf("key %s column %s: got %s want %s", k, c, g[c], wv))
				}
			}
		}
		if len(lines) >= limit {
			lines = append(lines, "...")
			break
		}
	}
	return strings.Join(lines, "\n")
}
