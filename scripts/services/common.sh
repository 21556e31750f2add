# shellcheck shell=bash disable=SC2034 # the state paths, RABBIT_NODE and SENTINELS are read by the other files
# Shared by every part of scripts/services.sh (sourced, never run on its own): logging, the exit
# cleanups, wait and pid helpers, running as another user, and the state folder (its paths, its
# lock, the free ports it records, and its config.sh).

readonly SAFE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---------------------------------------------------------------------------------------------
# small helpers

log() { printf '[services %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Show the end of a log file on stderr (for error reports).
tail_log() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 25 "$f" >&2 || true
  done
}

# Cleanup actions run (last first) when the script exits, whatever the reason
# (scripts/services.sh sets the traps that call on_exit).
CLEANUPS=()
on_exit() {
  local rc=$? i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUPS[i]}" || true
  done
  exit "$rc"
}

# wait_until <seconds> <cmd...>: poll every 0.2 s; 0 once cmd succeeds, 1 at the deadline.
wait_until() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# A pid that exists and is not a zombie.
pid_alive() {
  local pid=$1 st
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# pid_from <pidfile>: print the first line of a pidfile (empty if missing).
pid_from() {
  if [[ -r $1 ]]; then head -n 1 "$1" 2>/dev/null | tr -dc '0-9' || true; fi
}

# pid_ok <pid> <substring>: the pid runs and its command line contains the substring
# (guards against a recycled pid).
pid_ok() {
  local pid=$1 want=$2 cmd
  pid_alive "$pid" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$want"* ]]
}

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Random hex secret (no characters that need quoting in URIs or configs).
secret() { od -An -tx1 -N"${1:-16}" /dev/urandom | tr -d ' \n'; }

# run as another user with a clean environment: as <user> [VAR=value ...] cmd...
as() {
  local user=$1
  shift
  setpriv --reuid="$user" --regid="$user" --init-groups -- \
    env -i PATH="$SAFE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"
}

# ---------------------------------------------------------------------------------------------
# state folder, ports

resolve_state() {
  [[ -n $STATE ]] || die "TALLY_SERVICES_DIR is empty"
  STATE=$(realpath -m -- "$STATE")
  [[ $STATE != *[[:space:]\'\"]* ]] || die "state folder path must not contain spaces or quotes: $STATE"
  case "$STATE" in
    / | /tmp | /root | /home | /usr | /var | /etc | /work) die "refusing state folder $STATE" ;;
  esac
  PG="$STATE/pg"
  RD="$STATE/redis"
  RB="$STATE/rabbitmq"
  CONFIG="$STATE/config.sh"
  LOCK="$STATE.lock"
}

lock_state() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$LOCK"
  if ! flock -w "$TIMEOUT" 9; then
    die "another $ME holds $LOCK for more than ${TIMEOUT}s"
  fi
}

PICKED=" "
port_taken() {
  ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q . && return 0
  [[ $PICKED == *" $1 "* ]]
}
# pick_port VAR: a free port below the ephemeral range (32768+), so clients can't steal it.
pick_port() {
  local i p
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    port_taken "$p" && continue
    PICKED+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free loopback port found in 20000-31999"
}

# config.sh (ports, passwords, PG_BIN) is written once, by the first `up` (lifecycle.sh).
load_config() {
  [[ -f $CONFIG ]] || die "no $CONFIG"
  # shellcheck source=/dev/null
  . "$CONFIG"
  RABBIT_NODE="tally-$RABBIT_PORT@localhost"
  read -r -a SENTINELS <<<"$SENTINEL_PORTS"
}

# The commands that act on a running set: it must have been set up completely; lock it, load it.
need_state() {
  resolve_state
  [[ -f $STATE/.initialized && -f $CONFIG ]] || die "no running services in $STATE (run '$ME up')"
  lock_state
  if [[ -f $STATE/.ha ]]; then
    # the HA profile (ha.sh): the Redis helpers work as they are; RabbitMQ commands go to node 1
    ha_load_config
    RD="$STATE/redis"
    rb_select 1
  else
    load_config
  fi
}
