// Command cdcmerge merges AWS DMS S3 output into Iceberg tables.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

const usage = `cdcmerge merges AWS DMS output (full load + CDC files) into Iceberg tables.

Usage:
  cdcmerge run    --source DIR --warehouse DIR [--key schema.table=col,...] [flags]
  cdcmerge status --source DIR --warehouse DIR [flags]
  cdcmerge gen    --out DIR [--rows N --changes N ...]
  cdcmerge demo   [--dir DIR]      generate sample data, merge it, print the tables
  cdcmerge compact       --warehouse DIR [--tables GLOB]   bin-pack small files, fold delete files in
  cdcmerge expire        --warehouse DIR [--older-than 120h --retain-last 1]
  cdcmerge clean-orphans --warehouse DIR [--older-than 24h --dry-run]
  cdcmerge alter         --warehouse DIR --tables GLOB [--write-mode M] [--format-version 3] [--delete-strategy S]
  cdcmerge bench  [--size S|M|L|XL] cdcmerge vs DuckDB vs the floor on generated data
  cdcmerge version

Run "cdcmerge <command> -h" for the flags of a command.
Exit codes: 0 done, 1 failed, 2 bad usage.
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(ctx, args[1:], stdout, stderr)
	case "gen":
		err = cmdGen(ctx, args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "compact", "expire", "clean-orphans":
		err = cmdMaintain(ctx, args[0], args[1:], stdout, stderr)
	case "alter":
		err = cmdAlter(ctx, args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cdcmerge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cdcmerge: %v\n", err)
		return 2
	case errors.Is(err, errFlagHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "cdcmerge: %v\n", err)
		return 1
	}
}

// version describes the build: the module version (or the VCS revision of
// a build from a checkout) and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "cdcmerge (unknown build)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = s.Value
			if len(v) > 12 {
				v = v[:12]
			}
		}
	}
	return fmt.Sprintf("cdcmerge %s (%s)", v, bi.GoVersion)
}

// errReported means the failure was already printed (per table).
var errReported = errors.New("failed")

var errFlagHelp = errors.New("help shown")
