#!/usr/bin/env bash
# Throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks.
#
#   scripts/pg.sh start DIR   → initdb + start in DIR, prints the URL on stdout
#   scripts/pg.sh stop DIR    → stop the cluster in DIR and remove DIR
#
# Installs Debian's PostgreSQL server if no server binaries are found. PostgreSQL refuses
# to run as root, so as root the cluster runs as the `postgres` system user (created if
# missing). Fails loudly: a test run must never silently skip the PostgreSQL backend.
set -euo pipefail

find_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
    done | sort -V | tail -n 1
}

ensure_server() {
    local bindir
    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
        echo "pg.sh: PostgreSQL server not found; installing Debian's postgresql package" >&2
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
        bindir=$(find_bindir)
    fi
    if [ -z "$bindir" ]; then
        echo "pg.sh: PostgreSQL server binaries still missing after install" >&2
        exit 1
    fi
    echo "$bindir"
}

run_as() {
    # Run a command as the cluster owner.
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres >&2
        fi
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: scripts/pg.sh start|stop DIR" >&2
    exit 2
fi

case "$cmd" in
start)
    bindir=$(ensure_server)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        run_as true
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    owner=$(if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi)
    run_as "$bindir/initdb" -D "$dir/data" -U "$owner" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; echo "pg.sh: initdb failed" >&2; exit 1; }
    port=$(free_port)
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_buffers = 512MB
wal_buffers = 64MB
max_wal_size = 4GB
fsync = on
synchronous_commit = on
max_connections = 200
CONF
    run_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >&2 \
        || { cat "$dir/server.log" >&2; echo "pg.sh: PostgreSQL did not start" >&2; exit 1; }
    run_as "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$owner" tributary >&2
    echo "postgres://$owner@127.0.0.1:$port/tributary"
    ;;
stop)
    bindir=$(find_bindir)
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        run_as "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: scripts/pg.sh start|stop DIR" >&2
    exit 2
    ;;
esac
