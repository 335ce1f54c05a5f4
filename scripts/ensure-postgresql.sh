#!/usr/bin/env bash
# A throwaway PostgreSQL server for the journal tests (tests/unit/test_journal*.py,
# tests/integration/test_journal_concurrency.py run on SQLite and on PostgreSQL). .ci/run
# evals what `start` prints and calls `stop` on exit:
#
#   eval "$(bash scripts/ensure-postgresql.sh start)"   # exports VIXSHIELD_TEST_POSTGRES_URL
#   ...                                                  # and VIXSHIELD_TEST_POSTGRES_DIR
#   bash scripts/ensure-postgresql.sh stop "$VIXSHIELD_TEST_POSTGRES_DIR"
#
# Subcommands:
# * install: makes sure the server binaries (initdb, pg_ctl) are there. Found with
#   $VIXSHIELD_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin (newest first) or
#   the PATH. Missing and running as root on a Debian/Ubuntu system: installs the package
#   `postgresql` with apt-get (--no-install-recommends). Missing otherwise: says which command
#   to run and exits 1.
# * start (the default): install, then initdb a cluster in a new temporary directory
#   (jrnl_pg.XXXXXX under $TMPDIR or /tmp; as the `postgres` user when root, since PostgreSQL
#   refuses to run as root), start it on a free port of 127.0.0.1 (unix socket inside the
#   directory, trust authentication, fsync off: test data only), create the role and database
#   `vixshield` (the role may create databases: each test makes its own), and print the
#   export lines on stdout. Everything else goes to stderr.
# * stop [DIR]: stops the cluster in DIR (default $VIXSHIELD_TEST_POSTGRES_DIR) and deletes
#   DIR; only a directory this script made (it holds .jrnl_pg_cluster) is touched.
set -euo pipefail

packages=(postgresql)
install_cmd="apt-get install -y --no-install-recommends ${packages[*]}"
server_user=postgres
role=vixshield
marker=.jrnl_pg_cluster

say() { echo "ensure-postgresql: $*" >&2; }

bindir() {
    local d candidates=()
    if [ -n "${VIXSHIELD_PG_BINDIR:-}" ]; then candidates+=("$VIXSHIELD_PG_BINDIR"); fi
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    while IFS= read -r d; do candidates+=("$d"); done < <(
        find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -rV
    )
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(command -v initdb)")")
    fi
    for d in "${candidates[@]}"; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$server_user" -- "$@"
    else
        "$@"
    fi
}

install() {
    local found
    if found="$(bindir)"; then
        say "found PostgreSQL server binaries in $found ($("$found/pg_ctl" --version))"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "the PostgreSQL server binaries (initdb, pg_ctl) are missing; the journal tests need them."
        say "  install them as root:  sudo apt-get update && sudo $install_cmd"
        say "  (or set VIXSHIELD_PG_BINDIR to their directory, or VIXSHIELD_TEST_POSTGRES_URL to a server)"
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "the PostgreSQL server binaries are missing and apt-get is not available here;"
        say "  install PostgreSQL with your system's package manager, or set VIXSHIELD_PG_BINDIR"
        exit 1
    fi
    say "the PostgreSQL server binaries are missing; installing ${packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    # shellcheck disable=SC2086  # the command is a word list on purpose
    $install_cmd >&2
    if ! found="$(bindir)"; then
        say "apt-get finished but initdb and pg_ctl are still missing;"
        say "  set VIXSHIELD_PG_BINDIR to the directory holding them"
        exit 1
    fi
    say "installed PostgreSQL ($("$found/pg_ctl" --version)) in $found"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    install
    local bin dir port candidate attempt
    bin="$(bindir)"
    if [ "$(id -u)" -eq 0 ] && ! id -u "$server_user" >/dev/null 2>&1; then
        say "running as root and there is no '$server_user' user to run PostgreSQL as"
        exit 1
    fi
    dir="$(mktemp -d "${TMPDIR:-/tmp}/jrnl_pg.XXXXXX")"
    touch "$dir/$marker"
    mkdir "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$server_user:" "$dir" "$dir/sock"
    fi
    as_server_user "$bin/initdb" -D "$dir/data" -U "$server_user" -A trust -E UTF8 \
        --no-locale --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        say "initdb failed"
        rm -rf "$dir"
        exit 1
    }
    port=""
    for attempt in 1 2 3 4 5; do
        candidate=$((20000 + RANDOM % 40000))
        if port_in_use "$candidate"; then
            continue
        fi
        if as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $candidate -h 127.0.0.1 -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >&2; then
            port=$candidate
            break
        fi
        say "start on port $candidate failed (attempt $attempt)"
    done
    if [ -z "$port" ]; then
        tail -n 30 "$dir/server.log" >&2 || true
        say "could not start PostgreSQL; see above"
        rm -rf "$dir"
        exit 1
    fi
    "$bin/psql" -X -h 127.0.0.1 -p "$port" -U "$server_user" -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE ROLE $role LOGIN CREATEDB" \
        -c "CREATE DATABASE $role OWNER $role" >&2
    say "PostgreSQL running on 127.0.0.1:$port (cluster in $dir)"
    echo "export VIXSHIELD_TEST_POSTGRES_URL=postgresql+psycopg://$role@127.0.0.1:$port/$role"
    echo "export VIXSHIELD_TEST_POSTGRES_DIR=$dir"
}

stop() {
    local dir="${1:-${VIXSHIELD_TEST_POSTGRES_DIR:-}}" bin
    if [ -z "$dir" ]; then
        say "stop: which cluster? pass its directory or set VIXSHIELD_TEST_POSTGRES_DIR"
        exit 1
    fi
    if [ ! -f "$dir/$marker" ]; then
        say "stop: $dir is not a cluster made by this script (no $marker); left alone"
        exit 1
    fi
    if [ -f "$dir/data/postmaster.pid" ] && bin="$(bindir)"; then
        as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 ||
            say "pg_ctl stop failed; deleting the cluster anyway"
    fi
    rm -rf "$dir"
    say "stopped and deleted $dir"
}

case "${1:-start}" in
install) install ;;
start) start ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: $0 [install|start|stop [DIR]]" >&2
    exit 2
    ;;
esac
