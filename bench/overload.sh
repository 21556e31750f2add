#!/usr/bin/env bash
# Overload: how Tally behaves past its capacity, in one run, on loopback (tally-load `stress`):
#   1. embedded: one Tally.Server (SQLite, in-process bus), 500 seeded users; the `mixed` scenario's
#      capacity is searched (SLO p95<300ms, errors<1%), then phases at 0.5×, 2×, 3×, 5× and 0.5× of
#      it (open model), then the closed model: users at 0.5×, 3× and 0.5× of the capacity in users,
#      1 s think time;
#   2. cluster: scripts/cluster.sh (PostgreSQL, RabbitMQ, Redis with Sentinel, 2 api + 2 workers, the
#      gateway), seeded and stressed through the gateway the same way.
# Each stress run is judged by the acceptance's expectations (--expect) and ends with the audit.
# One summary table at the end. Bounded: every phase and capacity step has a fixed duration, and the
# searches stop after MAX_STEPS steps.
#   PHASE=3s STEP=2s MAX_STEPS=4 SKIP_CLUSTER=1 bench/overload.sh   # a short smoke run (SKIP_EMBEDDED=1: the cluster only)
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
HOST="127.0.0.1"
USERS="${USERS:-500}"
SCENARIO="${SCENARIO:-mixed}"
SLO="${SLO:-p95<300ms,errors<1%}"
PHASE="${PHASE:-10s}"
STEP="${STEP:-5s}"
WARMUP="${WARMUP:-2s}"
MAX_STEPS="${MAX_STEPS:-12}"
START="${START:-200}"
# The cluster's first step: five processes and three servers share the two cores.
CLUSTER_START="${CLUSTER_START:-50}"
MAX_VUS="${MAX_VUS:-1000}"
THINK="${THINK:-1s}"
SKIP_CLUSTER="${SKIP_CLUSTER:-0}"
SKIP_EMBEDDED="${SKIP_EMBEDDED:-0}"
# The JSON and HTML reports are kept here (the work folder is removed at exit).
OUT="${OUT:-$(mktemp -d -t tally-overload-results.XXXXXX)}"
mkdir -p "$OUT"
# The acceptance: goodput ≥ 0.9 of capacity at 2× and 3×, ≥ 0.75 at 5×; accepted p99 ≤ 300 ms and refused
# p99 ≤ 20 ms in every overload phase; working set ≤ 1.5× the base phase's; recovered within 5 s; no
# NO_HEALTHY_UPSTREAM at all; a user sending one request at a time waits at most the SLO latency for any answer.
EXPECT_OPEN="${EXPECT_OPEN:-goodput@2>=0.9,goodput@3>=0.9,goodput@5>=0.75,accepted-p99<=300ms,refused-p99<=20ms,memory<=1.5,recovery<=5s,no-healthy-upstream<=0,probe-max<=300ms}"
EXPECT_CLOSED="${EXPECT_CLOSED:-goodput@3>=0.9,accepted-p99<=300ms,refused-p99<=20ms,memory<=1.5,recovery<=5s,no-healthy-upstream<=0,probe-max<=300ms}"

ensure_commands curl:curl jq:jq python3:python3

WORK="$(mktemp -d -t tally-overload.XXXXXX)"
# The cluster's servers run as their own users inside it.
chmod 755 "$WORK"
SERVER_PID=""
CLUSTER_UP=0
export TALLY_CLUSTER_DIR="$WORK/cluster"
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$CLUSTER_UP" = 1 ]; then
    "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

publish_projects "$WORK" Tally.Server Tally.Load
LOAD=(dotnet "$WORK/Tally.Load/Tally.Load.dll")
ADMIN_SECRET="bench-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
export TALLY_ADMIN_SECRET="$ADMIN_SECRET"

# stress_pair <label> <target> <first search step> [stress options...]: the open model with its own capacity search, then
# the closed model at the capacity in users (Little's law at 1 s think time, from the search);
# results in $OUT/<label>-open.json / <label>-closed.json (and .html), their exit codes in <label>-*.code.
stress_pair() {
  local label=$1 target=$2 start=$3 users code
  shift 3
  log "$label: capacity search ($SCENARIO, SLO $SLO), then phases 0.5,2,3,5,0.5 of $PHASE each (open model)"
  code=0
  "${LOAD[@]}" stress --scenario "$SCENARIO" --target "$target" --users-file "$WORK/users-$label.json" --slo "$SLO" \
    --start "$start" --warmup "$WARMUP" --step "$STEP" --cooldown 1s --max-steps "$MAX_STEPS" --max-vus "$MAX_VUS" \
    --phases 0.5,2,3,5,0.5 --phase-duration "$PHASE" --expect "$EXPECT_OPEN" \
    --json "$OUT/$label-open.json" --html "$OUT/$label-open.html" --quiet "$@" >&2 || code=$?
  echo "$code" >"$OUT/$label-open.code"
  users="$(jq -r '(.capacity.equivalent_users // 0) | round' "$OUT/$label-open.json" 2>/dev/null || echo 0)"
  if [ "${users:-0}" -lt 2 ]; then
    log "$label: no capacity found, so no closed-model run"
    echo 1 >"$OUT/$label-closed.code"
    return 0
  fi
  log "$label: closed model, capacity $users users at $THINK think time, phases 0.5,3,0.5 of $PHASE each"
  code=0
  "${LOAD[@]}" stress --scenario "$SCENARIO" --target "$target" --users-file "$WORK/users-$label.json" --slo "$SLO" \
    --vus --capacity "$users" --think "$THINK" --phases 0.5,3,0.5 --phase-duration "$PHASE" --expect "$EXPECT_CLOSED" \
    --json "$OUT/$label-closed.json" --html "$OUT/$label-closed.html" --quiet "$@" >&2 || code=$?
  echo "$code" >"$OUT/$label-closed.code"
}

# 1. Embedded.
LABELS=()
if [ "$SKIP_EMBEDDED" != 1 ]; then
  PORT="$(free_port)"
  EMBEDDED="http://$HOST:$PORT"
  mkdir -p "$WORK/data"
  log "start the embedded Tally on $EMBEDDED"
  (
    cd "$WORK"
    exec env Admin__Secret="$ADMIN_SECRET" "${RECIPE[@]}" Storage__DataDirectory="$WORK/data" Logging__LogLevel__Default=Warning \
      dotnet "$WORK/Tally.Server/Tally.Server.dll" --urls "$EMBEDDED"
  ) >"$WORK/embedded.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$EMBEDDED"
  log "seed $USERS users"
  "${LOAD[@]}" seed --users "$USERS" --workers 20 --out "$WORK/users-embedded.json" --target "$EMBEDDED" --quiet >&2
  stress_pair embedded "$EMBEDDED" "$START"
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  LABELS+=(embedded)
fi

# 2. Cluster, through the gateway; memory is read from api-1's /metrics (the gateway's own is not Tally's).
if [ "$SKIP_CLUSTER" != 1 ]; then
  log "scripts/cluster.sh up (2 api + 2 workers, PostgreSQL, RabbitMQ, Redis with Sentinel, the gateway)"
  CLUSTER_UP=1
  TALLY_CLUSTER_EXTRA_ENV="${RECIPE[*]}" TALLY_CLUSTER_GATEWAY_EXTRA_ENV="${GATEWAY_RECIPE[*]}" \
    "$ROOT/scripts/cluster.sh" up >/dev/null
  # shellcheck source=/dev/null
  . "$TALLY_CLUSTER_DIR/env.sh"
  API1="${TALLY_API_URLS%% *}"
  log "seed $USERS users through the gateway $TALLY_GATEWAY_URL"
  "${LOAD[@]}" seed --users "$USERS" --workers 20 --out "$WORK/users-cluster.json" --target "$TALLY_GATEWAY_URL" --quiet >&2
  stress_pair cluster "$TALLY_GATEWAY_URL" "$CLUSTER_START" --server-metrics "$API1/metrics"
  LABELS+=(cluster)
fi

echo
echo "tally-load stress, scenario $SCENARIO, SLO $SLO, phases of $PHASE; goodput = successes within the SLO latency per second"
echo "of cap. = goodput over the capacity's req/s; refused = 503/429 with Retry-After; latencies in ms; WS = server working set;"
echo "1-user max = the slowest answer (success or refusal) a user sending one request at a time waited for"
printf '%-16s %-12s %5s %10s %10s %10s %7s %9s %11s %11s %8s %8s %7s %10s %11s %9s\n' \
  run phase "×" target offered/s goodput/s "of cap." refused "refused p99" "accepted p99" errors "no upstr" "WS ×" "1-user max" "CPU srv/gen" recovery
STATUS=0
for label in "${LABELS[@]}"; do
  for model in open closed; do
    json="$OUT/$label-$model.json"
    [ -f "$json" ] && jq -e '.stress' "$json" >/dev/null 2>&1 || { printf '%-16s (no result)\n' "$label-$model"; STATUS=1; continue; }
    jq -r --arg run "$label-$model" '.stress.phases[] | [$run, "\(.index) \(.role)", .multiplier, .target, .offered_rps, .goodput_rps,
        .goodput_fraction, .refused, (if .refused > 0 then .refused_latency.p99 else "-" end),
        (if .accepted > 0 then .accepted_latency.p99 else "-" end), .errors, .no_healthy_upstream, (.memory_ratio // "-"),
        (.probe.max // "-"), "\(.server_cpu_percent_mean // "-" | if type == "number" then round else . end)/\(.generator_cpu_percent_mean // "-" | if type == "number" then round else . end)", (if .role == "recovery" then (.recovery_seconds // "never") else "" end)] | @tsv' "$json" \
      | while IFS=$'\t' read -r run phase x target offered goodput frac refused rp99 ap99 errors nhu ws probe cpu rec; do
          printf '%-16s %-12s %5s %10.1f %10.1f %10.1f %7.2f %9s %11s %11s %8s %8s %7s %10s %11s %9s\n' \
            "$run" "$phase" "$x" "$target" "$offered" "$goodput" "$frac" "$refused" "$rp99" "$ap99" "$errors" "$nhu" "$ws" "$probe" "$cpu" "$rec"
        done
    code="$(cat "$OUT/$label-$model.code")"
    [ "$code" = 0 ] || STATUS=1
    jq -r --arg run "$label-$model" --arg code "$code" '"\($run): capacity \(.stress.capacity) \(.stress.capacity_unit) (\(.stress.capacity_source), goodput judged against \(.stress.capacity_rps) req/s); expectations \(if .stress.expectations_passed then "met" else "BREACHED: " + ([.stress.expectations[] | select(.pass | not) | "\(.expression)\(if .phase != null then "@phase \(.phase)" else "" end)=\(.actual // .note)"] | join(", ")) end); audit \(if .audit == null then "not run" elif .audit.ok then "ok" else "FAILED" end); exit \($code)"' "$json"
  done
done
echo "reports (JSON and HTML): $OUT"
exit "$STATUS"
