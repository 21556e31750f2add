#!/usr/bin/env bash
# Tally as a small cluster on this machine: the private servers of scripts/services.sh (PostgreSQL,
# Redis with Sentinel, RabbitMQ), then 2 api instances and 2 workers of Tally.Server, and
# Tally.Gateway in front of the api instances. Everything listens on 127.0.0.1, on free ports,
# under one state folder.
#
#   scripts/cluster.sh up       # build (Release), start what is not running, print the gateway URL
#   scripts/cluster.sh up --ha  # the same on the HA servers (services.sh up --ha: Patroni, 3 RabbitMQ nodes)
#   scripts/cluster.sh status   # one line per process; exit 0 only if all run
#   scripts/cluster.sh down     # stop the gateway, the api instances, the workers, then the servers
#
# stdout carries only the gateway URL (for `up`); progress goes to stderr.
# TALLY_CLUSTER_EXTRA_ENV and TALLY_CLUSTER_GATEWAY_EXTRA_ENV add space-separated VAR=value settings
# to the Tally processes and to the gateway, e.g. TALLY_CLUSTER_EXTRA_ENV="Auth__PasswordIterations=1000".
set -euo pipefail

readonly ME="scripts/cluster.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="${TALLY_CLUSTER_DIR:-/tmp/tally-cluster}"
TIMEOUT="${TALLY_CLUSTER_TIMEOUT:-90}"
readonly CONFIGURATION="${TALLY_CLUSTER_CONFIGURATION:-Release}"
readonly SERVER_DLL="$ROOT/src/Tally.Server/bin/$CONFIGURATION/net10.0/Tally.Server.dll"
readonly GATEWAY_DLL="$ROOT/src/Tally.Gateway/bin/$CONFIGURATION/net10.0/Tally.Gateway.dll"
# name:role, in start order; the gateway comes last
readonly TALLY_PROCESSES=(worker-1:worker worker-2:worker api-1:api api-2:api)

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

resolve_state() {
  [[ -n $STATE ]] || die "TALLY_CLUSTER_DIR is empty"
  STATE=$(realpath -m -- "$STATE")
  case "$STATE" in
    / | /tmp | /root | /home | /usr | /var | /etc | /work) die "refusing state folder $STATE" ;;
  esac
  export TALLY_SERVICES_DIR="$STATE/services"
}

# A pid that runs, is not a zombie, and whose command line contains the given text (guards against reuse).
pid_ok() {
  local pid=$1 want=$2 st cmd
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
  st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$want"* ]]
}

pid_of() { [[ -r $STATE/$1.pid ]] && head -n 1 "$STATE/$1.pid" | tr -dc '0-9' || true; }
port_of() { [[ -r $STATE/$1.port ]] && head -n 1 "$STATE/$1.port" | tr -dc '0-9' || true; }
running() { local pid port; pid=$(pid_of "$1"); port=$(port_of "$1"); [[ -n $pid && -n $port ]] && pid_ok "$pid" "127.0.0.1:$port"; }

PICKED=" "
pick_port() {
  local i p
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && continue
    [[ $PICKED == *" $p "* ]] && continue
    PICKED+="$p "
    echo "$p"
    return 0
  done
  die "no free loopback port found in 20000-31999"
}

# wait_ready <name> <url>: poll /ready until 200; fail with the process's log at the deadline.
wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + TIMEOUT))
  until curl -fsS -o /dev/null --max-time 2 "$url/ready" 2>/dev/null; do
    if ! running "$name"; then
      tail -n 30 "$STATE/$name.log" >&2 || true
      die "$name exited while starting"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$STATE/$name.log" >&2 || true
      die "$name was not ready within ${TIMEOUT}s"
    fi
    sleep 0.3
  done
}

# start <name> <dll> [VAR=value ...]: start one .NET process in the background on its recorded port.
start() {
  local name=$1 dll=$2 port
  shift 2
  port=$(port_of "$name")
  if [[ -z $port ]]; then
    port=$(pick_port)
    echo "$port" >"$STATE/$name.port"
  fi
  log "starting $name on 127.0.0.1:$port"
  (
    cd "$STATE"
    exec 9>&-
    exec env "$@" setsid dotnet "$dll" --urls "http://127.0.0.1:$port" >>"$STATE/$name.log" 2>&1 </dev/null
  ) &
  echo $! >"$STATE/$name.pid"
}

build() {
  if [[ ${TALLY_CLUSTER_NO_BUILD:-0} == 1 && -f $SERVER_DLL && -f $GATEWAY_DLL ]]; then
    return
  fi
  log "building Tally.Server and Tally.Gateway ($CONFIGURATION)"
  dotnet build "$ROOT/src/Tally.Server/Tally.Server.csproj" -c "$CONFIGURATION" -nologo -v q >&2
  dotnet build "$ROOT/src/Tally.Gateway/Tally.Gateway.csproj" -c "$CONFIGURATION" -nologo -v q >&2
}

cmd_up() {
  local profile=()
  if [[ ${1:-} == --ha ]]; then profile=(--ha); fi
  command -v curl >/dev/null || die "curl is required"
  # Not private as a whole: the services' own users (postgres, redis, rabbitmq) work inside it.
  mkdir -p "$STATE"
  exec 9>"$STATE.lock"
  flock -w "$TIMEOUT" 9 || die "another $ME holds $STATE.lock"
  build

  log "starting PostgreSQL, Redis with Sentinel and RabbitMQ (scripts/services.sh up ${profile[*]})"
  local services
  services=$("$ROOT/scripts/services.sh" up "${profile[@]}" 9>&-)
  # services.sh keeps a state folder's profile: a plain `up` of an HA cluster restarts the HA servers.
  Bus__RabbitMq__Endpoints=""
  Bus__RabbitMq__QueueType=""
  eval "$services"

  if [[ ! -f $STATE/cluster.env ]]; then
    (
      umask 077
      printf 'export Auth__SigningKey=%q\n' "$(head -c 32 /dev/urandom | base64)" >"$STATE/cluster.env"
      printf 'export Admin__Secret=%q\n' "${TALLY_ADMIN_SECRET:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}" >>"$STATE/cluster.env"
    )
  fi
  # shellcheck source=/dev/null
  . "$STATE/cluster.env"

  local common=(
    "Storage__Provider=Postgres" "Bus__Transport=RabbitMq"
    "ConnectionStrings__Postgres=$ConnectionStrings__Postgres"
    "ConnectionStrings__RabbitMq=$ConnectionStrings__RabbitMq"
    "Bus__RabbitMq__Endpoints=$Bus__RabbitMq__Endpoints"
    "Bus__RabbitMq__QueueType=$Bus__RabbitMq__QueueType"
    "Cache__Redis=$Cache__Redis"
    "Auth__SigningKey=$Auth__SigningKey" "Admin__Secret=$Admin__Secret"
    "Logging__LogLevel__Default=${TALLY_CLUSTER_LOG_LEVEL:-Warning}"
  )
  local extra=() gateway_extra=()
  read -r -a extra <<<"${TALLY_CLUSTER_EXTRA_ENV:-}"
  read -r -a gateway_extra <<<"${TALLY_CLUSTER_GATEWAY_EXTRA_ENV:-}"
  common+=("${extra[@]}")
  local entry name role
  for entry in "${TALLY_PROCESSES[@]}"; do
    name=${entry%%:*}
    role=${entry#*:}
    running "$name" || start "$name" "$SERVER_DLL" "${common[@]}" "Role=$role"
  done
  for entry in "${TALLY_PROCESSES[@]}"; do
    name=${entry%%:*}
    wait_ready "$name" "http://127.0.0.1:$(port_of "$name")"
  done

  if ! running gateway; then
    start gateway "$GATEWAY_DLL" \
      "Gateway__Backends__0=http://127.0.0.1:$(port_of api-1)" \
      "Gateway__Backends__1=http://127.0.0.1:$(port_of api-2)" \
      "Logging__LogLevel__Default=${TALLY_CLUSTER_LOG_LEVEL:-Warning}" "${gateway_extra[@]}"
  fi
  wait_ready gateway "http://127.0.0.1:$(port_of gateway)"

  (
    umask 077
    printf 'export TALLY_GATEWAY_URL=%q\n' "http://127.0.0.1:$(port_of gateway)"
    printf 'export TALLY_API_URLS=%q\n' "http://127.0.0.1:$(port_of api-1) http://127.0.0.1:$(port_of api-2)"
    printf 'export TALLY_ADMIN_SECRET=%q\n' "$Admin__Secret"
  ) >"$STATE/env.sh"
  log "up: gateway http://127.0.0.1:$(port_of gateway) -> api-1 :$(port_of api-1), api-2 :$(port_of api-2); workers :$(port_of worker-1), :$(port_of worker-2); logs in $STATE"
  echo "http://127.0.0.1:$(port_of gateway)"
}

# stop <name>: SIGTERM (a graceful ASP.NET Core shutdown), then SIGKILL at the deadline.
stop() {
  local name=$1 pid deadline
  pid=$(pid_of "$name")
  if running "$name"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while running "$name" && ((SECONDS < deadline)); do sleep 0.2; done
    if running "$name"; then
      log "$name did not stop in 20 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/$name.pid"
}

cmd_down() {
  [[ -d $STATE ]] || { log "nothing to stop: no $STATE"; return 0; }
  exec 9>"$STATE.lock"
  flock -w "$TIMEOUT" 9 || die "another $ME holds $STATE.lock"
  local entry
  stop gateway
  for entry in api-1:api api-2:api worker-1:worker worker-2:worker; do
    stop "${entry%%:*}"
  done
  "$ROOT/scripts/services.sh" down 9>&-
  rm -rf -- "$STATE"
  rm -f -- "$STATE.lock"
  log "down"
}

cmd_status() {
  [[ -d $STATE ]] || { echo "no cluster: $STATE does not exist"; return 3; }
  local rc=0 entry name
  for entry in "${TALLY_PROCESSES[@]}" gateway:gateway; do
    name=${entry%%:*}
    if running "$name"; then
      printf '%-9s running  pid %-7s http://127.0.0.1:%s\n' "$name" "$(pid_of "$name")" "$(port_of "$name")"
    else
      printf '%-9s stopped\n' "$name"
      rc=1
    fi
  done
  "$ROOT/scripts/services.sh" status || rc=1
  return "$rc"
}

main() {
  resolve_state
  case "${1:-}" in
    up) cmd_up "${2:-}" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
      echo "usage: $ME up [--ha]|down|status" >&2
      exit 2
      ;;
  esac
}

main "$@"
