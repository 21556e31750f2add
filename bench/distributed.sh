#!/usr/bin/env bash
# Distributed-mode benchmark, in one run, on private servers (scripts/services.sh):
#   1. PostgreSQL-mode transfers/s through HTTP (wrk, POST /api/transfer/transfer over 20 users)
#      against pgbench TPC-B tps on the same server, at 16 and at 64 clients;
#   2. the p50 that the RabbitMQ hop adds: one connection, one transfer at a time, with
#      Bus:Transport=InProcess and then RabbitMq, on the same database.
# WITH_REDIS=1 keeps Cache:Redis on (HybridCache, version bumps in Redis) for the HTTP runs.
# PROFILE=ha runs it all on `scripts/services.sh up --ha`: three PostgreSQL nodes under Patroni with
# synchronous replication (Tally through the multi-host connection string, pgbench on the primary)
# and three RabbitMQ nodes with quorum queues.
# Loopback only; every run is bounded by DURATION.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
USERS="${USERS:-20}"
HOST=127.0.0.1

ensure_commands wrk:wrk curl:curl jq:jq python3:python3

WORK="$(mktemp -d -t tally-dist-bench.XXXXXX)"
chmod 755 "$WORK" # the servers run as their own users and must reach their folders
export TALLY_SERVICES_DIR="$WORK/services"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  scripts/services.sh down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PROFILE="${PROFILE:-single}"
case "$PROFILE" in
  single) UP_ARGS=() ;;
  ha) UP_ARGS=(--ha) ;;
  *) echo "error: PROFILE must be single or ha" >&2; exit 2 ;;
esac
log "start private PostgreSQL, Redis and RabbitMQ ($PROFILE)"
SERVICES_ENV="$(scripts/services.sh up "${UP_ARGS[@]}")"
eval "$SERVICES_ENV"
# PostgreSQL mode alone (and RabbitMQ for the hop); Redis is measured separately.
[ -n "${WITH_REDIS:-}" ] || unset Cache__Redis
log "publish Tally.Server (Release)"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -o "$WORK/publish" --nologo -v quiet >"$WORK/publish.log" 2>&1 \
  || { cat "$WORK/publish.log" >&2; exit 1; }
dotnet build bench/BrokerRpcFloor -c Release --nologo -v quiet >>"$WORK/publish.log" 2>&1 \
  || { cat "$WORK/publish.log" >&2; exit 1; }

PGBIN="$TALLY_PG_BIN"
PGURL="host=127.0.0.1 port=$TALLY_PG_PORT user=tally dbname=pgbench"
scripts/services.sh psql -c "CREATE DATABASE pgbench OWNER tally" >/dev/null
log "pgbench -i -s 10"
PGPASSWORD="$TALLY_PG_PASSWORD" timeout 300 "$PGBIN/pgbench" -i -s 10 -q "$PGURL" >"$WORK/pgbench-init.log" 2>&1
pgbench_tps() {
  PGPASSWORD="$TALLY_PG_PASSWORD" timeout 120 "$PGBIN/pgbench" -c "$1" -j 2 -T "${DURATION%s}" -b tpcb-like "$PGURL" 2>/dev/null \
    | awk '/^tps = / { printf "%.0f", $3 }'
}

PORT=$((20000 + RANDOM % 10000))
BASE="http://$HOST:$PORT"
SIGNING_KEY="$(head -c 32 /dev/urandom | base64)"
start_server() { # $1 = bus transport
  (
    cd "$WORK"
    exec env Storage__Provider=Postgres Bus__Transport="$1" Auth__SigningKey="$SIGNING_KEY" \
      Storage__DataDirectory="$WORK/data" Auth__PasswordIterations=1000 Admin__Secret=bench \
      Auth__LoginPermitsPerIpPerMinute=1000000 Auth__LoginPermitsPerPhonePerMinute=1000000 Auth__RegistrationsPerIpPerMinute=1000000 \
      Logging__LogLevel__Default=Warning dotnet "$WORK/publish/Tally.Server.dll" --urls "$BASE"
  ) >"$WORK/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$1.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: Tally did not become ready" >&2
  exit 1
}
post_json() { curl -fsS --max-time 10 -H 'Content-Type: application/json' -d "$2" "$BASE$1"; }

start_server InProcess
log "register $USERS users"
{
  echo "local users = {"
  for i in $(seq 1 "$USERS"); do
    phone="8$(printf '%010d' $(((RANDOM << 15 | RANDOM) % 10000000000)))"
    account="$(post_json /api/auth/register "{\"phone\":\"$phone\",\"username\":\"bench$i\",\"password\":\"bench-password-1\"}" | jq -r .account_number)"
    session="$(post_json /api/auth/login "{\"phone\":\"$phone\",\"password\":\"bench-password-1\"}" | jq -r .session)"
    echo "  { \"$session\", \"$account\" },"
  done
  echo "}"
  cat <<'LUA'
-- Each request: a random sender pays 1 minor unit to a random other user.
local n = #users
wrk.method = "POST"
request = function()
  local from = math.random(n)
  local to = math.random(n - 1)
  if to >= from then to = to + 1 end
  return wrk.format(nil, "/api/transfer/transfer",
    { ["Content-Type"] = "application/json", ["X-Session"] = users[from][1] },
    '{"to_account_number":"' .. users[to][2] .. '","amount":1}')
end
LUA
} >"$WORK/transfer.lua"

wrk_transfers() { # $1 = connections, $2 = output file
  timeout 120 wrk -t2 -c"$1" -d"$DURATION" --timeout 10s --latency -s "$WORK/transfer.lua" "$BASE" >"$2"
}
rate_of() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
p50_of() { awk '$1 == "50%" { print $2 }' "$1"; }
non2xx_of() { awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$1"; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v } else { sub(/s$/, "", v); print v * 1000 } }'; }

# Every 200 must be a committed transfer: count them in the ledger before and after.
total_transfers() { curl -fsS -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/stats" | jq .total_transfers; }
ok_of() { # 2xx answers in a wrk output
  awk '/ requests in / { n = $1 } /Non-2xx or 3xx responses:/ { bad = $NF } END { print n - bad }' "$1"
}
TRANSFERS_BEFORE="$(total_transfers)"

declare -A TPS HTTP
for c in 16 64; do
  log "pgbench -c $c ($DURATION)"
  TPS[$c]="$(pgbench_tps "$c")"
  log "wrk transfers -c $c ($DURATION)"
  wrk_transfers "$c" "$WORK/transfer-$c.txt"
  HTTP[$c]="$(rate_of "$WORK/transfer-$c.txt")"
done
log "one connection, in-process bus"
timeout 60 wrk -t1 -c1 -d5s --latency -s "$WORK/transfer.lua" "$BASE" >"$WORK/hop-inprocess.txt"
TRANSFERS_AFTER="$(total_transfers)"
ANSWERED_OK=$(($(ok_of "$WORK/transfer-16.txt") + $(ok_of "$WORK/transfer-64.txt") + $(ok_of "$WORK/hop-inprocess.txt")))
AUDIT_1="$(curl -fsS -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/audit" | jq -c '{ok, ledger_sum, negative_balances}')"
stop_server

start_server RabbitMq
# A fresh process: warm its hot paths first, as the in-process server's were by the runs before its hop.
log "warm-up: RabbitMQ bus, 16 connections, 3 s"
timeout 60 wrk -t2 -c16 -d3s -s "$WORK/transfer.lua" "$BASE" >"$WORK/warm-rabbitmq.txt"
log "one connection, RabbitMQ bus"
timeout 60 wrk -t1 -c1 -d5s --latency -s "$WORK/transfer.lua" "$BASE" >"$WORK/hop-rabbitmq.txt"
AUDIT_2="$(curl -fsS -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/audit" | jq -c '{ok, ledger_sum, negative_balances}')"
stop_server
log "bare RabbitMQ round trip (bench/BrokerRpcFloor), the floor of the hop"
FLOOR_LINE="$(timeout 120 dotnet bench/BrokerRpcFloor/bin/Release/net10.0/BrokerRpcFloor.dll "$ConnectionStrings__RabbitMq" 3000)"
P50_FLOOR="$(echo "$FLOOR_LINE" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/')"

P50_IN="$(to_ms "$(p50_of "$WORK/hop-inprocess.txt")")"
P50_MQ="$(to_ms "$(p50_of "$WORK/hop-rabbitmq.txt")")"
echo
echo "Tally distributed bench — 2 cores, PostgreSQL 15 private instance ($PROFILE), $USERS users, $DURATION per run"
for c in 16 64; do
  printf 'clients %-3s  Tally HTTP transfers/s %7s (non-2xx %s)   pgbench TPC-B tps %7s   ratio %s\n' \
    "$c" "${HTTP[$c]}" "$(non2xx_of "$WORK/transfer-$c.txt")" "${TPS[$c]}" \
    "$(awk -v a="${HTTP[$c]}" -v b="${TPS[$c]}" 'BEGIN { printf "%.2f", a / b }')"
done
printf 'one connection p50: in-process %s ms, RabbitMQ %s ms, hop adds %s ms (target <= 1 ms)\n' \
  "$P50_IN" "$P50_MQ" "$(awk -v a="$P50_MQ" -v b="$P50_IN" 'BEGIN { printf "%.2f", a - b }')"
printf 'bare RabbitMQ round trip (persistent, confirms, direct reply-to, no Tally code) p50 %s ms: Tally itself adds %s ms to it\n' \
  "$P50_FLOOR" "$(awk -v a="$P50_MQ" -v b="$P50_IN" -v f="$P50_FLOOR" 'BEGIN { printf "%.2f", a - b - f }')"
# wrk stops counting at the end of each run while up to one request per connection is still in flight.
COMMITTED=$((TRANSFERS_AFTER - TRANSFERS_BEFORE))
echo "transfers committed in the ledger: $COMMITTED; answered 200 by Tally: $ANSWERED_OK (in flight when wrk stopped: up to 81)"
echo "audit after the in-process runs: $AUDIT_1"
echo "audit after the RabbitMQ run:    $AUDIT_2"
if [ "$COMMITTED" -lt "$ANSWERED_OK" ] || [ "$COMMITTED" -gt $((ANSWERED_OK + 81)) ]; then
  echo "error: the ledger holds $COMMITTED new transfers for $ANSWERED_OK answered 200" >&2
  exit 1
fi
