#!/usr/bin/env bash
# In one run against the same Tally /health on 127.0.0.1, with the same connection count:
#   wrk (the anchor) and `tally-load run --url` (closed model, no think time); prints the ratio.
# Target: tally-load >= 0.6x wrk's request rate. Bounded: two runs of DURATION (default 10s).
# Then the cost of agents: the same open-model rate (AGENT_RATE, default 9000/s) from tally-load alone and split
# between it and two `tally-load agent` processes on loopback; the generator CPU per request of the split
# run (all three processes) over the local run's, in AGENT_ROUNDS (default 3) alternating rounds; the median ratio
# is judged. Target: within 10% (<= 1.10). Every run's coordinator is a fresh process, as a local run is; the agents
# are warmed by a split run as long as a measured one, so that neither side counts a JIT the other doesn't. An
# agent's CPU while idle between runs is printed too. A generator's CPU per request falls as its own rate rises (it
# batches more per wake-up), so each round also runs one generator alone at one share's rate (AGENT_RATE/3) and
# prints each share's CPU per request against it: the cost of coordination at the same work and rate. SKIP_AGENTS=1
# skips it.
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
AGENT_PIDS=()
cleanup() {
  for pid in "${AGENT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
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
STATUS=0
awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN { exit !(r >= t) }' || { echo "below target" >&2; STATUS=1; }

if [ "${SKIP_AGENTS:-0}" != 1 ]; then
  AGENT_RATE="${AGENT_RATE:-9000}"
  AGENTS=""
  for _ in 1 2; do
    port="$(free_port)"
    dotnet "$WORK/load/Tally.Load.dll" agent --listen "$HOST:$port" >"$WORK/agent-$port.log" 2>&1 &
    AGENT_PIDS+=("$!")
    AGENTS="${AGENTS:+$AGENTS,}$HOST:$port"
  done
  for _ in $(seq 1 100); do
    [ "$(cat "$WORK"/agent-*.log 2>/dev/null | grep -c 'listening on')" -ge 2 ] && break
    sleep 0.1
  done
  SHARE_RATE="$(awk -v r="$AGENT_RATE" 'BEGIN { print r / 3 }')"
  run_open() { # <json> <duration> <rate> [--agents A,B]: the open model
    local json=$1 duration=$2 rate=$3
    shift 3
    dotnet "$WORK/load/Tally.Load.dll" run --url "$URL" --rate "$rate" --duration "$duration" --server-metrics off --quiet --json "$json" "$@" >/dev/null
  }
  log "warm-up: local, and split over 2 agents ($AGENTS) for $DURATION"
  run_open "$WORK/warm-local.json" 3s "$AGENT_RATE"
  run_open "$WORK/warm-agents.json" "$DURATION" "$AGENT_RATE" --agents "$AGENTS"
  # An idle agent's own cost: CPU seconds per second over 5 s (utime + stime of its process).
  cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
  before=(); for pid in "${AGENT_PIDS[@]}"; do before+=("$(cpu_ticks "$pid")"); done
  sleep 5
  idle=""; for i in "${!AGENT_PIDS[@]}"; do
    idle="$idle $(awk -v a="${before[$i]}" -v b="$(cpu_ticks "${AGENT_PIDS[$i]}")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz / 5 * 1000 }') ms/s"
  done
  printf 'idle agents (5 s after the warm-up):%s\n' "$idle"
  CORES="$(nproc)"
  # CPU seconds per 1,000 requests: percent of the machine × cores × elapsed / requests.
  per_kreq() { jq -r --argjson cores "$CORES" "$1" "$2"; }
  RATIOS=()
  for round in $(seq 1 "${AGENT_ROUNDS:-3}"); do
    log "round $round: tally-load run --url $URL --rate $AGENT_RATE --duration $DURATION: alone, with 2 agents, then alone at $SHARE_RATE/s"
    run_open "$WORK/local.json" "$DURATION" "$AGENT_RATE"
    run_open "$WORK/agents.json" "$DURATION" "$AGENT_RATE" --agents "$AGENTS"
    run_open "$WORK/share.json" "$DURATION" "$SHARE_RATE"
    SHARE_COST="$(per_kreq '(.generator_cpu_percent / 100 * $cores * .summary.duration_seconds) / .summary.requests * 1000' "$WORK/share.json")"
    EACH_COST="$(per_kreq '.summary.duration_seconds as $d | [.agents[] | .cpu_percent / 100 * $cores * $d / .requests * 1000 | . * 1000 | round / 1000 | tostring] | join(" ")' "$WORK/agents.json")"
    LOCAL_COST="$(per_kreq '(.generator_cpu_percent / 100 * $cores * .summary.duration_seconds) / .summary.requests * 1000' "$WORK/local.json")"
    AGENTS_COST="$(per_kreq '([.agents[].cpu_percent] | add) / 100 * $cores * .summary.duration_seconds / .summary.requests * 1000' "$WORK/agents.json")"
    RATIOS+=("$(awk -v a="$AGENTS_COST" -v b="$LOCAL_COST" 'BEGIN { printf "%.2f", a / b }')")
    printf 'round %s: generator CPU per 1,000 requests at %s/s: alone %.3f s, coordinator + 2 agents %.3f s (%s) (shares: %s)\n' \
      "$round" "$AGENT_RATE" "$LOCAL_COST" "$AGENTS_COST" "${RATIOS[-1]}" "$(jq -r '[.agents[] | "\(.address) \(.requests)"] | join(", ")' "$WORK/agents.json")"
    printf '         at one share'"'"'s rate, %s/s: alone %.3f s, each share of the split run %s s\n' "$SHARE_RATE" "$SHARE_COST" "$EACH_COST"
  done
  COST_RATIO="$(printf '%s\n' "${RATIOS[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
  printf 'agents cost: %8s (median of %s rounds: %s; target <= 1.10)\n' "$COST_RATIO" "${#RATIOS[@]}" "${RATIOS[*]}"
  awk -v r="$COST_RATIO" 'BEGIN { exit !(r <= 1.10) }' || { echo "agents cost above target" >&2; STATUS=1; }
fi
exit "$STATUS"
