#!/usr/bin/env bash
# Starts the services the tests need and prints the URL the PostgreSQL tests use: a private PostgreSQL
# cluster in .paid/pg (scripts/private-postgres.sh; the machine's own cluster is never started, stopped or
# changed), and the Docker engine with the sandbox image.
set -euo pipefail
cd "$(dirname "$0")/.."
url=$(scripts/private-postgres.sh start)
# The Docker engine and the sandbox image (built from Debian's packages, cached as a Docker image).
if ! docker info >/dev/null 2>&1; then
  (nohup dockerd > /tmp/paid-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /tmp/paid-dockerd.log" >&2; exit 1; }
scripts/build-sandbox-image.sh >&2
echo "$url"
