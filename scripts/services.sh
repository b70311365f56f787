#!/usr/bin/env bash
# Starts PostgreSQL when it is not running and prints the URL the PostgreSQL tests use.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
[ -n "$version" ] || { echo "PostgreSQL is not installed (scripts/system-deps.sh installs it)" >&2; exit 1; }
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
$SUDO -u postgres psql -q -c "ALTER USER postgres PASSWORD 'postgres';" >/dev/null 2>&1 || \
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres';\"" >/dev/null
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='paid_test'\"" | grep -q 1; then
  su postgres -c "psql -q -c 'CREATE DATABASE paid_test;'" >/dev/null
fi
# The Docker engine and the sandbox image (built from Debian's packages, cached as a Docker image).
if ! docker info >/dev/null 2>&1; then
  (nohup dockerd > /tmp/paid-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /tmp/paid-dockerd.log" >&2; exit 1; }
"$(dirname "$0")/build-sandbox-image.sh" >&2
echo "postgresql://postgres:postgres@127.0.0.1:5432/paid_test"
