package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDuplicateContent: a CDC file delivered a second time under another
// name is an error naming both files, and the table stays as it was.
func TestDuplicateContent(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	wh := filepath.Join(root, "wh")
	genSource(t, src, "--tables", "shop.orders")
	names := cdcNames(t, src, "shop/orders")
	last := filepath.Join(src, "shop", "orders", names[len(names)-1])
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "shop/orders/20260512-000000000.parquet", b)
	code, out, _ := cli(t, runArgs(src, wh)...)
	l := lineOf(out, "shop.orders: ")
	if code != 1 || !strings.Contains(l, "same content") || !strings.Contains(l, names[len(names)-1]) || !strings.Contains(l, "20260512-000000000.parquet") {
		t.Fatalf("exit %d: %q", code, l)
	}
	if tbl := loadTable(t, wh, "shop.orders"); tbl != nil && tbl.CurrentSnapshot() != nil {
		t.Fatal("the table was written")
	}
	// Remove the copy: the run goes through.
	if err := os.Remove(filepath.Join(src, "shop", "orders", "20260512-000000000.parquet")); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, runArgs(src, wh)...)
}
