#!/usr/bin/env bash
# Scale-out through Tally.Gateway, in one run, on loopback:
#   1. the gateway's added latency: the same fixed-rate `balance` run straight at an api instance and
#      through the gateway (p50 and p99, and their difference);
#   2. the SLO-bounded capacity (tally-load `capacity`, open model) through the gateway with 1 api
#      instance pinned to core 0, then with 2 (core 0 and core 1), then with 1 again, and the ratio,
#      for two scenarios: `login` (PBKDF2 per request: the work is in the api tier) and `balance`
#      (a cached read: the api's work per request is no bigger than the gateway's or the generator's).
# Storage is PostgreSQL (scripts/services.sh, private instance) so that both instances serve the same
# users and ledger, as a real cluster does; each instance runs Role=all with its in-process bus and
# its own in-memory cache; pinned with taskset, .NET reads the affinity mask and sizes itself (thread
# pool, GC heaps) as a 1-core machine.
# Bounded: every run has a fixed duration; capacity searches stop after --max-steps.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
HOST="127.0.0.1"
USERS="${USERS:-500}"
SLO="${SLO:-p95<300ms,errors<1%}"
LAT_RATE="${LAT_RATE:-500}"
LAT_DURATION="${LAT_DURATION:-10s}"
LAT_ROUNDS="${LAT_ROUNDS:-3}"
STEP="${STEP:-5s}"
MAX_STEPS="${MAX_STEPS:-14}"
# PBKDF2 cost of the seeded passwords: Tally's default, so a login costs what it costs in production
# (about 20 ms of one core here) and its work is in the api tier, not in the gateway or the generator.
ITERATIONS="${ITERATIONS:-100000}"
read -r -a SCENARIOS <<<"${SCENARIOS:-login balance}"
TARGET_RATIO="1.6"
TARGET_ADDED_P50_MS="0.5"



ensure_commands curl:curl jq:jq taskset:util-linux bc:bc python3:python3

WORK="$(mktemp -d -t tally-gateway-bench.XXXXXX)"
# PostgreSQL, Redis and RabbitMQ run as their own users inside it.
chmod 755 "$WORK"
PIDS=()
export TALLY_SERVICES_DIR="$WORK/services"
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  "$ROOT/scripts/services.sh" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


wait_ready() {
  local url=$1
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 2 "$url/ready" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "error: $url was not ready in 60 s" >&2
  tail -n 20 "$WORK"/*.log >&2 || true
  exit 1
}

log "publish Tally.Server, Tally.Gateway and tally-load (Release)"
for project in Tally.Server Tally.Gateway Tally.Load; do
  dotnet publish "src/$project/$project.csproj" -c Release -o "$WORK/$project" --nologo -v quiet >"$WORK/publish-$project.log" 2>&1 \
    || { cat "$WORK/publish-$project.log" >&2; exit 1; }
done

log "start PostgreSQL (scripts/services.sh)"
SERVICES="$("$ROOT/scripts/services.sh" up)" || { echo "error: scripts/services.sh up failed" >&2; exit 1; }
eval "$SERVICES"

SIGNING_KEY="$(head -c 32 /dev/urandom | base64)"
ADMIN_SECRET="bench-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
export TALLY_ADMIN_SECRET="$ADMIN_SECRET"

# start_api <name> <core>: one api instance pinned to one core; sets URL.
URL=""
start_api() {
  local name=$1 core=$2 port
  port="$(free_port)"
  (
    cd "$WORK"
    exec env Storage__Provider=Postgres ConnectionStrings__Postgres="$ConnectionStrings__Postgres" \
      Auth__SigningKey="$SIGNING_KEY" Admin__Secret="$ADMIN_SECRET" Auth__PasswordIterations="$ITERATIONS" \
      Auth__LoginPermitsPerIpPerMinute=100000000 Auth__LoginPermitsPerPhonePerMinute=100000000 Auth__RegistrationsPerIpPerMinute=100000000 \
      Logging__LogLevel__Default=Warning \
      taskset -c "$core" dotnet "$WORK/Tally.Server/Tally.Server.dll" --urls "http://$HOST:$port" >"$WORK/$name.log" 2>&1
  ) &
  PIDS+=("$!")
  URL="http://$HOST:$port"
}

# start_gateway <backend...>: the gateway (not pinned), limits raised so that only the instances bound throughput; sets URL.
GATEWAY_PID=""
start_gateway() {
  local port i=0 settings=()
  port="$(free_port)"
  for backend in "$@"; do
    settings+=("Gateway__Backends__$i=$backend")
    i=$((i + 1))
  done
  (
    cd "$WORK"
    exec env "${settings[@]}" Gateway__RateLimits__PerIpPerSecond=10000000 Gateway__RateLimits__PerIpBurst=10000000 \
      Gateway__RateLimits__PerSessionPerSecond=10000000 Gateway__RateLimits__PerSessionBurst=10000000 \
      Gateway__RateLimits__LoginPerIpPerMinute=10000000 Logging__LogLevel__Default=Warning \
      dotnet "$WORK/Tally.Gateway/Tally.Gateway.dll" --urls "http://$HOST:$port" >"$WORK/gateway-$#.log" 2>&1
  ) &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  URL="http://$HOST:$port"
}

LOAD=(dotnet "$WORK/Tally.Load/Tally.Load.dll")

start_api api-1 0
API1="$URL"
wait_ready "$API1"
start_gateway "$API1"
GW1="$URL"
wait_ready "$GW1"

log "seed $USERS users"
"${LOAD[@]}" seed --users "$USERS" --workers 20 --out "$WORK/users.json" --target "$API1" >&2

# Direct and through the gateway, alternating for LAT_ROUNDS rounds: the machine's drift between two runs is of the
# order of the figure itself, so each round's difference is taken, and the median of the rounds is reported.
log "added latency: balance at $LAT_RATE req/s, $LAT_ROUNDS rounds of $LAT_DURATION direct then through the gateway (after a warm-up of each)"
for target in "$API1" "$GW1"; do
  "${LOAD[@]}" run --scenario balance --rate "$LAT_RATE" --duration 5s --target "$target" --users-file "$WORK/users.json" --no-audit --quiet >/dev/null 2>&1 || true
done
for round in $(seq 1 "$LAT_ROUNDS"); do
  "${LOAD[@]}" run --scenario balance --rate "$LAT_RATE" --duration "$LAT_DURATION" --target "$API1" --users-file "$WORK/users.json" \
    --no-audit --quiet --server-metrics off --json "$WORK/direct-$round.json" >&2 || true
  "${LOAD[@]}" run --scenario balance --rate "$LAT_RATE" --duration "$LAT_DURATION" --target "$GW1" --users-file "$WORK/users.json" \
    --no-audit --quiet --server-metrics off --json "$WORK/via-gateway-$round.json" >&2 || true
done

# capacity <target> <label>: one capacity search per scenario, into cap-<label>-<scenario>.json.
capacity() {
  local target=$1 label=$2 scenario start
  for scenario in "${SCENARIOS[@]}"; do
    start=100
    [ "$scenario" = login ] && start=20
    log "capacity of $scenario through the gateway, $label; SLO $SLO"
    "${LOAD[@]}" capacity --scenario "$scenario" --slo "$SLO" --target "$target" --users-file "$WORK/users.json" \
      --start "$start" --factor 2 --warmup 2s --step "$STEP" --cooldown 1s --max-steps "$MAX_STEPS" \
      --server-metrics off --json "$WORK/cap-$label-$scenario.json" >&2 || true
  done
}

capacity "$GW1" 1a

log "second api instance (core 1), and a gateway over both"
kill "$GATEWAY_PID"
wait "$GATEWAY_PID" 2>/dev/null || true
start_api api-2 1
API2="$URL"
wait_ready "$API2"
start_gateway "$API1" "$API2"
GW2="$URL"
wait_ready "$GW2"
for _ in $(seq 1 100); do
  curl -fsS "$GW2/ready" | grep -q '2 of 2 instances healthy' && break
  sleep 0.2
done

capacity "$GW2" 2

# The machine is shared: measure 1 instance again after 2, so that drift between the runs shows.
log "1 api instance again (core 0), behind a fresh gateway"
kill "$GATEWAY_PID" "${PIDS[-2]}"
wait "$GATEWAY_PID" "${PIDS[-2]}" 2>/dev/null || true
start_gateway "$API1"
GW3="$URL"
wait_ready "$GW3"
capacity "$GW3" 1b

field() { jq -r "$2 // \"nan\"" "$1" 2>/dev/null || echo nan; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "gateway added latency (balance, $LAT_RATE req/s open model, $LAT_ROUNDS rounds of $LAT_DURATION each way; ms)"
ADDED50=()
ADDED99=()
for round in $(seq 1 "$LAT_ROUNDS"); do
  D50="$(field "$WORK/direct-$round.json" .summary.latency.p50)"
  D99="$(field "$WORK/direct-$round.json" .summary.latency.p99)"
  G50="$(field "$WORK/via-gateway-$round.json" .summary.latency.p50)"
  G99="$(field "$WORK/via-gateway-$round.json" .summary.latency.p99)"
  ERRORS="$(field "$WORK/direct-$round.json" .summary.errors) / $(field "$WORK/via-gateway-$round.json" .summary.errors)"
  ADDED50+=("$(echo "$G50 - $D50" | bc -l 2>/dev/null || echo nan)")
  ADDED99+=("$(echo "$G99 - $D99" | bc -l 2>/dev/null || echo nan)")
  printf '  round %s  direct p50 %7.3f p99 %7.3f   gateway p50 %7.3f p99 %7.3f   added p50 %7.3f p99 %7.3f   errors %s\n' \
    "$round" "$D50" "$D99" "$G50" "$G99" "${ADDED50[-1]}" "${ADDED99[-1]}" "$ERRORS"
done
printf '  added, median of the rounds: p50 %.3f   p99 %.3f   (target p50 <= %s ms)\n' \
  "$(printf '%s\n' "${ADDED50[@]}" | median)" "$(printf '%s\n' "${ADDED99[@]}" | median)" "$TARGET_ADDED_P50_MS"
echo
for scenario in "${SCENARIOS[@]}"; do
  C1="$(field "$WORK/cap-1a-$scenario.json" .capacity.max_sustainable_rps)"
  C2="$(field "$WORK/cap-2-$scenario.json" .capacity.max_sustainable_rps)"
  C1B="$(field "$WORK/cap-1b-$scenario.json" .capacity.max_sustainable_rps)"
  # Against the better of the two 1-instance runs, so that a bad moment for one of them can't flatter the ratio.
  C1BEST="$(echo "if ($C1 > $C1B) $C1 else $C1B" | bc -l 2>/dev/null || echo nan)"
  RATIO="$(echo "scale=2; $C2 / $C1BEST" | bc -l 2>/dev/null || echo nan)"
  echo "capacity through the gateway: $scenario, SLO $SLO"
  printf '  1 api instance  (core 0)       %10.1f req/s\n' "$C1"
  printf '  2 api instances (cores 0, 1)   %10.1f req/s\n' "$C2"
  printf '  1 api instance  again          %10.1f req/s\n' "$C1B"
  printf '  ratio 2 / best of the 1s       %10s   (target >= %s)\n' "$RATIO" "$TARGET_RATIO"
  echo
done
echo "(one run on a shared 2-core machine: tally-load, the gateway and PostgreSQL share the cores with the instances)"
