#!/usr/bin/env bash
# In one run against the same Tally /health on 127.0.0.1, with the same connection count:
#   wrk (the anchor) and `tally-load run --url` (closed model, no think time); prints the ratio.
# Target: tally-load >= 0.6x wrk's request rate. Bounded: two runs of DURATION (default 10s).
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TARGET_RATIO="0.6"
HOST="127.0.0.1"

ensure_commands wrk:wrk

WORK="$(mktemp -d -t tally-load-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "publish Tally.Server and Tally.Load (Release)"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -o "$WORK/server" --nologo -v quiet >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
dotnet publish src/Tally.Load/Tally.Load.csproj -c Release -o "$WORK/load" --nologo -v quiet >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }

PORT=$((20000 + RANDOM % 40000))
URL="http://$HOST:$PORT/health"
mkdir -p "$WORK/data"
( cd "$WORK" && exec env Storage__DataDirectory="$WORK/data" Logging__LogLevel__Default=Warning \
    dotnet "$WORK/server/Tally.Server.dll" --urls "http://$HOST:$PORT" >"$WORK/server.log" 2>&1 ) &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "$URL" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

log "warm-up"
wrk -t "$THREADS" -c "$CONNECTIONS" -d 2s "$URL" >/dev/null

log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION $URL"
WRK_RPS="$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" "$URL" | awk '/Requests\/sec/ {print $2}')"

log "tally-load run --url $URL --vus $CONNECTIONS --duration $DURATION"
dotnet "$WORK/load/Tally.Load.dll" run --url "$URL" --vus "$CONNECTIONS" --duration "$DURATION" --quiet --json "$WORK/load.json" >/dev/null
LOAD_RPS="$(grep -o '"rps": [0-9.]*' "$WORK/load.json" | head -n 1 | awk '{print $2}')"

RATIO="$(awk -v a="$LOAD_RPS" -v b="$WRK_RPS" 'BEGIN { printf "%.2f", a / b }')"
printf 'wrk:        %10.1f req/s (%s connections)\n' "$WRK_RPS" "$CONNECTIONS"
printf 'tally-load: %10.1f req/s (%s virtual users)\n' "$LOAD_RPS" "$CONNECTIONS"
printf 'ratio:      %10s (target >= %s)\n' "$RATIO" "$TARGET_RATIO"
awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN { exit !(r >= t) }' || { echo "below target" >&2; exit 1; }
