#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the test suite and print its URL.
# Installs the Debian packages when PostgreSQL is missing. Idempotent.
set -euo pipefail

PORT="${SENIM_PG_PORT:-54329}"
PGDATA_DIR="${SENIM_PG_DIR:-/tmp/senim-postgres}"
export DEBIAN_FRONTEND=noninteractive

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  echo "$dir"
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  echo "installing PostgreSQL from Debian packages" >&2
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(pg_bin)

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    chown postgres "$PGDATA_DIR"
    su postgres -s /bin/sh -c "$BIN/initdb -D $PGDATA_DIR -A trust -U postgres" >/dev/null
  fi
  su postgres -s /bin/sh -c "$BIN/pg_ctl -D $PGDATA_DIR -l $PGDATA_DIR/server.log -o '-h 127.0.0.1 -p $PORT -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off' -w start" >/dev/null
fi

psql_as() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_as -c "SELECT 1 FROM pg_roles WHERE rolname='senim'" | grep -q 1 || psql_as -c "CREATE ROLE senim LOGIN PASSWORD 'senim'"
psql_as -c "SELECT 1 FROM pg_database WHERE datname='senim_test'" | grep -q 1 || psql_as -c "CREATE DATABASE senim_test OWNER senim"

echo "postgresql+psycopg://senim:senim@127.0.0.1:${PORT}/senim_test"
