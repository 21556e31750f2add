#!/usr/bin/env bash
# Cold start of Tally.Server: from process start until GET /ready answers 200, for the default Release publish
# (framework-dependent, JIT) and the cold-start publish profile (self-contained, composite ReadyToRun of the app and
# the frameworks: src/Tally.Server/Properties/PublishProfiles/ColdStart.pubxml).
# RUNS starts of each (default 7), alternating, each with a fresh embedded database on 127.0.0.1. For each start it
# records the wall time to /ready and the CPU time the process had used by then (user + system, from /proc: the
# work done, JIT included, which other load on the machine disturbs far less than wall time). Prints every start,
# the medians, the ratio cold-start / default of each, and the median of the per-pair wall ratios (the two starts
# of a pair run back to back, in alternating order, and share the machine's load). Bounded: 60 s per start at most.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
RUNS="${RUNS:-7}"
HOST="127.0.0.1"



ensure_commands curl:curl python3:python3

WORK="$(mktemp -d -t tally-coldstart.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "publish default (Release, JIT)"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -o "$WORK/default" >"$WORK/publish-default.log" 2>&1 \
  || { cat "$WORK/publish-default.log" >&2; exit 1; }
log "publish cold-start profile (self-contained composite ReadyToRun, linux-x64; minutes)"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -p:PublishProfile=ColdStart -o "$WORK/coldstart" >"$WORK/publish-coldstart.log" 2>&1 \
  || { cat "$WORK/publish-coldstart.log" >&2; exit 1; }


# Prints "wall_ms cpu_ms": from process start until /ready answers 200, and the CPU the process used by then.
TICKS="$(getconf CLK_TCK)"
start_once() {
  local build="$1" port data started now cpu
  port="$(free_port)"
  data="$(mktemp -d -p "$WORK" data.XXXXXX)"
  started="$(date +%s%N)"
  local command=(dotnet "$WORK/default/Tally.Server.dll")
  if [ "$build" = coldstart ]; then
    command=("$WORK/coldstart/Tally.Server")
  fi
  (cd "$data" && Storage__DataDirectory="$data" Logging__LogLevel__Default=Warning \
    exec "${command[@]}" --urls "http://$HOST:$port" >"$data/server.log" 2>&1) &
  SERVER_PID=$!
  while true; do
    if curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$port/ready" 2>/dev/null | grep -q '^200$'; then
      now="$(date +%s%N)"
      cpu="$(awk -v t="$TICKS" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / t) }' "/proc/$SERVER_PID/stat")"
      break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$data/server.log" >&2
      log "$build exited before /ready"
      exit 1
    fi
    if [ $(( ($(date +%s%N) - started) / 1000000 )) -gt 60000 ]; then
      log "$build not ready within 60 s"
      exit 1
    fi
    sleep 0.005
  done
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  echo "$(( (now - started) / 1000000 )) $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# One unmeasured start of each, so that both read their files from the page cache alike.
start_once default >/dev/null
start_once coldstart >/dev/null

: >"$WORK/default.ms"
: >"$WORK/coldstart.ms"
: >"$WORK/default.cpu"
: >"$WORK/coldstart.cpu"
: >"$WORK/pairs"
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then
    read -r dw dc <<<"$(start_once default)"
    read -r cw cc <<<"$(start_once coldstart)"
  else
    read -r cw cc <<<"$(start_once coldstart)"
    read -r dw dc <<<"$(start_once default)"
  fi
  echo "$dw" >>"$WORK/default.ms"
  echo "$cw" >>"$WORK/coldstart.ms"
  echo "$dc" >>"$WORK/default.cpu"
  echo "$cc" >>"$WORK/coldstart.cpu"
  awk -v c="$cw" -v d="$dw" 'BEGIN { printf "%.4f\n", c / d }' >>"$WORK/pairs"
  printf 'run %d: default %5d ms (cpu %5d ms)   cold-start %5d ms (cpu %5d ms)\n' "$i" "$dw" "$dc" "$cw" "$cc"
done

DW="$(median <"$WORK/default.ms")"
CW="$(median <"$WORK/coldstart.ms")"
DC="$(median <"$WORK/default.cpu")"
CC="$(median <"$WORK/coldstart.cpu")"
P="$(median <"$WORK/pairs")"
echo
printf 'median wall time to /ready 200 over %d starts: default %s ms, cold-start %s ms, ratio %s\n' \
  "$RUNS" "$DW" "$CW" "$(awk -v c="$CW" -v d="$DW" 'BEGIN { printf "%.2f", c / d }')"
printf 'median CPU time to /ready 200:                 default %s ms, cold-start %s ms, ratio %s\n' \
  "$DC" "$CC" "$(awk -v c="$CC" -v d="$DC" 'BEGIN { printf "%.2f", c / d }')"
printf 'median of the per-pair wall ratios cold-start / default: %.2f\n' "$P"
