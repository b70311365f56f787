#!/bin/bash
# The deployment's PostgreSQL: a cluster made on first start in the named volume, password authentication
# for the network, the password read from the environment (passed by `paid deploy up`, never in a file).
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
DATA=/var/lib/paid-postgres/data
if [ ! -s "$DATA/PG_VERSION" ]; then
  "$BIN/initdb" -D "$DATA" -U "$DAGSTER_PG_USERNAME" --pwfile=<(printf '%s' "$DAGSTER_PG_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  echo "host all all all scram-sha-256" >> "$DATA/pg_hba.conf"
  echo "CREATE DATABASE $DAGSTER_PG_DB" | "$BIN/postgres" --single -D "$DATA" postgres >/dev/null
fi
exec "$BIN/postgres" -D "$DATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
