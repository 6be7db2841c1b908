#!/usr/bin/env bash
# Builds the shipped cdcmerge binary: static (CGO_ENABLED=0), reproducible
# paths (-trimpath), no symbol table or DWARF (-s -w). This is the one build
# command: the Dockerfile runs this script, and so does CI.
# Usage: scripts/build-static.sh OUT
# Fails unless the result is a static binary built with CGO_ENABLED=0.
set -euo pipefail
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUT" >&2
  exit 2
fi
out=$1
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$out")"

CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out" ./cmd/cdcmerge

# The build settings recorded in the binary must say CGO_ENABLED=0.
info=$(go version -m "$out")
if ! grep -Eq '^[[:space:]]*build[[:space:]]+CGO_ENABLED=0$' <<<"$info"; then
  echo "build-static: $out was not built with CGO_ENABLED=0:" >&2
  echo "$info" >&2
  exit 1
fi
# And, where file(1) is installed, an ELF binary must have no dynamic loader.
if command -v file >/dev/null 2>&1; then
  desc=$(file -b "$out")
  case "$desc" in
    ELF*)
      case "$desc" in
        *"dynamically linked"*|*interpreter*)
          echo "build-static: $out is not static: $desc" >&2
          exit 1 ;;
        *"statically linked"*) ;;
        *)
          echo "build-static: file(1) does not call $out statically linked: $desc" >&2
          exit 1 ;;
      esac ;;
  esac
fi
echo "build-static: $out (static, CGO_ENABLED=0)" >&2
