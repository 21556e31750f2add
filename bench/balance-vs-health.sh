#!/usr/bin/env bash
# Measures, in one run of the Release build on 127.0.0.1:
#   1. GET /health (the anchor) and the authenticated GET /api/account/balance, and their ratio;
#   2. POST /api/transfer/transfer at 64 connections: transfers per second, p50 and p99 latency.
# Bounded: three wrk runs of DURATION each (default 10s), nothing but loopback.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TARGET_RATIO="0.5"
HOST="127.0.0.1"




ensure_commands wrk:wrk curl:curl jq:jq python3:python3

WORK="$(mktemp -d -t tally-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


log "publish Tally.Server (Release)"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -o "$WORK/publish" --nologo -v quiet >"$WORK/publish.log" 2>&1 \
  || { cat "$WORK/publish.log" >&2; exit 1; }

PORT="$(free_port)"
BASE="http://$HOST:$PORT"
mkdir -p "$WORK/data"
log "start $BASE"
(
  cd "$WORK"
  exec env \
    Storage__DataDirectory="$WORK/data" \
    Auth__PasswordIterations=1000 \
    Auth__LoginPermitsPerIpPerMinute=1000000 \
    Auth__LoginPermitsPerPhonePerMinute=1000000 \
    Auth__RegistrationsPerIpPerMinute=1000000 \
    Admin__Secret=bench \
    Logging__LogLevel__Default=Warning \
    dotnet "$WORK/publish/Tally.Server.dll" --urls "$BASE"
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for i in $(seq 1 120); do
  if curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "error: the server exited; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  if [ "$i" -eq 120 ]; then
    echo "error: /ready did not answer 200 within 60 s" >&2
    tail -n 50 "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.5
done

post_json() {
  curl -fsS --max-time 10 -H 'Content-Type: application/json' -d "$2" "$BASE$1"
}

# Registers a user and logs in; prints "<session> <account_number>".
new_user() {
  local phone="9$(printf '%010d' $(((RANDOM << 15 | RANDOM) % 10000000000)))"
  local password="bench-password-1"
  local account session
  account="$(post_json /api/auth/register "{\"phone\":\"$phone\",\"username\":\"$1\",\"password\":\"$password\"}" | jq -r .account_number)"
  session="$(post_json /api/auth/login "{\"phone\":\"$phone\",\"password\":\"$password\"}" | jq -r .session)"
  echo "$session $account"
}

read -r TOKEN_A ACCOUNT_A < <(new_user bench-alice)
read -r TOKEN_B ACCOUNT_B < <(new_user bench-bob)
curl -fsS --max-time 10 -o /dev/null -H "X-Session: $TOKEN_A" "$BASE/api/account/balance"

run_wrk() {
  timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency "$@"
}

rate_of() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
percentile_of() { awk -v p="$2" '$1 == p { print $2 }' "$1"; }
non2xx_of() { awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$1"; }
requests_of() { awk '/requests in/ { print $1 }' "$1"; }

log "wrk GET /health ($THREADS threads, $CONNECTIONS connections, $DURATION)"
run_wrk "$BASE/health" >"$WORK/health.txt"
log "wrk GET /api/account/balance"
run_wrk -H "X-Session: $TOKEN_A" "$BASE/api/account/balance" >"$WORK/balance.txt"

cat >"$WORK/transfer.lua" <<'LUA'
-- Alternates A->B and B->A, one minor unit each, so that neither side runs dry.
local a_token, a_account = os.getenv("TOKEN_A"), os.getenv("ACCOUNT_A")
local b_token, b_account = os.getenv("TOKEN_B"), os.getenv("ACCOUNT_B")
local n = 0
wrk.method = "POST"
wrk.path = "/api/transfer/transfer"
request = function()
  n = n + 1
  local token, to = a_token, b_account
  if n % 2 == 0 then
    token, to = b_token, a_account
  end
  return wrk.format(nil, nil, { ["Content-Type"] = "application/json", ["X-Session"] = token },
    '{"to_account_number":"' .. to .. '","amount":1}')
end
LUA

stats_before="$(curl -fsS --max-time 10 -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/stats" | jq .total_transfers)"
log "wrk POST /api/transfer/transfer"
TOKEN_A="$TOKEN_A" ACCOUNT_A="$ACCOUNT_A" TOKEN_B="$TOKEN_B" ACCOUNT_B="$ACCOUNT_B" \
  run_wrk -s "$WORK/transfer.lua" "$BASE/api/transfer/transfer" >"$WORK/transfer.txt"
stats_after="$(curl -fsS --max-time 10 -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/stats" | jq .total_transfers)"

health_rate="$(rate_of "$WORK/health.txt")"
balance_rate="$(rate_of "$WORK/balance.txt")"
transfer_rate="$(rate_of "$WORK/transfer.txt")"
ratio="$(awk -v b="$balance_rate" -v h="$health_rate" 'BEGIN { printf "%.2f", (h > 0 ? b / h : 0) }')"
verdict="$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t ? "meets" : "MISSES") }')"

echo
echo "Tally bench — $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, Release build on $HOST"
printf '%-34s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' \
  "GET /health" "$health_rate" "$(percentile_of "$WORK/health.txt" 50%)" "$(percentile_of "$WORK/health.txt" 99%)" "$(non2xx_of "$WORK/health.txt")" \
  "GET /api/account/balance" "$balance_rate" "$(percentile_of "$WORK/balance.txt" 50%)" "$(percentile_of "$WORK/balance.txt" 99%)" "$(non2xx_of "$WORK/balance.txt")"
echo "balance / health ratio: $ratio (target >= $TARGET_RATIO: $verdict)"
printf '%-34s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' \
  "POST /api/transfer/transfer" "$transfer_rate" "$(percentile_of "$WORK/transfer.txt" 50%)" "$(percentile_of "$WORK/transfer.txt" 99%)" "$(non2xx_of "$WORK/transfer.txt")"
echo "transfers committed by the server: $((stats_after - stats_before)) (wrk completed $(requests_of "$WORK/transfer.txt") responses; requests still in flight at the cut-off commit too)"
echo "admin audit: $(curl -fsS --max-time 10 -H 'X-Admin-Secret: bench' "$BASE/api/account/admin/audit" | jq -c .)"
