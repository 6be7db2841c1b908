package reader

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		num  uint64
		ok   bool
	}{
		{"LOAD00000001.parquet", Load, 1, true},
		{"LOAD0000000A.parquet", Load, 10, true},
		{"LOAD000000FF.parquet", Load, 255, true},
		{"LOAD0000000a.parquet", 0, 0, false}, // DMS writes upper case
		{"LOAD001.parquet", 0, 0, false},
		{"20260510-100001234.parquet", CDC, 0, true},
		{"20261310-100001234.parquet", 0, 0, false}, // month 13
		{"20260510-100001234.csv", 0, 0, false},
		{"notes.txt", 0, 0, false},
	}
	for _, tc := range tests {
		k, n, ok := ParseName(tc.name)
		if ok != tc.ok || (ok && (k != tc.kind || n != tc.num)) {
			t.Errorf("%s: got %v %d %v, want %v %d %v", tc.name, k, n, ok, tc.kind, tc.num, tc.ok)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a..b", "a/b", "a\x01b", "a b", "a.b", strings.Repeat("x", 256), "bad\xffname", "zw\u200bsp"} {
		if ValidateName("table", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"orders", "Order_Items", "t1", "ßtable"} {
		if err := ValidateName("table", good); err != nil {
			t.Errorf("%q rejected: %v", good, err)
		}
	}
}

func obj(path string, mod time.Time) Object { return Object{Path: path, Size: 10, ModTime: mod} }

func TestGroupOrdersByBasename(t *testing.T) {
	t0 := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	// DDMMYYYY folders do not sort: 11052026 < 30042026 as strings.
	tables, ignored, err := Group([]Object{
		obj("shop/orders/11052026/20260511-000000001.parquet", t0),
		obj("shop/orders/30042026/20260430-000000001.parquet", t0),
		obj("shop/orders/LOAD0000000A.parquet", t0),
		obj("shop/orders/LOAD00000002.parquet", t0),
		obj("shop/orders/_temporary", t0),
		obj("README", t0),
		obj("bad..name/t/LOAD00000001.parquet", t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || len(ignored) != 3 {
		t.Fatalf("tables %+v ignored %+v", tables, ignored)
	}
	tf := tables[0]
	if tf.Load[0].Number != 2 || tf.Load[1].Number != 10 {
		t.Fatalf("LOAD order %+v", tf.Load)
	}
	if tf.CDC[0].Name != "20260430-000000001.parquet" {
		t.Fatalf("CDC order %+v", tf.CDC)
	}
}

func TestPending(t *testing.T) {
	t0 := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	files := func(objs ...Object) TableFiles {
		tables, _, err := Group(objs)
		if err != nil || len(tables) != 1 {
			t.Fatal(err)
		}
		return tables[0]
	}
	base := []Object{
		obj("s/t/LOAD00000001.parquet", t0),
		obj("s/t/20260510-100000000.parquet", t0.Add(time.Minute)),
		obj("s/t/20260510-110000000.parquet", t0.Add(2*time.Minute)),
	}
	tf := files(base...)
	p, horizon, err := Pending(tf, Checkpoint{})
	if err != nil || len(p) != 3 || !horizon.Time.Equal(t0.Add(2*time.Minute)) || len(horizon.Names) != 1 {
		t.Fatalf("fresh: %v %v %v", p, horizon, err)
	}
	cp := Checkpoint{}.After(p[:2], horizon)
	p, _, err = Pending(tf, cp)
	if err != nil || len(p) != 1 || p[0].Name != "20260510-110000000.parquet" {
		t.Fatalf("after two: %v %v", p, err)
	}
	// A late upload: sorts before the checkpoint, modified after the horizon.
	late := append(base[:3:3], obj("s/t/20260510-093000000.parquet", t0.Add(time.Hour)))
	_, _, err = Pending(files(late...), cp)
	var se *StreamError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "20260510-093000000.parquet") || !strings.Contains(err.Error(), "late") {
		t.Fatalf("late file: %v", err)
	}
	// An old file deleted by a lifecycle rule is fine.
	if _, _, err := Pending(files(base[2]), cp); err != nil {
		t.Fatalf("deleted old files: %v", err)
	}
	// A reload after CDC was applied.
	reload := append(base[:3:3], obj("s/t/LOAD00000002.parquet", t0.Add(time.Hour)))
	if _, _, err := Pending(files(reload...), cp); err == nil || !strings.Contains(err.Error(), "reload") {
		t.Fatalf("reload: %v", err)
	}
	// More LOAD files before any CDC: still the full load.
	cpLoad := Checkpoint{}.After(p[:0], horizon).After([]File{tf.Load[0]}, horizon)
	more := []Object{base[0], obj("s/t/LOAD00000002.parquet", t0.Add(time.Hour))}
	if p, _, err := Pending(files(more...), cpLoad); err != nil || len(p) != 1 || p[0].Number != 2 {
		t.Fatalf("second LOAD file: %v %v", p, err)
	}
	// A late file with exactly the horizon's time (S3 times are whole
	// seconds): late unless it was one of the files listed at that time.
	h := t0.Add(2 * time.Minute)
	tie := append(base[:3:3], obj("s/t/20260510-094500000.parquet", h))
	if _, _, err := Pending(files(tie...), cp); err == nil || !strings.Contains(err.Error(), "late") {
		t.Fatalf("late file at the horizon's time: %v", err)
	}
	seen := Checkpoint{}.After(nil, Horizon{Time: h, Names: []string{"20260510-094500000.parquet", "20260510-110000000.parquet"}})
	seen = seen.After(tf.Load, Horizon{Time: h}).After(tf.CDC, Horizon{Time: h})
	if _, _, err := Pending(files(tie...), seen); err != nil {
		t.Fatalf("a file listed at the horizon's time is not late: %v", err)
	}
	// The same CDC name in two date folders: a duplicate delivery.
	dup := append(base[:3:3], obj("s/t/2026/05/10/20260510-110000000.parquet", t0.Add(time.Hour)))
	if _, _, err := Pending(files(dup...), Checkpoint{}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestCheckpointEncoding(t *testing.T) {
	c := Checkpoint{LoadLast: "LOAD0000000B.parquet", LoadNumber: 11, LoadFiles: 11, CDCLast: "20260510-100000000.parquet", CDCFiles: 3,
		Horizon: time.Date(2026, 5, 10, 1, 2, 3, 4, time.UTC)}
	d, err := DecodeCheckpoint(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	c.Version = CheckpointVersion
	if d.Encode() != c.Encode() || !d.Horizon.Equal(c.Horizon) {
		t.Fatalf("round trip: %+v != %+v", d, c)
	}
	for _, bad := range []string{"", "{", `{"v":2}`, `{"v":1,"cdc_last":"x.parquet"}`, `{"v":1,"load_last":"LOAD00000001.parquet","load_number":2}`} {
		if _, err := DecodeCheckpoint(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
