package merge_test

import (
	"context"
	"log/slog"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cdcmerge/cdcmerge/catalog"
	"github.com/cdcmerge/cdcmerge/internal/miniotest"
	"github.com/cdcmerge/cdcmerge/internal/s3util"
	"github.com/cdcmerge/cdcmerge/merge"
	"github.com/cdcmerge/cdcmerge/reader"
)

// TestKeyIndexS3 runs a merge-on-read table in an s3:// warehouse (MinIO
// on loopback): key indexes are written next to the data files in the
// bucket and read by later batches; a damaged one is refused; and after a
// compaction and expiry clean-orphans removes the indexes of the old data
// files and keeps those of the live ones. The table equals the model
// throughout.
func TestKeyIndexS3(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Env(t)
	srv.Bucket(t, "lake")
	ctx := context.Background()
	awsCfg, err := s3util.Config(ctx, s3util.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx = utils.WithAwsConfig(ctx, &awsCfg)
	r := rand.New(rand.NewSource(5))
	s := newStream(r, false)
	for len(s.files) < 8 {
		s = newStream(r, false)
	}
	extra := s.files[len(s.files)-2:] // revealed later, one after the damage and one after the compaction
	s.files = s.files[:len(s.files)-2]
	root := t.TempDir()
	src := reader.DirSource{Root: filepath.Join(root, "dms")}
	for _, f := range s.files {
		s.write(t, src.Root, f)
	}
	cat, err := catalog.Open(ctx, catalog.Config{Warehouse: "s3://lake/warehouse", URI: filepath.Join(root, "catalog.db"), S3Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	ident := []string{s.schema, s.table}
	logs := &syncBuffer{}
	opt := merge.Options{Key: s.key, WriteMode: merge.MergeOnRead, BatchFiles: 1,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	run := func() *table.Table { return runAndCheck(ctx, t, cat, src, s, opt) }
	client := srv.Client()
	listIndexes := func() []string {
		t.Helper()
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("warehouse/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			if strings.HasSuffix(*o.Key, ".keyidx") {
				keys = append(keys, "s3://lake/"+*o.Key)
			}
		}
		return keys
	}
	liveS3 := func(tbl *table.Table) map[string]bool {
		t.Helper()
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, task := range tasks {
			out[task.File.FilePath()] = true
		}
		return out
	}

	tbl := run()
	if n := indexedCount(t, logs.String()); n == 0 {
		t.Fatal("no candidate was answered by a key index")
	}
	indexes := listIndexes()
	if len(indexes) == 0 {
		t.Fatal("no key index in the bucket")
	}
	live := liveS3(tbl)
	for _, k := range indexes {
		if !live[dataFileOf(k)] {
			t.Fatalf("index %s of a data file the table does not hold", k)
		}
	}
	// Damage every index, then run a batch: the indexes are refused (the
	// files scanned) and written again.
	for _, k := range indexes {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(strings.TrimPrefix(k, "s3://lake/")),
			Body: strings.NewReader("CDCKEYX1 not an index")}); err != nil {
			t.Fatal(err)
		}
	}
	s.files = append(s.files, extra[0])
	s.write(t, src.Root, extra[0])
	tbl = run()
	rewritten := 0
	for _, k := range listIndexes() {
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(strings.TrimPrefix(k, "s3://lake/"))})
		if err != nil {
			t.Fatal(err)
		}
		if *obj.ContentLength > int64(len("CDCKEYX1 not an index")) {
			rewritten++
		}
		obj.Body.Close()
	}
	if rewritten == 0 {
		t.Fatal("no damaged index was written again")
	}
	orphans, err := merge.CleanOrphans(ctx, tbl, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orphans {
		if strings.HasSuffix(o, ".keyidx") {
			t.Fatalf("the live index %s is listed as an orphan", o)
		}
	}
	if _, err := merge.Compact(ctx, tbl, merge.CompactOptions{MinInputFiles: 1}); err != nil {
		t.Fatal(err)
	}
	tbl, _ = cat.LoadTable(ctx, ident)
	if err := merge.Expire(ctx, tbl, 0, 1); err != nil {
		t.Fatal(err)
	}
	s.files = append(s.files, extra[1])
	s.write(t, src.Root, extra[1])
	tbl = run()
	live = liveS3(tbl)
	var keep, drop []string
	for _, k := range listIndexes() {
		if live[dataFileOf(k)] {
			keep = append(keep, k)
		} else {
			drop = append(drop, k)
		}
	}
	if len(keep) == 0 || len(drop) == 0 {
		t.Fatalf("%d indexes of live and %d of dead data files; the test needs both", len(keep), len(drop))
	}
	time.Sleep(1100 * time.Millisecond) // object times have second resolution
	deleted, err := merge.CleanOrphans(ctx, tbl, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range drop {
		if !slices.Contains(deleted, k) {
			t.Errorf("%s not deleted (deleted: %v)", k, deleted)
		}
	}
	if after := listIndexes(); !slices.Equal(after, keep) {
		t.Fatalf("indexes left %v, want those of live data files %v", after, keep)
	}
	checkRows(t, tbl, s)
}
