package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	icecat "github.com/apache/iceberg-go/catalog"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
)

// TestRunBadInput: a bad CDC file stops its table, which is left exactly as
// it was (snapshot and checkpoint), the error names the file (and the row and
// column where there is one), and the other table of the same source still
// applies its new file in the same run.
func TestRunBadInput(t *testing.T) {
	orders := modelOf(t, genCfg, "shop.orders")
	items := modelOf(t, genCfg, "shop.order_items")
	zz := modelOf(t, genCfg, "zz.orders")
	cdcSchema := gen.CDCSchema(orders.schema)

	// good CDC rows of shop.orders (Op first), re-dated after the stream.
	goodRows := func(n int) [][]any {
		var rows [][]any
		for i := 0; i < n; i++ {
			v := withTS(orders.load[i].Values, "2026-05-11 00:00:00.00000"+itoa(i))
			rows = append(rows, append([]any{"U"}, v...))
		}
		return rows
	}
	validFile := func(t *testing.T) []byte { return parquetBytes(t, cdcSchema, goodRows(4)) }

	const after = "20260511-000000000.parquet"    // sorts after every generated CDC file
	const before = "20260510-090000000.parquet"   // sorts before every generated CDC file
	const otherNew = "20260511-000000000.parquet" // the good new file of the other tables

	cases := []struct {
		name string
		file string // basename under shop/orders/
		data func(t *testing.T) []byte
		want []string // substrings of the error, besides the path
		late bool     // the file must look modified after the checkpoint's horizon
	}{
		{name: "empty", file: after, data: func(t *testing.T) []byte { return nil }, want: []string{"empty"}},
		{name: "truncated", file: after, data: func(t *testing.T) []byte {
			b := validFile(t)
			return b[:len(b)/2]
		}, want: []string{"Parquet"}},
		{name: "not-parquet", file: after, data: func(t *testing.T) []byte {
			return []byte("order_id,status\n1,paid\n2,shipped\n")
		}, want: []string{"Parquet"}},
		{name: "missing-key-column", file: after, data: func(t *testing.T) []byte {
			var fields []arrow.Field
			drop := -1
			for i, f := range cdcSchema.Fields() {
				if f.Name == "order_id" {
					drop = i
					continue
				}
				fields = append(fields, f)
			}
			var rows [][]any
			for _, r := range goodRows(3) {
				rows = append(rows, append(append([]any(nil), r[:drop]...), r[drop+1:]...))
			}
			return parquetBytes(t, arrow.NewSchema(fields, nil), rows)
		}, want: []string{`column "order_id"`}},
		{name: "null-key", file: after, data: func(t *testing.T) []byte {
			rows := goodRows(5)
			rows[3][2] = nil // Op, commit_ts, order_id
			return parquetBytes(t, cdcSchema, rows)
		}, want: []string{`row 3`, `column "order_id"`}},
		{name: "unknown-op", file: after, data: func(t *testing.T) []byte {
			rows := goodRows(4)
			rows[2][0] = "X"
			return parquetBytes(t, cdcSchema, rows)
		}, want: []string{`row 2`, `column "Op"`, `"X"`}},
		{name: "op-int32", file: after, data: func(t *testing.T) []byte {
			fields := append([]arrow.Field{{Name: "Op", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, orders.schema.Fields()...)
			var rows [][]any
			for _, r := range goodRows(3) {
				rows = append(rows, append([]any{int32(1)}, r[1:]...))
			}
			return parquetBytes(t, arrow.NewSchema(fields, nil), rows)
		}, want: []string{`column "Op"`, "int32"}},
		{name: "late-file", file: before, data: validFile, want: []string{"late"}, late: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			src := filepath.Join(root, "dms")
			wh := filepath.Join(root, "wh")
			// shop.order_items runs before shop.orders, zz.orders after it.
			genSource(t, src, "--tables", "shop.orders,shop.order_items,zz.orders")
			args := runArgs(src, wh, "--key", "zz.orders=order_id")
			mustCLI(t, args...)
			ordersBefore := stateOf(t, wh, "shop.orders")
			othersBefore := map[string]tableState{
				"shop.order_items": stateOf(t, wh, "shop.order_items"),
				"zz.orders":        stateOf(t, wh, "zz.orders"),
			}
			if ordersBefore.snapshot == 0 || ordersBefore.checkpoint.IsZero() {
				t.Fatalf("the good run left no snapshot or checkpoint: %+v", ordersBefore)
			}

			rel := "shop/orders/" + tc.file
			p := writeFile(t, src, rel, tc.data(t))
			if tc.late {
				if tc.file >= ordersBefore.checkpoint.CDCLast {
					t.Fatalf("late file %s does not sort before the checkpoint %s", tc.file, ordersBefore.checkpoint.CDCLast)
				}
				// It was written after the run; make sure the file system's
				// time resolution cannot hide that.
				if fi, err := os.Stat(p); err != nil {
					t.Fatal(err)
				} else if h := ordersBefore.checkpoint.Horizon; !fi.ModTime().After(h) {
					mt := h.Add(time.Second)
					if err := os.Chtimes(p, mt, mt); err != nil {
						t.Fatal(err)
					}
				}
			}
			// A good new file for each other table.
			itemRow := withTS(items.load[0].Values, "2026-05-11 00:00:00.000000")
			itemRow[3] = "SKU-BY-TEST" // sku
			writeFile(t, src, "shop/order_items/"+otherNew, parquetBytes(t, gen.CDCSchema(items.schema), [][]any{append([]any{"U"}, itemRow...)}))
			zzRow := withTS(zz.load[0].Values, "2026-05-11 00:00:00.000000")
			zzRow[3] = "STATUS-BY-TEST" // status
			writeFile(t, src, "zz/orders/"+otherNew, parquetBytes(t, gen.CDCSchema(zz.schema), [][]any{append([]any{"U"}, zzRow...)}))

			code, out, errs := cli(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			line := lineOf(out, "shop.orders: ")
			if !strings.Contains(line, "FAILED") || !strings.Contains(line, "file "+rel) {
				t.Errorf("summary of shop.orders = %q, want FAILED naming file %s", line, rel)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("summary of shop.orders = %q, want it to contain %q", line, w)
				}
			}
			if !strings.Contains(errs, rel) {
				t.Errorf("the log does not name %s:\n%s", rel, errs)
			}

			if got := stateOf(t, wh, "shop.orders"); !got.equal(ordersBefore) {
				t.Errorf("shop.orders moved: before %+v, after %+v", ordersBefore, got)
			}

			// The other tables carried on, before and after the failed one.
			for name, before := range othersBefore {
				if l := lineOf(out, name+": "); !strings.Contains(l, "1 files") || strings.Contains(l, "FAILED") {
					t.Errorf("summary of %s = %q, want 1 file applied", name, l)
				}
				after := stateOf(t, wh, name)
				if after.snapshot == before.snapshot || after.checkpoint.CDCLast != otherNew {
					t.Errorf("%s was not applied: before %+v, after %+v", name, before, after)
				}
			}
			rows := rowsOf(t, wh, "shop.order_items", itemsKey)
			if got := rows[items.keyOf(itemRow)]["sku"]; got != "s:SKU-BY-TEST" {
				t.Errorf("shop.order_items key %s sku = %s, want s:SKU-BY-TEST", items.keyOf(itemRow), got)
			}
			rows = rowsOf(t, wh, "zz.orders", ordersKey)
			if got := rows[zz.keyOf(zzRow)]["status"]; got != "s:STATUS-BY-TEST" {
				t.Errorf("zz.orders key %s status = %s, want s:STATUS-BY-TEST", zz.keyOf(zzRow), got)
			}

			// status reports the problem of the late file too.
			if tc.late {
				out := mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
				if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "PROBLEM") || !strings.Contains(l, rel) {
					t.Errorf("status of shop.orders = %q, want a PROBLEM naming %s", l, rel)
				}
			}

			// A rerun fails the same way and still changes nothing.
			code, out, _ = cli(t, args...)
			if code != 1 || !strings.Contains(lineOf(out, "shop.orders: "), rel) {
				t.Errorf("rerun: exit %d, stdout:\n%s", code, out)
			}
			if got := stateOf(t, wh, "shop.orders"); !got.equal(ordersBefore) {
				t.Errorf("shop.orders moved on the rerun: before %+v, after %+v", ordersBefore, got)
			}
		})
	}
}

// TestRunNoKey: a new table with no key fails with a message that says how
// to give one, nothing is created for it, and the other table is loaded.
func TestRunNoKey(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src)
	code, out, errs := cli(t, "run", "--source", src, "--warehouse", wh, "--log-level", "warn", "--key", "shop.order_items=order_id,line_no")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "FAILED") || !strings.Contains(l, "--key shop.orders=") {
		t.Errorf("summary of shop.orders = %q, want FAILED with a --key hint", l)
	}
	if l := lineOf(out, "shop.order_items: "); !strings.Contains(l, "5 files") {
		t.Errorf("summary of shop.order_items = %q, want 5 files applied", l)
	}
	if tbl := loadTable(t, wh, "shop.orders"); tbl != nil {
		t.Errorf("shop.orders was created (at %s) although it has no key", tbl.MetadataLocation())
	}
	// Through the catalog API too: no such table.
	cat, err := catalog.Open(t.Context(), catalog.Config{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.LoadTable(t.Context(), []string{"shop", "orders"}); !errors.Is(err, icecat.ErrNoSuchTable) {
		t.Errorf("LoadTable(shop.orders) error = %v, want ErrNoSuchTable", err)
	}
	if st := stateOf(t, wh, "shop.order_items"); st.snapshot == 0 || st.checkpoint.CDCLast == "" {
		t.Errorf("shop.order_items not loaded: %+v", st)
	}
}
