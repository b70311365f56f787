#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests and benchmarks, never the machine's own.
#
#   scripts/private-postgres.sh start   initdb (once) and start it; prints its URL
#   scripts/private-postgres.sh url     prints the URL of the running cluster
#   scripts/private-postgres.sh stop    stops it (the data stay until `make clean`)
#
# The cluster lives in $PAID_PG_DIR (default .paid/pg in the checkout, gitignored): its data, a unix socket
# directory only its owner can enter, a log, its port (a free one, on 127.0.0.1 only) and a generated
# password. As root it runs as the `postgres` system user (PostgreSQL refuses to run as root). The system
# cluster (pg_ctlcluster, /etc/postgresql, port 5432) is never started, stopped, connected to or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-start}
DIR=${PAID_PG_DIR:-$PWD/.paid/pg}
BIN=${PAID_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$BIN/initdb" ] || { echo "PostgreSQL is not installed (scripts/system-deps.sh installs it)" >&2; exit 1; }
USER_NAME=paid
DB=paid_test

if [ "$(id -u)" = 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_owner() { "$@"; }
  OWNER=$(id -un)
fi

url() {
  echo "postgresql://$USER_NAME:$(cat "$DIR/password")@127.0.0.1:$(cat "$DIR/port")/$DB"
}

running() { [ -s "$DIR/data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$action" in
  url)
    running || { echo "the private PostgreSQL cluster in $DIR is not running: $0 start" >&2; exit 1; }
    url
    ;;
  stop)
    if running; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2; fi
    ;;
  start)
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    [ "$OWNER" = "$(id -un)" ] || chown "$OWNER" "$DIR"
    as_owner test -w "$DIR" || {
      echo "$OWNER cannot write $DIR (a parent directory closed to it?): set PAID_PG_DIR to a directory it can use" >&2
      exit 1
    }
    if [ ! -s "$DIR/data/PG_VERSION" ]; then
      rm -rf "$DIR/data"
      umask 077
      head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32 > "$DIR/password"
      [ "$OWNER" = "$(id -un)" ] || chown "$OWNER" "$DIR/password"
      # Unix-socket connections need no password, but only the owner can enter the socket directory.
      as_owner "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$DIR/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2; exit 1; }
      [ "$OWNER" = "$(id -un)" ] || chown "$(id -un)" "$DIR/password"
    fi
    mkdir -p "$DIR/socket"
    [ "$OWNER" = "$(id -un)" ] || chown "$OWNER" "$DIR/socket"
    chmod 700 "$DIR/socket"
    if ! running; then
      port=$(free_port)
      as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
        -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$DIR/socket'" start >&2
      echo "$port" > "$DIR/port"
    fi
    port=$(cat "$DIR/port")
    if ! as_owner "$BIN/psql" -h "$DIR/socket" -p "$port" -U "$USER_NAME" -d postgres -XtAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
      as_owner "$BIN/psql" -h "$DIR/socket" -p "$port" -U "$USER_NAME" -d postgres -Xqc "CREATE DATABASE $DB" >&2
    fi
    url
    ;;
  *)
    echo "usage: $0 start|url|stop" >&2
    exit 2
    ;;
esac
