package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestQuarantine: with --on-bad-file quarantine, bad files are skipped and
// recorded (in the snapshot summary, listed by status) while the good files
// around them are applied; a batch made only of bad files still moves the
// checkpoint past them; nothing is applied twice on a rerun.
func TestQuarantine(t *testing.T) {
	orders := modelOf(t, genCfg, "shop.orders")
	cdcSchema := gen.CDCSchema(orders.schema)
	good := func(ts string, ids ...int) []byte {
		var rows [][]any
		for _, i := range ids {
			v := withTS(orders.load[i].Values, ts)
			rows = append(rows, append([]any{"U"}, v...))
		}
		return parquetBytes(t, cdcSchema, rows)
	}
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src, "--tables", "shop.orders")
	args := runArgs(src, wh, "--on-bad-file", "quarantine", "--batch-files", "2")
	mustCLI(t, args...)

	valid := good("2026-05-11 00:00:01.000000", 0, 1)
	writeFile(t, src, "shop/orders/20260511-000000000.parquet", valid[:len(valid)/2]) // truncated
	writeFile(t, src, "shop/orders/20260511-000001000.parquet", valid)                // good
	nullKey := [][]any{append([]any{"U"}, withTS(orders.load[2].Values, "2026-05-11 00:00:02.000000")...)}
	nullKey[0][2] = nil
	writeFile(t, src, "shop/orders/20260511-000002000.parquet", parquetBytes(t, cdcSchema, nullKey)) // null key
	writeFile(t, src, "shop/orders/20260511-000003000.parquet", []byte("not parquet"))               // a batch of bad files only

	out := mustCLI(t, args...)
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "4 files") {
		t.Fatalf("run: %q", l)
	}
	st := mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
	l := lineOf(st, "shop.orders: ")
	if !strings.Contains(l, "3 files quarantined") || !strings.Contains(l, "0 files pending") {
		t.Fatalf("status: %q", l)
	}
	if cp := stateOf(t, wh, "shop.orders").checkpoint; cp.CDCLast != "20260511-000003000.parquet" {
		t.Fatalf("checkpoint %+v, want past the last quarantined file", cp)
	}
	// The good file was applied: the model after the generated stream and it.
	rows := rowsOf(t, wh, "shop.orders", ordersKey)
	want := orders.replay(len(orders.cdc), append([]any{"U"}, withTS(orders.load[0].Values, "2026-05-11 00:00:01.000000")...),
		append([]any{"U"}, withTS(orders.load[1].Values, "2026-05-11 00:00:01.000000")...))
	if d := testutil.Diff(want, rows, 10); d != "" {
		t.Fatalf("table:\n%s", d)
	}
	if out := mustCLI(t, args...); !strings.Contains(lineOf(out, "shop.orders: "), "up to date") {
		t.Fatalf("rerun: %s", out)
	}
	if code, _, _ := cli(t, runArgs(src, wh, "--on-bad-file", "skip")...); code != 2 {
		t.Fatalf("--on-bad-file skip: exit %d, want 2", code)
	}
}
