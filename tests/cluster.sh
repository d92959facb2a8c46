#!/usr/bin/env bash
# A PostgreSQL 15 cluster run by the postgres user (initdb refuses root), for the
# pg_regress suite, the demo and the benchmarks.
#
#   tests/cluster.sh start DIR [PORT]   create DIR if new, start it (or find it running);
#                                       prints "PORT SOCKET_DIR". Without PORT, a free one.
#   tests/cluster.sh stop DIR           stop it if it runs
#
# The server listens on 127.0.0.1:PORT and on a socket in DIR.sock; authentication is
# trust for local connections, as the cluster is for tests and demos only. PG_OPTIONS adds
# server options when the cluster starts (e.g. "-c shared_buffers=2GB").
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# From /, since postgres may not enter the caller's directory; paths given are absolute.
as_postgres() {
    if [ "$(id -un)" = postgres ]; then (cd / && "$@"); else (cd / && sudo -u postgres -- "$@"); fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port
    for port in $(seq "${1:-55432}" 65000); do
        if ! port_in_use "$port"; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

start() {
    local dir=$1 port=${2:-} socket_dir="$1.sock"
    if as_postgres "$PG_BIN/pg_ctl" status -D "$dir" >/dev/null 2>&1; then
        port=$(sed -n 4p "$dir/postmaster.pid")
        echo "$port $socket_dir"
        return
    fi
    mkdir -p "$(dirname "$dir")"
    chmod 755 "$(dirname "$dir")"
    if [ ! -s "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        chown postgres: "$dir"
        chmod 700 "$dir"
        as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            --no-instructions >"$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; return 1; }
    fi
    mkdir -p "$socket_dir"
    chown postgres: "$socket_dir"
    chmod 755 "$socket_dir"
    port=${port:-$(free_port)}
    if ! as_postgres "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir" -l "$dir/server.log" \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$socket_dir ${PG_OPTIONS:-}" >/dev/null; then
        tail -n 20 "$dir/server.log" >&2
        return 1
    fi
    echo "$port $socket_dir"
}

stop() {
    local dir=$1
    if [ -d "$dir" ] && as_postgres "$PG_BIN/pg_ctl" status -D "$dir" >/dev/null 2>&1; then
        as_postgres "$PG_BIN/pg_ctl" stop -w -m fast -D "$dir" >/dev/null
    fi
}

usage="usage: $0 start DIR [PORT] | stop DIR   (DIR an absolute path)"
case "${1:-} ${2:-}" in
    "start /"* ) start "$2" "${3:-}" ;;
    "stop /"* ) stop "$2" ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
