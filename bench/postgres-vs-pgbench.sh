#!/usr/bin/env bash
# PostgreSQL-mode transfers/s through PostgresLedgerStore directly (64 in-process callers, one batching
# writer) against pgbench TPC-B (-s 10, -c 64 -j 2) on the same private PostgreSQL 15, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${CLIENTS:-64}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
FOLDER="/tmp/tally-bench-pg-$$"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PG=tests/Tally.Postgres.Tests/private-postgres.sh
trap 'bash $PG stop "$FOLDER"' EXIT

dotnet build bench/PgStoreBench -c Release -v q >/dev/null
bash $PG start "$FOLDER" "$PORT"
psql -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE pgbench" -c "CREATE DATABASE tally"

pgbench -q -i -s 10 -h 127.0.0.1 -p "$PORT" -U postgres pgbench >/dev/null 2>&1
PGBENCH_TPS="$(pgbench -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -b tpcb-like -h 127.0.0.1 -p "$PORT" -U postgres pgbench 2>/dev/null \
  | sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -1)"
echo "pgbench tpcb-like: $CLIENTS clients, $SECONDS_PER_RUN s: $PGBENCH_TPS tps"

STORE_OUT="$(dotnet bench/PgStoreBench/bin/Release/net10.0/PgStoreBench.dll \
  "Host=127.0.0.1;Port=$PORT;Username=postgres;Database=tally" "$CLIENTS" "$SECONDS_PER_RUN" 1000)"
echo "$STORE_OUT" | grep -v '^RATE='
RATE="$(echo "$STORE_OUT" | sed -nE 's/^RATE=([0-9.]+)/\1/p')"
python3 -c "print(f'ratio store transfers/s / pgbench tps = {float($RATE)/float($PGBENCH_TPS):.2f}')"
