#!/usr/bin/env bash
# Installs the pinned MinIO server into .tools/bin (a Go build from the
# module proxy; 2-3 minutes cold, then cached) and prints its path.
# Usage: scripts/install-minio.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
bin="$PWD/.tools/bin/minio"
stamp="$PWD/.tools/bin/.minio-version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$MINIO_VERSION" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$PWD/.tools/bin"
GOBIN="$PWD/.tools/bin" CGO_ENABLED=0 go install "github.com/minio/minio@$MINIO_VERSION" >&2
echo "$MINIO_VERSION" > "$stamp"
echo "$bin"
