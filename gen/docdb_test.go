package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDocDBDeterministicAndShaped(t *testing.T) {
	cfg := DocDBConfig{Seed: 7, Docs: 30, Changes: 60}
	load1, cdc1, final1, err := GenerateDocDBChanges(cfg)
	if err != nil {
		t.Fatal(err)
	}
	load2, cdc2, final2, _ := GenerateDocDBChanges(cfg)
	if !reflect.DeepEqual(load1, load2) || !reflect.DeepEqual(cdc1, cdc2) || !reflect.DeepEqual(final1, final2) {
		t.Fatal("same config gave different output")
	}
	if len(load1) != 30 || len(cdc1) != 3 {
		t.Fatalf("got %d load rows, %d cdc files", len(load1), len(cdc1))
	}
	var ops = map[string]int{}
	canonical, relaxed, drifted := 0, 0, 0
	for _, f := range cdc1 {
		for _, r := range f {
			ops[r.Op]++
			if r.Op == "D" {
				if r.Doc != "" {
					t.Fatalf("D row carries a document: %s", r.Doc)
				}
				continue
			}
			if !json.Valid([]byte(r.Doc)) {
				t.Fatalf("invalid JSON %s", r.Doc)
			}
			if !strings.Contains(r.Doc, `{"$oid":"`+r.ID+`"}`) {
				t.Fatalf("document does not carry _id %s: %s", r.ID, r.Doc)
			}
			if strings.Contains(r.Doc, `"$numberInt"`) {
				canonical++
			} else {
				relaxed++
			}
			if strings.Contains(r.Doc, `"age":"`) {
				drifted++
			}
		}
	}
	if ops["I"] == 0 || ops["U"] == 0 || ops["D"] == 0 {
		t.Fatalf("ops %v", ops)
	}
	if drifted == 0 {
		t.Fatal("no type drift in the change stream")
	}
	if strings.Contains(load1[0].Doc, `"age":"`) {
		t.Fatal("drift already in the full load")
	}
	for _, r := range load1 {
		if strings.Contains(r.Doc, `"$numberInt"`) {
			canonical++
		} else {
			relaxed++
		}
	}
	if canonical == 0 || relaxed == 0 {
		t.Fatalf("canonical %d relaxed %d: want both forms", canonical, relaxed)
	}
}

func TestGenerateDocDBFiles(t *testing.T) {
	dir := t.TempDir()
	out, err := GenerateDocDB(context.Background(), DirSink(dir), DocDBConfig{Seed: 1, Docs: 10, Changes: 20, CDCFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LoadFiles) != 1 || out.LoadFiles[0] != "appdb/users/LOAD00000001.parquet" || len(out.CDCFiles) != 2 {
		t.Fatalf("files %v %v", out.LoadFiles, out.CDCFiles)
	}
	if out.CDCFiles[0] >= out.CDCFiles[1] {
		t.Fatalf("CDC names not increasing: %v", out.CDCFiles)
	}
	for _, p := range append(out.LoadFiles, out.CDCFiles...) {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("PAR1")) {
			t.Fatalf("%s is not Parquet", p)
		}
	}
	if len(out.Final) == 0 {
		t.Fatal("no final documents")
	}
}
