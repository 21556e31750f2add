#!/usr/bin/env bash
# Where the CPU goes per transfer, tier by tier, in one run on loopback:
#   1. embedded: one Tally.Server (SQLite, in-process bus);
#   2. cluster: scripts/cluster.sh (the gateway, 2 api, 2 workers, PostgreSQL, RabbitMQ, Redis
#      with Sentinel), through the gateway.
# Each gets the same open-model `transfer` load (tally-load, RATE arrivals/s for DURATION, well
# below either capacity so that nothing queues), and the CPU time (utime + stime from /proc) of
# every process of each tier is read before and after, then divided by the transfers the ledger
# committed in that time (admin stats). The generator's own CPU is reported apart.
#   RATE=200 DURATION=20s bench/tier-cpu.sh
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
HOST="127.0.0.1"
RATE="${RATE:-200}"
DURATION="${DURATION:-20s}"
# Long enough for the JIT: a fresh .NET process spends seconds of CPU compiling its hot paths to tier 1.
WARMUP="${WARMUP:-20s}"
USERS="${USERS:-200}"

ensure_commands curl:curl jq:jq python3:python3

WORK="$(mktemp -d -t tally-tier-cpu.XXXXXX)"
chmod 755 "$WORK" # the cluster's servers run as their own users inside it
export TALLY_CLUSTER_DIR="$WORK/cluster"
SERVER_PID=""
CLUSTER_UP=0
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
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
TICKS="$(getconf CLK_TCK)"

# Lines "tier pid" for every process of a run: the Tally processes by their pid files (or the
# embedded server's pid), the servers by what runs with its working folder or command line under
# the services folder, classified by program name.
tier_pids() {
  local label=$1 pid comm cwd cmd
  if [ "$label" = embedded ]; then
    echo "server $SERVER_PID"
    return 0
  fi
  for name in gateway api-1 api-2 worker-1 worker-2; do
    pid="$(head -n 1 "$TALLY_CLUSTER_DIR/$name.pid" 2>/dev/null | tr -dc '0-9')"
    [ -n "$pid" ] && echo "${name%-[0-9]} $pid"
  done
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    cwd="$(readlink "$dir/cwd" 2>/dev/null || true)"
    cmd="$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline" || true)"
    case "$cwd $cmd" in
      *"$TALLY_CLUSTER_DIR/services"*) ;;
      *) continue ;;
    esac
    comm="$(cat "$dir/comm" 2>/dev/null || true)"
    case "$comm" in
      postgres*) echo "postgres $pid" ;;
      beam* | epmd | erl_child_setup | inet_gethost) echo "rabbitmq $pid" ;;
      redis*) echo "redis $pid" ;;
    esac
  done
}

# "pid ticks" for each pid given on stdin as "tier pid", as "tier pid ticks".
cpu_ticks() {
  while read -r tier pid; do
    [ -r "/proc/$pid/stat" ] || continue
    awk -v tier="$tier" -v pid="$pid" '{ sub(/^.*\) /, ""); print tier, pid, $12 + $13 }' "/proc/$pid/stat"
  done
}

committed() { curl -fsS -H "X-Admin-Secret: $ADMIN_SECRET" "$1/api/account/admin/stats" | jq .total_transfers; }

# measure <label> <target>: the load, then "label tier ms_per_transfer" lines in $WORK/<label>.tiers.
measure() {
  local label=$1 target=$2 before after
  log "$label: seed $USERS users"
  "${LOAD[@]}" seed --users "$USERS" --workers 20 --out "$WORK/users-$label.json" --target "$target" --quiet >&2
  log "$label: warm up (transfer, $RATE/s, $WARMUP)"
  "${LOAD[@]}" run --scenario transfer --target "$target" --users-file "$WORK/users-$label.json" --rate "$RATE" \
    --duration "$WARMUP" --server-metrics off --quiet >/dev/null 2>&1 || true
  tier_pids "$label" >"$WORK/$label.pids"
  cpu_ticks <"$WORK/$label.pids" >"$WORK/$label.before"
  before="$(committed "$target")"
  log "$label: transfer, $RATE/s for $DURATION"
  "${LOAD[@]}" run --scenario transfer --target "$target" --users-file "$WORK/users-$label.json" --rate "$RATE" \
    --duration "$DURATION" --server-metrics off --json "$WORK/$label-run.json" --quiet >&2 || true
  after="$(committed "$target")"
  # processes that started during the run (a new database backend) count from zero
  tier_pids "$label" | cpu_ticks >"$WORK/$label.after"
  awk -v label="$label" -v n=$((after - before)) -v hz="$TICKS" '
    FNR == NR { start[$2] = $3; next }
    { used[$1] += $3 - ($2 in start ? start[$2] : 0) }
    END { for (t in used) printf "%s %s %.3f\n", label, t, used[t] * 1000 / hz / n }' \
    "$WORK/$label.before" "$WORK/$label.after" >"$WORK/$label.tiers"
  echo "$label transfers $((after - before))" >>"$WORK/counts"
  jq -r --arg l "$label" '"\($l): \(.summary.requests) requests, p50 \(.summary.latency.p50) ms, p99 \(.summary.latency.p99) ms, errors \(.summary.errors), generator CPU \(.generator_cpu_percent)% of the machine"' \
    "$WORK/$label-run.json" >>"$WORK/counts"
}

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
measure embedded "$EMBEDDED"
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

log "scripts/cluster.sh up"
CLUSTER_UP=1
TALLY_CLUSTER_EXTRA_ENV="${RECIPE[*]}" TALLY_CLUSTER_GATEWAY_EXTRA_ENV="${GATEWAY_RECIPE[*]}" \
  "$ROOT/scripts/cluster.sh" up >/dev/null
# shellcheck source=/dev/null
. "$TALLY_CLUSTER_DIR/env.sh"
measure cluster "$TALLY_GATEWAY_URL"

echo
echo "CPU milliseconds per committed transfer, by tier (transfer scenario, $RATE/s open model, $DURATION; $(nproc) cores)"
printf '%-10s %12s %12s\n' tier embedded cluster
cat "$WORK/embedded.tiers" "$WORK/cluster.tiers" | awk '
  { ms[$2, $1] = $3; tiers[$2] = 1; total[$1] += $3 }
  END {
    n = split("server gateway api worker postgres rabbitmq redis", order, " ")
    for (i = 1; i <= n; i++) {
      t = order[i]
      if (!(t in tiers)) continue
      e = ((t, "embedded") in ms) ? sprintf("%.3f", ms[t, "embedded"]) : "-"
      c = ((t, "cluster") in ms) ? sprintf("%.3f", ms[t, "cluster"]) : "-"
      printf "%-10s %12s %12s\n", t, e, c
    }
    printf "%-10s %12.3f %12.3f\n", "total", total["embedded"], total["cluster"]
    printf "cluster / embedded CPU per transfer: %.2fx\n", total["cluster"] / total["embedded"]
  }'
cat "$WORK/counts"
