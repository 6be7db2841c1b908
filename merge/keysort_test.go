package merge

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestKeySorter: rows added in random order in many batches come out in
// key order, every one of them with its other columns, whether they fit
// one run (in memory), a few (one merge) or many (merge passes); the
// spill directory is gone after Close.
func TestKeySorter(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	for _, tc := range []struct {
		name     string
		runBytes int64
		minRuns  int
	}{{"one-run", 1 << 30, 0}, {"one-merge", 64 << 10, 2}, {"passes", 4 << 10, sortFanIn + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewSource(3))
			tmp := t.TempDir()
			s, err := newKeySorter(sc, []string{"id"}, tc.runBytes, tmp)
			if err != nil {
				t.Fatal(err)
			}
			const rows = 20000
			perm := r.Perm(rows)
			for off := 0; off < rows; {
				n := min(1+r.Intn(700), rows-off)
				vb := array.NewStringBuilder(memory.DefaultAllocator)
				ib := array.NewInt64Builder(memory.DefaultAllocator)
				for _, k := range perm[off : off+n] {
					vb.Append("v" + string(rune('a'+k%26)))
					ib.Append(int64(k) - rows/2)
				}
				v, id := vb.NewArray(), ib.NewArray()
				if err := s.Add(ctx, array.NewRecordBatch(sc, []arrow.Array{v, id}, int64(n))); err != nil {
					t.Fatal(err)
				}
				v.Release()
				id.Release()
				off += n
			}
			spilled := len(s.runs)
			next := int64(-rows / 2)
			for rec, err := range s.Sorted(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				v, id := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
				for i := 0; i < id.Len(); i++ {
					if id.Value(i) != next {
						t.Fatalf("row %d: id %d, want %d", next+rows/2, id.Value(i), next)
					}
					k := int(next + rows/2)
					if want := "v" + string(rune('a'+k%26)); v.Value(i) != want {
						t.Fatalf("id %d: v %q, want %q", next, v.Value(i), want)
					}
					next++
				}
				rec.Release()
			}
			if next != rows/2 {
				t.Fatalf("%d rows came out, want %d", next+rows/2, rows)
			}
			if spilled < tc.minRuns || tc.minRuns == 0 && spilled != 0 {
				t.Errorf("%d runs spilled, want at least %d (0 for none)", spilled, tc.minRuns)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("%d entries left in the temporary directory", len(left))
			}
		})
	}
}

// TestSweepSpillDirs: a spill directory whose owner died (its lock is
// free) is removed by the next sorted compaction's sweep; one whose owner
// holds its lock, and other directories, stay.
func TestSweepSpillDirs(t *testing.T) {
	tmp := t.TempDir()
	live, err := newSpillDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove()
	dead := filepath.Join(tmp, spillDirPrefix+"dead")
	other := filepath.Join(tmp, "other")
	for _, d := range []string{dead, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, spillLockName), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sweepSpillDirs(tmp)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the abandoned spill directory is still there (%v)", err)
	}
	for _, d := range []string{live.path, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}
