#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the feedback store's tests (tests/data/feedback/).
#
#   source .ci/postgres.sh        # starts it; exports RECO_TEST_POSTGRES_URL and PG_TMP
#   reco_postgres_stop            # stops it and deletes its folder (.ci/run does it at exit)
#
# initdb in a fresh temporary folder, a server on 127.0.0.1 only, on a free port, trust
# authentication for a single local database user (the cluster lives as long as the run
# and holds test data only). The server refuses to run as root, so as root the cluster
# belongs to the "postgres" system user (Debian's package creates it).
# Sourced, it must not change the caller's shell options: no set -e here.

reco_postgres_start() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        bin="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
    fi
    if [ ! -x "$bin/initdb" ]; then
        echo ".ci/postgres.sh: initdb not found (apt-get install postgresql)" >&2
        return 1
    fi
    PG_TMP="$(mktemp -d /tmp/reco-pg.XXXXXX)"
    local run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_TMP"
        run_as=(runuser -u postgres --)
    fi
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    "${run_as[@]}" "$bin/initdb" -D "$PG_TMP/data" -U reco --auth=trust -E UTF8 \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    # a socket folder of our own (the default /var/run/postgresql may not exist)
    "${run_as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $PG_TMP -c fsync=on" start >/dev/null \
        || { cat "$PG_TMP/server.log" >&2; return 1; }
    "${run_as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U reco reco_test \
        || { echo ".ci/postgres.sh: createdb failed" >&2; return 1; }
    PG_BIN="$bin"
    export PG_TMP PG_BIN
    export RECO_TEST_POSTGRES_URL="postgresql://reco@127.0.0.1:$port/reco_test"
    echo "RECO_TEST_POSTGRES_URL=$RECO_TEST_POSTGRES_URL"
}

reco_postgres_stop() {
    [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ] || return 0
    local run_as=()
    [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
    "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PG_TMP"
}

reco_postgres_start
