package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clearEnv unsets every CDCMERGE_* setting for the test, so the caller's
// environment cannot change what is tested.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, s := range settingDocs {
		t.Setenv(s.Env, "")
	}
}

// TestUsageErrors: mistakes in how cdcmerge is called exit with 2 and say
// what is wrong.
func TestUsageErrors(t *testing.T) {
	clearEnv(t)
	wh := filepath.Join(t.TempDir(), "wh")
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no-args", nil, "Usage:"},
		{"unknown-command", []string{"merge", "--source", "x"}, `unknown command "merge"`},
		{"unknown-flag", []string{"run", "--source", "x", "--warehouse", wh, "--frobnicate"}, "frobnicate"},
		{"unknown-flag-status", []string{"status", "--bogus=1"}, "bogus"},
		{"missing-source", []string{"run", "--warehouse", wh, "--key", "shop.orders=order_id"}, "--source"},
		{"missing-warehouse", []string{"run", "--source", "x"}, "--warehouse"},
		{"bad-key", []string{"run", "--source", "x", "--warehouse", wh, "--key", "shop.orders"}, "--key"},
		{"bad-output", []string{"run", "--source", "x", "--warehouse", wh, "--output", "xml"}, "--output"},
		{"stray-argument", []string{"run", "--source", "x", "--warehouse", wh, "extra"}, `"extra"`},
		{"gen-no-out", []string{"gen"}, "--out"},
		{"duplicate-key-column", []string{"run", "--source", "x", "--warehouse", wh, "--key", "shop.orders=order_id,ORDER_ID"}, "more than once"},
		{"repeated-key-flag", []string{"run", "--source", "x", "--warehouse", wh, "--key", "shop.orders=order_id", "--key", "shop.orders=order_id"}, "more than once"},
		{"bad-format-version", []string{"run", "--source", "x", "--warehouse", wh, "--write-mode", "merge-on-read", "--format-version", "4"}, "--format-version must be 2 or 3"},
		{"v3-copy-on-write", []string{"run", "--source", "x", "--warehouse", wh, "--format-version", "3"}, "needs --write-mode merge-on-read"},
		{"bad-delete-strategy", []string{"run", "--source", "x", "--warehouse", wh, "--write-mode", "merge-on-read", "--delete-strategy", "vector"}, "--delete-strategy must be position or equality"},
		{"equality-copy-on-write", []string{"run", "--source", "x", "--warehouse", wh, "--delete-strategy", "equality"}, "needs --write-mode merge-on-read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, errs)
			}
		})
	}
	// Nothing was created for the failed calls.
	if _, err := os.Stat(wh); !os.IsNotExist(err) {
		t.Errorf("a usage error created the warehouse %s (stat: %v)", wh, err)
	}
}

// TestConfigPrecedence: a YAML file can carry every setting; the
// environment beats the file, a flag beats the environment; an unknown key
// in the file is a usage error.
func TestConfigPrecedence(t *testing.T) {
	clearEnv(t)
	root := t.TempDir()
	src := filepath.Join(root, "dms")
	genSource(t, src)
	whFile := filepath.Join(root, "wh-file")
	whEnv := filepath.Join(root, "wh-env")
	whFlag := filepath.Join(root, "wh-flag")

	cfgPath := filepath.Join(root, "cdcmerge.yaml")
	yaml := "source: " + src + "\n" +
		"warehouse: " + whFile + "\n" +
		"log_level: warn\n" +
		"tables:\n" +
		"  shop.orders:\n" +
		"    key: [order_id]\n" +
		"  shop.order_items:\n" +
		"    key: [order_id, line_no]\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	// The file alone.
	out := mustCLI(t, "run", "--config", cfgPath)
	for _, name := range []string{"shop.order_items", "shop.orders"} {
		if l := lineOf(out, name+": "); !strings.Contains(l, "5 files") {
			t.Errorf("run with the config file: %s: %q, want 5 files", name, l)
		}
	}
	fileState := stateOf(t, whFile, "shop.orders")
	if fileState.snapshot == 0 {
		t.Fatal("the config file's warehouse has no snapshot")
	}
	if tbl := loadTable(t, whFile, "shop.order_items"); tbl == nil || len(tbl.Schema().IdentifierFieldIDs) != 2 {
		t.Fatalf("shop.order_items in the file's warehouse: want the two key columns of the config file")
	}

	// The environment beats the file.
	t.Setenv("CDCMERGE_WAREHOUSE", whEnv)
	out = mustCLI(t, "run", "--config", cfgPath)
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "5 files") {
		t.Errorf("run with CDCMERGE_WAREHOUSE: %q, want 5 files (a fresh warehouse)", l)
	}
	envState := stateOf(t, whEnv, "shop.orders")
	if envState.snapshot == 0 {
		t.Fatal("CDCMERGE_WAREHOUSE's warehouse has no snapshot")
	}
	if st := stateOf(t, whFile, "shop.orders"); !st.equal(fileState) {
		t.Errorf("the config file's warehouse changed although CDCMERGE_WAREHOUSE was set")
	}

	// CDCMERGE_CONFIG names the file as well as --config does.
	t.Setenv("CDCMERGE_CONFIG", cfgPath)
	out = mustCLI(t, "run")
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "up to date") {
		t.Errorf("run with CDCMERGE_CONFIG (warehouse from the env, already loaded): %q, want up to date", l)
	}

	// A flag beats the environment.
	out = mustCLI(t, "run", "--config", cfgPath, "--warehouse", whFlag)
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "5 files") {
		t.Errorf("run with --warehouse: %q, want 5 files (a fresh warehouse)", l)
	}
	if st := stateOf(t, whFlag, "shop.orders"); st.snapshot == 0 {
		t.Fatal("--warehouse's warehouse has no snapshot")
	}
	if st := stateOf(t, whEnv, "shop.orders"); !st.equal(envState) {
		t.Errorf("CDCMERGE_WAREHOUSE's warehouse changed although --warehouse was given")
	}

	// Keys from the environment beat the file's: a different key for an
	// existing table is refused.
	t.Setenv("CDCMERGE_KEY", "shop.orders=customer_id")
	code, out, errs := cli(t, "run", "--config", cfgPath, "--tables", "shop.orders")
	if code != 1 || !strings.Contains(lineOf(out, "shop.orders: "), "customer_id") {
		t.Errorf("CDCMERGE_KEY with another key: exit %d, want 1 naming customer_id\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// ... and a flag beats the environment again.
	out = mustCLI(t, "run", "--config", cfgPath, "--tables", "shop.orders", "--key", "shop.orders=order_id")
	if l := lineOf(out, "shop.orders: "); !strings.Contains(l, "up to date") {
		t.Errorf("--key over CDCMERGE_KEY: %q, want up to date", l)
	}
	t.Setenv("CDCMERGE_KEY", "")

	// An unknown key in the file is a usage error that names it.
	bad := filepath.Join(root, "bad.yaml")
	if err := os.WriteFile(bad, []byte(yaml+"warehous: /tmp/typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "run", "--config", bad)
	if code != 2 || !strings.Contains(errs, "warehous") {
		t.Errorf("unknown config key: exit %d, want 2 naming it\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// An unknown per-table key too.
	bad2 := filepath.Join(root, "bad2.yaml")
	if err := os.WriteFile(bad2, []byte(strings.Replace(yaml, "key: [order_id]\n", "key: [order_id]\n    keys: [x]\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "run", "--config", bad2)
	if code != 2 || !strings.Contains(errs, "keys") {
		t.Errorf("unknown per-table config key: exit %d, want 2 naming it\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// So is a key that names a column twice.
	bad3 := filepath.Join(root, "bad3.yaml")
	if err := os.WriteFile(bad3, []byte(strings.Replace(yaml, "key: [order_id]", "key: [order_id, order_id]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "run", "--config", bad3)
	if code != 2 || !strings.Contains(errs, "more than once") {
		t.Errorf("key naming a column twice: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// A missing config file is a usage error too.
	code, _, errs = cli(t, "run", "--config", filepath.Join(root, "nope.yaml"))
	if code != 2 || !strings.Contains(errs, "nope.yaml") {
		t.Errorf("missing config file: exit %d, want 2\nstderr:\n%s", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "cdcmerge ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d %q", code, out)
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dms")
	genSource(t, src)
	cpu, heap := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "heap.prof")
	mustCLI(t, runArgs(src, filepath.Join(dir, "wh"), "--cpu-profile", cpu, "--heap-profile", heap)...)
	for _, p := range []string{cpu, heap} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("%s is not a pprof profile (gzip): %v", p, err)
		}
	}
}

// TestTableWriteSettings: tables.<t>.write_mode, format_version and
// delete_strategy in the config file set them per table, and are checked.
func TestTableWriteSettings(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tables:\n  shop.orders:\n    key: [order_id]\n    format_version: 3\n")
	code, _, errs := cli(t, "run", "--source", dir, "--warehouse", filepath.Join(dir, "wh"), "--config", conf)
	if code != 2 || !strings.Contains(errs, "table shop.orders") || !strings.Contains(errs, "needs --write-mode merge-on-read") {
		t.Fatalf("v3 for a copy-on-write table: exit %d: %s", code, errs)
	}
	write("tables:\n  shop.orders:\n    key: [order_id]\n    write_mode: merge-on-read\n    format_version: 3\n    delete_strategy: equality\n")
	fs, v, keys, _, _ := commonFlags("run", io.Discard)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(fs, keys, v, conf, "")
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Tables["shop.orders"]
	if tc.WriteMode != "merge-on-read" || tc.FormatVersion != 3 || tc.DeleteStrategy != "equality" || cfg.WriteMode != "" {
		t.Fatalf("per-table settings: %+v (global %q)", tc, cfg.WriteMode)
	}
}
