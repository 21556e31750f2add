#!/usr/bin/env bash
# A private PostgreSQL 15 for the tests and benchmarks, in a folder of its own, on a loopback port.
#   private-postgres.sh start <folder> <port>   initdb (as the postgres user when run as root), then start;
#                                              installs the postgresql package with apt-get if it is missing
#   private-postgres.sh stop <folder>           stops the server (fast) and removes the folder
#   private-postgres.sh halt <folder>           stops the server (fast) and keeps its data (a fault test)
#   private-postgres.sh resume <folder> <port>  starts a halted server again on the same port
# Connect with: Host=127.0.0.1;Port=<port>;Username=postgres (trust authentication, loopback only).
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
command="${1:?usage: $0 start|stop <folder> [port]}"
folder="${2:?usage: $0 start|stop <folder> [port]}"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
  start)
    port="${3:?usage: $0 start <folder> <port>}"
    if [ ! -x "$BIN/initdb" ]; then
      sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
    mkdir -p "$folder"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres:postgres "$folder"
    fi
    as_postgres "$BIN/initdb" -D "$folder/data" -U postgres -A trust -E UTF8 --locale=C >"$folder/initdb.log" 2>&1 \
      || { cat "$folder/initdb.log" >&2; exit 1; }
    as_postgres "$BIN/pg_ctl" -D "$folder/data" -l "$folder/postgres.log" -w -t 60 \
      -o "-k $folder -p $port -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null \
      || { cat "$folder/postgres.log" >&2; exit 1; }
    echo "started on 127.0.0.1:$port"
    ;;
  halt)
    as_postgres "$BIN/pg_ctl" -D "$folder/data" -m fast -w -t 60 stop >/dev/null
    echo "halted"
    ;;
  resume)
    port="${3:?usage: $0 resume <folder> <port>}"
    as_postgres "$BIN/pg_ctl" -D "$folder/data" -l "$folder/postgres.log" -w -t 60 \
      -o "-k $folder -p $port -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null \
      || { cat "$folder/postgres.log" >&2; exit 1; }
    echo "resumed on 127.0.0.1:$port"
    ;;
  stop)
    if [ -d "$folder/data" ]; then
      as_postgres "$BIN/pg_ctl" -D "$folder/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$folder"
    ;;
  *)
    echo "usage: $0 start|stop|halt|resume <folder> [port]" >&2
    exit 2
    ;;
esac
