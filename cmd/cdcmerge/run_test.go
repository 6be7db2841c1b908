package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestRunHappyPath: gen, run, rerun (nothing to do), status, then one more
// CDC file that status sees pending and run applies.
func TestRunHappyPath(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src)

	orders := modelOf(t, genCfg, "shop.orders")
	items := modelOf(t, genCfg, "shop.order_items")
	if got := cdcNames(t, src, "shop/orders"); len(got) != len(orders.cdc) || len(got) != 4 {
		t.Fatalf("gen wrote CDC files %v, the model has %d files", got, len(orders.cdc))
	}

	// First run: both tables created and filled.
	out := mustCLI(t, runArgs(src, wh)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one summary line per table, got %d:\n%s", len(lines), out)
	}
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		l := lineOf(out, name+": ")
		if !strings.Contains(l, "5 files, 300 rows read") || !strings.Contains(l, "1 commits") {
			t.Errorf("summary of %s = %q, want 5 files, 300 rows read, 1 commits", name, l)
		}
	}
	ordersNames := cdcNames(t, src, "shop/orders")
	if l := lineOf(out, "shop.orders: "); !strings.HasSuffix(l, "(checkpoint "+ordersNames[3]+")") {
		t.Errorf("orders summary %q does not end with the last CDC file %s", l, ordersNames[3])
	}

	// The tables hold exactly the naive replay of the generated stream.
	if d := testutil.Diff(orders.replay(4), rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("shop.orders differs from the replay:\n%s", d)
	}
	if d := testutil.Diff(items.replay(4), rowsOf(t, wh, "shop.order_items", itemsKey), 10); d != "" {
		t.Fatalf("shop.order_items differs from the replay:\n%s", d)
	}
	st1 := stateOf(t, wh, "shop.orders")
	if st1.snapshot == 0 || st1.checkpoint.CDCLast != ordersNames[3] || st1.checkpoint.LoadLast != "LOAD00000001.parquet" {
		t.Fatalf("after the first run: %+v", st1)
	}
	items1 := stateOf(t, wh, "shop.order_items")

	// --output json, into a second warehouse.
	wh2 := filepath.Join(root, "wh-json")
	out = mustCLI(t, runArgs(src, wh2, "--output", "json")...)
	var js struct {
		Tables []struct {
			Table      string            `json:"table"`
			Files      int               `json:"files"`
			Rows       int64             `json:"rows_read"`
			Inserted   int64             `json:"inserted"`
			Commits    int               `json:"commits"`
			Error      string            `json:"error"`
			Checkpoint reader.Checkpoint `json:"checkpoint"`
		} `json:"tables"`
		Failed *int `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, out)
	}
	if js.Failed == nil || *js.Failed != 0 || len(js.Tables) != 2 {
		t.Fatalf("json output: failed=%v, %d tables:\n%s", js.Failed, len(js.Tables), out)
	}
	for _, tr := range js.Tables {
		if tr.Error != "" || tr.Files != 5 || tr.Rows != 300 || tr.Commits != 1 || tr.Inserted <= 0 || tr.Checkpoint.CDCLast == "" {
			t.Errorf("json table entry %+v", tr)
		}
	}

	// Second run: nothing new.
	out = mustCLI(t, runArgs(src, wh)...)
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		if l := lineOf(out, name+": "); !strings.Contains(l, "up to date") {
			t.Errorf("rerun of %s: %q, want up to date", name, l)
		}
	}
	if st := stateOf(t, wh, "shop.orders"); st.snapshot != st1.snapshot {
		t.Fatalf("rerun moved the snapshot of shop.orders from %d to %d", st1.snapshot, st.snapshot)
	}
	if st := stateOf(t, wh, "shop.order_items"); st.snapshot != items1.snapshot {
		t.Fatalf("rerun moved the snapshot of shop.order_items from %d to %d", items1.snapshot, st.snapshot)
	}

	// status: nothing pending.
	out = mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		l := lineOf(out, name+": ")
		if !strings.Contains(l, " 0 files pending") || strings.Contains(l, "PROBLEM") {
			t.Errorf("status of %s = %q, want 0 files pending", name, l)
		}
	}

	// One more CDC file for shop.orders: update, delete and insert, each
	// on a key chosen from the current state.
	want := orders.replay(4)
	var live []map[string]string
	for _, r := range orders.load {
		if row, ok := want[orders.keyOf(r.Values)]; ok {
			live = append(live, row)
			if len(live) == 2 {
				break
			}
		}
	}
	if len(live) < 2 {
		t.Fatal("fewer than two live LOAD keys")
	}
	var upd, del []any
	for _, r := range orders.load {
		switch orders.keyOf(r.Values) {
		case live[0]["order_id"]:
			upd = withTS(r.Values, "2026-05-11 00:00:00.000000")
			upd[3] = "returned-by-test" // status
		case live[1]["order_id"]:
			del = withTS(r.Values, "2026-05-11 00:00:00.000001")
		}
	}
	ins := withTS(orders.load[0].Values, "2026-05-11 00:00:00.000002")
	ins[1] = int64(1 << 30) // a new order_id
	extra := [][]any{append([]any{"U"}, upd...), append([]any{"D"}, del...), append([]any{"I"}, ins...)}
	const newName = "20260511-000000000.parquet"
	writeFile(t, src, "shop/orders/"+newName, parquetBytes(t, gen.CDCSchema(orders.schema), extra))

	out = mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, " 1 files pending") || !strings.Contains(l, newName) {
		t.Errorf("status of shop.orders = %q, want 1 file pending (%s)", l, newName)
	}
	if l := lineOf(out, "shop.order_items: "); !strings.Contains(l, " 0 files pending") {
		t.Errorf("status of shop.order_items = %q, want 0 files pending", l)
	}

	out = mustCLI(t, runArgs(src, wh)...)
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "1 files, 3 rows read, 1 inserted, 1 updated, 1 deleted, 1 commits") {
		t.Errorf("run of the new file: %q", l)
	}
	if l := lineOf(out, "shop.order_items: "); !strings.Contains(l, "up to date") {
		t.Errorf("shop.order_items: %q, want up to date", l)
	}
	st2 := stateOf(t, wh, "shop.orders")
	if st2.snapshot == st1.snapshot || st2.checkpoint.CDCLast != newName {
		t.Fatalf("after the new file: %+v (before %+v)", st2, st1)
	}
	if d := testutil.Diff(orders.replay(4, extra...), rowsOf(t, wh, "shop.orders", ordersKey), 10); d != "" {
		t.Fatalf("shop.orders after the new file:\n%s", d)
	}
	out = mustCLI(t, "status", "--source", src, "--warehouse", wh, "--log-level", "warn")
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, " 0 files pending") {
		t.Errorf("status after applying = %q, want 0 files pending", l)
	}
}
