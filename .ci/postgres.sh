#!/usr/bin/env bash
# Ensure a throwaway local PostgreSQL server for the tests; idempotent.
#
# Installs the Debian package when no server binaries exist and we are root, initdb's a
# cluster under $SCALEENV_PG_DIR (default /tmp/scaleenv-pg) owned by a non-root user
# (initdb refuses root), starts it on 127.0.0.1:$SCALEENV_PG_PORT (default 54329) with its
# socket in the same directory, creates database scaleenv_test, then prints the SQLAlchemy
# URL and writes it to $SCALEENV_PG_DIR/url. Re-running reuses a running server.
# Durability is off (fsync, synchronous_commit): the data is disposable.
set -euo pipefail

BASE=${SCALEENV_PG_DIR:-/tmp/scaleenv-pg}
PORT=${SCALEENV_PG_PORT:-54329}
DB=${SCALEENV_PG_DB:-scaleenv_test}
DATA=$BASE/data
URL="postgresql+psycopg2://postgres@127.0.0.1:$PORT/$DB"

say() { echo "postgres.sh: $*" >&2; }

# One run at a time (pytest-xdist workers may all call this at once).
# The server must not inherit the lock's descriptor (9>&- below), or it would hold it forever.
LOCK=$BASE.start.lock
exec 9>"$LOCK"
flock -w 600 9 || { say "timed out waiting for $LOCK"; exit 1; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN=$(find_bin)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and not root to install them"
        exit 1
    fi
    say "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN=$(find_bin)
fi

# Run a server binary as the cluster owner: 'postgres' when we are root, else ourselves.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$BASE" --shell /bin/sh postgres
    as_owner() { runuser -u postgres -- "$@"; }
    mkdir -p "$BASE"
    chown postgres: "$BASE"
else
    as_owner() { "$@"; }
    mkdir -p "$BASE"
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    say "initdb $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$BASE/initdb.log" 2>&1 \
        || { cat "$BASE/initdb.log" >&2; exit 1; }
fi

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "starting on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 start \
        -o "-h 127.0.0.1 -p $PORT -k $BASE -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        </dev/null >&2 9>&- \
        || { tail -n 20 "$BASE/server.log" >&2; exit 1; }
fi

PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    "${PSQL[@]}" -c "CREATE DATABASE $DB" >/dev/null
fi

echo "$URL" >"$BASE/url"
echo "$URL"
