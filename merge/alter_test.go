package merge_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestAlterSequences changes a table's mode half way through a random
// stream, the way cdcmerge alter does, and checks the table against the
// model after every run: merge-on-read v2 -> v3 (position deletes, then
// deletion vectors over them), merge-on-read -> copy-on-write and equality
// -> position deletes (both refused while delete files are live, allowed
// after a compaction: iceberg-go issue #2042 would otherwise bring rows
// back).
func TestAlterSequences(t *testing.T) {
	seqs := []alterSequence{
		{"v2-position-to-v3-dv", merge.Options{WriteMode: merge.MergeOnRead}, merge.AlterOptions{FormatVersion: 3}, false,
			modelMode{"mor-v3-dv", merge.Options{WriteMode: merge.MergeOnRead, FormatVersion: 3}, true}},
		{"mor-to-cow", merge.Options{WriteMode: merge.MergeOnRead}, merge.AlterOptions{WriteMode: merge.CopyOnWrite}, true,
			modelMode{"cow", merge.Options{WriteMode: merge.CopyOnWrite}, false}},
		{"equality-to-v3-dv", merge.Options{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality},
			merge.AlterOptions{DeleteStrategy: merge.DeletePosition, FormatVersion: 3}, true,
			modelMode{"mor-v3-dv", merge.Options{WriteMode: merge.MergeOnRead, FormatVersion: 3}, false}},
		{"cow-to-equality", merge.Options{WriteMode: merge.CopyOnWrite}, merge.AlterOptions{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality}, false,
			modelMode{"mor-v2-equality", merge.Options{WriteMode: merge.MergeOnRead, DeleteStrategy: merge.DeleteEquality}, false}},
	}
	for _, sq := range seqs {
		var refused atomic.Int32
		t.Run(sq.name, func(t *testing.T) {
			for seed := 0; seed < 4; seed++ {
				sq.run(t, seed, &refused)
			}
		})
		if sq.compact && refused.Load() == 0 {
			t.Errorf("%s: no seed had live delete files to refuse the change for; the test proves nothing", sq.name)
		}
	}
}

// alterSequence is a table created with from, changed by Alter to to, and
// then run like a table created with settings.
type alterSequence struct {
	name     string
	from     merge.Options
	to       merge.AlterOptions
	compact  bool // the change needs a compaction first
	settings modelMode
}

// run replays one random stream through the sequence, counting the seeds
// whose change was refused for live delete files.
func (sq alterSequence) run(t *testing.T, seed int, refused *atomic.Int32) {
	t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		r := rand.New(rand.NewSource(int64(100 + seed)))
		s := newStream(r, seed%2 == 1)
		root := t.TempDir()
		src := reader.DirSource{Root: filepath.Join(root, "dms")}
		cat := openCatalog(t, filepath.Join(root, "wh"))
		ident := []string{s.schema, s.table}
		half := max(1, len(s.files)/2)
		written := 0
		run := func(upto int, opt merge.Options) {
			t.Helper()
			for ; written < upto; written++ {
				s.write(t, src.Root, s.files[written])
			}
			opt.Key, opt.BatchFiles = s.key, 1
			if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, opt); err != nil {
				t.Fatalf("run to %d files: %v", upto, err)
			}
			s.check(t, cat, upto, fmt.Sprintf("after %d files", upto))
		}
		run(half, sq.from)
		tbl, _ := cat.LoadTable(ctx, ident)
		live, err := merge.LiveDeleteFiles(ctx, tbl)
		if err != nil {
			t.Fatal(err)
		}
		_, err = merge.Alter(ctx, tbl, sq.to)
		var left *merge.ErrDeleteFilesLeft
		switch {
		case sq.compact && len(live) > 0:
			if !errors.As(err, &left) {
				t.Fatalf("alter with %d delete files live: want a refusal naming compact, got %v", len(live), err)
			}
			refused.Add(1)
			if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1}); err != nil {
				t.Fatal(err)
			}
			tbl, _ = cat.LoadTable(ctx, ident)
			if _, err := merge.Alter(ctx, tbl, sq.to); err != nil {
				t.Fatalf("alter after compaction: %v", err)
			}
		case err != nil:
			t.Fatalf("alter: %v", err)
		}
		// The rest of the stream, in the new mode; a run asking
		// for the old mode is refused.
		old := sq.from
		old.Key = s.key
		if _, err := merge.Table(ctx, cat, src, tableFiles(t, src, s.schema+"."+s.table), ident, old); err == nil && old.WriteMode != sq.settings.opt.WriteMode {
			t.Fatalf("a run asking for the old write mode %s was accepted after alter", old.WriteMode)
		}
		run(len(s.files), sq.settings.opt)
		tbl, _ = cat.LoadTable(ctx, ident)
		checkDeleteFiles(t, tbl, sq.settings)
		// A full compaction folds whatever delete files the two modes left.
		if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1}); err != nil {
			t.Fatalf("final compact: %v", err)
		}
		tbl = s.check(t, cat, len(s.files), "after the final compaction")
		if live, err := merge.LiveDeleteFiles(ctx, tbl); err != nil || len(live) != 0 {
			t.Fatalf("after a full compaction %d delete files are left (%v)", len(live), err)
		}
	})
}
