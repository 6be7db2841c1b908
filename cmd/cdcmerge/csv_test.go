package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcmerge/cdcmerge/internal/testutil"
)

// TestRunCSV: `gen --format csv` writes DMS CSV output (pipe-delimited,
// NULL marker, gzip) and its external table definition; `run` with the
// definition merges it into the same rows as the Parquet form of the same
// stream, taking the key from ColumnIsPk; a bad definition is reported by
// table and column.
func TestRunCSV(t *testing.T) {
	dir := t.TempDir()
	csvSrc := filepath.Join(dir, "csv")
	def := filepath.Join(dir, "tables.json")
	mustCLI(t, append([]string{"gen", "--out", csvSrc, "--format", "csv", "--csv-delimiter", "|", "--csv-null-value", "NULL", "--gzip", "--definition-out", def}, genArgs...)...)
	pqSrc := filepath.Join(dir, "pq")
	genSource(t, pqSrc)

	csvWH := filepath.Join(dir, "wh-csv")
	out := mustCLI(t, "run", "--source", csvSrc, "--warehouse", csvWH, "--table-definition", def,
		"--csv-delimiter", "|", "--csv-null-value", "NULL", "--log-level", "warn")
	if !strings.Contains(lineOf(out, "shop.orders: "), "5 files") {
		t.Fatalf("csv run: %s", out)
	}
	pqWH := filepath.Join(dir, "wh-pq")
	mustCLI(t, runArgs(pqSrc, pqWH)...)
	for _, tc := range []struct {
		name string
		key  []string
	}{{"shop.orders", []string{"order_id"}}, {"shop.order_items", []string{"order_id", "line_no"}}} {
		want := rowsOf(t, pqWH, tc.name, tc.key)
		got := rowsOf(t, csvWH, tc.name, tc.key)
		if len(want) == 0 {
			t.Fatalf("%s: empty", tc.name)
		}
		if d := testutil.Diff(want, got, 10); d != "" {
			t.Fatalf("%s: CSV differs from Parquet:\n%s", tc.name, d)
		}
	}

	writeFile(t, dir, "bad.json", []byte(`{"TableCount":"1","Tables":[{"TableName":"orders","TableOwner":"shop","TablePath":"shop/orders/","TableColumns":[{"ColumnName":"id","ColumnType":"TIMESTAMP"}],"TableColumnsTotal":"1"}]}`))
	code, stdout, _ := cli(t, "run", "--source", csvSrc, "--warehouse", filepath.Join(dir, "wh-bad"), "--table-definition", filepath.Join(dir, "bad.json"), "--log-level", "warn")
	if code != 1 || !strings.Contains(stdout, "TIMESTAMP") || !strings.Contains(stdout, "DATETIME") {
		t.Fatalf("bad definition: exit %d\n%s", code, stdout)
	}
}
