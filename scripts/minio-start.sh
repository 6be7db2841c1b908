#!/usr/bin/env bash
# Starts MinIO on loopback with a temporary data folder, for a local run
# against S3. Prints the environment to use; stop it with: kill $MINIO_PID
# Usage: eval "$(scripts/minio-start.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/install-minio.sh)
port=${MINIO_PORT:-9000}
data=$(mktemp -d)
user=minioadmin
pass=minioadmin-$RANDOM$RANDOM
MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass "$bin" server "$data" \
  --address 127.0.0.1:$port --console-address 127.0.0.1:$((port + 1)) >"$data.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$port/minio/health/live" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
echo "export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port"
echo "export AWS_ACCESS_KEY_ID=$user"
echo "export AWS_SECRET_ACCESS_KEY=$pass"
echo "export AWS_REGION=us-east-1"
echo "export MINIO_PID=$pid"
echo "# MinIO data in $data, log in $data.log" >&2
