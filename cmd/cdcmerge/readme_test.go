package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeSettings checks the README's settings table against
// settingDocs, and that every documented flag exists.
func TestReadmeSettings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	clean := func(s string) string {
		s = strings.NewReplacer("`", "", "'", "").Replace(s)
		return strings.Join(strings.Fields(s), " ")
	}
	var rows [][]string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("README settings row %q does not have 4 cells", line)
		}
		for i := range cells {
			cells[i] = clean(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) != len(settingDocs) {
		t.Fatalf("README lists %d settings, settingDocs %d", len(rows), len(settingDocs))
	}
	for i, d := range settingDocs {
		want := []string{d.Flag, d.Env, d.YAML, clean(d.Doc)}
		for j := range want {
			if rows[i][j] != want[j] {
				t.Errorf("README settings row %d, cell %d = %q, settingDocs has %q", i+1, j+1, rows[i][j], want[j])
			}
		}
	}
	fs, _, _, _, _ := commonFlags("run", io.Discard)
	for _, d := range settingDocs {
		if fs.Lookup(strings.TrimPrefix(d.Flag, "--")) == nil {
			t.Errorf("documented flag %s is not a flag of run", d.Flag)
		}
	}
}
