#!/usr/bin/env bash
# The test command: installs what the tests need (the pinned MinIO from the
# Go module proxy into .tools/bin; the PostgreSQL server package when it is
# missing and apt-get can install it), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-minio.sh >/dev/null
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "scripts/test.sh: the PostgreSQL server package is needed (apt-get install postgresql)" >&2
  fi
fi
go test -count=1 -timeout 45m "$@" ./...
