package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/gen"
	"github.com/cdcmerge/cdcmerge/internal/testutil"
	"github.com/cdcmerge/cdcmerge/reader"
)

// Keys of the generated tables, as --key flags and as column lists.
var (
	ordersKey = []string{"order_id"}
	itemsKey  = []string{"order_id", "line_no"}
	keyFlagsA = []string{"--key", "shop.orders=order_id", "--key", "shop.order_items=order_id,line_no"}
)

// genCfg is the gen.Config that `gen --rows 200 --changes 100 --cdc-files 4`
// uses (the CLI's default seed is 1).
var genCfg = gen.Config{Rows: 200, Changes: 100, CDCFiles: 4, Seed: 1}

var genArgs = []string{"--rows", "200", "--changes", "100", "--cdc-files", "4"}

// cli runs realMain in-process and returns the exit code and the output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustCLI runs realMain and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, args...)
	if code != 0 {
		t.Fatalf("cdcmerge %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// genSource writes the standard small generated DMS output into dir.
func genSource(t *testing.T, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"gen", "--out", dir}, genArgs...)
	mustCLI(t, append(args, extra...)...)
}

// runArgs are the arguments of `run` over src into wh with the two keys.
func runArgs(src, wh string, extra ...string) []string {
	args := []string{"run", "--source", src, "--warehouse", wh, "--log-level", "warn"}
	args = append(args, keyFlagsA...)
	return append(args, extra...)
}

// loadTable opens the warehouse's catalog and loads name ("ns.table"); nil
// if the table does not exist.
func loadTable(t *testing.T, wh, name string) *table.Table {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := catalog.Ident(name)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := catalog.LoadTable(ctx, cat, ident)
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return tbl
}

// tableState is what must not move when a run fails: the current snapshot
// and the checkpoint.
type tableState struct {
	snapshot   int64 // 0 if none
	checkpoint reader.Checkpoint
}

// equal compares two states (the horizon as an instant).
func (s tableState) equal(o tableState) bool {
	a, b := s.checkpoint, o.checkpoint
	return s.snapshot == o.snapshot && a.Horizon.Equal(b.Horizon) &&
		a.Version == b.Version && a.LoadLast == b.LoadLast && a.LoadNumber == b.LoadNumber &&
		a.LoadFiles == b.LoadFiles && a.CDCLast == b.CDCLast && a.CDCFiles == b.CDCFiles
}

func stateOf(t *testing.T, wh, name string) tableState {
	t.Helper()
	tbl := loadTable(t, wh, name)
	if tbl == nil {
		t.Fatalf("table %s does not exist in %s", name, wh)
	}
	var s tableState
	if snap := tbl.CurrentSnapshot(); snap != nil {
		s.snapshot = snap.SnapshotID
	}
	cp, err := catalog.CheckpointOf(tbl)
	if err != nil {
		t.Fatal(err)
	}
	s.checkpoint = cp
	return s
}

// rowsOf reads the table's current rows.
func rowsOf(t *testing.T, wh, name string, key []string) testutil.Rows {
	t.Helper()
	tbl := loadTable(t, wh, name)
	if tbl == nil {
		t.Fatalf("table %s does not exist in %s", name, wh)
	}
	rows, err := testutil.ReadTable(context.Background(), tbl, key)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// tableModel is a generated table's rows as Go values and its schema.
type tableModel struct {
	load   []gen.Row
	cdc    [][]gen.Row
	schema *arrow.Schema
	key    []string
}

func modelOf(t *testing.T, cfg gen.Config, name string) tableModel {
	t.Helper()
	load, cdc, schema, key, err := gen.GenerateChanges(cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	return tableModel{load: load, cdc: cdc, schema: schema, key: key}
}

// keyOf renders the key of a row (values in schema order, no Op) the way
// testutil.ReadTable does.
func (m tableModel) keyOf(values []any) string {
	var kp []string
	for _, k := range m.key {
		i := m.schema.FieldIndices(k)[0]
		kp = append(kp, testutil.Value(values[i]))
	}
	return strings.Join(kp, "|")
}

// apply applies one change naively to state.
func (m tableModel) apply(state testutil.Rows, op string, values []any) {
	k := m.keyOf(values)
	if op == "D" {
		delete(state, k)
		return
	}
	row := map[string]string{}
	for i, f := range m.schema.Fields() {
		row[strings.ToLower(f.Name)] = testutil.Value(values[i])
	}
	state[k] = row
}

// replay is the expected table after the full load and the first n CDC
// files (gen writes changes in commit order, so file order is apply order),
// plus extra CDC rows (Op first).
func (m tableModel) replay(n int, extra ...[]any) testutil.Rows {
	state := testutil.Rows{}
	for _, r := range m.load {
		m.apply(state, "I", r.Values)
	}
	for _, f := range m.cdc[:n] {
		for _, r := range f {
			m.apply(state, r.Op, r.Values)
		}
	}
	for _, r := range extra {
		m.apply(state, r[0].(string), r[1:])
	}
	return state
}

// withTS returns a copy of values (schema order, commit_ts first) with a new
// commit_ts.
func withTS(values []any, ts string) []any {
	out := append([]any(nil), values...)
	out[0] = ts
	return out
}

// parquetBytes encodes rows with schema.
func parquetBytes(t *testing.T, schema *arrow.Schema, rows [][]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gen.WriteParquet(&buf, schema, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to root/rel (slash-separated), creating folders.
func writeFile(t *testing.T, root, rel string, data []byte) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyTree copies the folder src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cdcNames lists the basenames of the CDC files of table dir (e.g.
// "shop/orders") under src, in name order.
func cdcNames(t *testing.T, src, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(src, filepath.FromSlash(dir)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if k, _, ok := reader.ParseName(e.Name()); ok && k == reader.CDC {
			out = append(out, e.Name())
		}
	}
	return out
}

// lineOf returns the line of out that starts with prefix, or "".
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }
