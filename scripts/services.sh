#!/usr/bin/env bash
# Private PostgreSQL 15, Redis 7 (master + replica + 3 sentinels) and RabbitMQ 3.10 for Tally,
# on free loopback ports, under one state folder. Never touches the distro's own instances.
#
#   eval "$(scripts/services.sh up)"   # install what is missing, start, print `export` lines
#   scripts/services.sh status         # one line per process; exit 0 only if all run
#   scripts/services.sh down           # stop everything, wait, remove the state folder
#
# See scripts/README.md for every command and the exported variables.
# stdout carries only the export lines (and the few values a command is asked for);
# every log line goes to stderr.
set -euo pipefail

readonly ME="scripts/services.sh"
STATE="${TALLY_SERVICES_DIR:-/tmp/tally-services}"
TIMEOUT="${TALLY_SERVICES_TIMEOUT:-60}"
readonly SAFE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly PACKAGES=(postgresql redis-server redis-sentinel rabbitmq-server)
readonly REDIS_SERVICE=tally

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

# Cleanup actions run (last first) when the script exits, whatever the reason.
CLEANUPS=()
on_exit() {
  local rc=$? i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUPS[i]}" || true
  done
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

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

load_config() {
  [[ -f $CONFIG ]] || die "no $CONFIG"
  # shellcheck source=/dev/null
  . "$CONFIG"
  RABBIT_NODE="tally-$RABBIT_PORT@localhost"
  read -r -a SENTINELS <<<"$SENTINEL_PORTS"
}

# ---------------------------------------------------------------------------------------------
# binaries and installation

pg_bindir() {
  local d
  if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n $d && -x $d/postgres ]] && echo "$d"
}

rabbit_bin() {
  local d
  for d in /usr/lib/rabbitmq/bin /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin; do
    if [[ -x $d/$1 ]]; then
      echo "$d/$1"
      return
    fi
  done
}

pkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]; }

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || echo "$p"
  done
  # tools this script needs (all in Debian's base system, but check)
  command -v setpriv >/dev/null || echo util-linux
  command -v ss >/dev/null || echo iproute2
  command -v pgrep >/dev/null || echo procps
}

install_packages() {
  local missing
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  [[ -z ${missing// /} ]] && return 0

  # one installer at a time, across state folders
  exec 8>/tmp/tally-services-apt.lock
  flock -w 900 8 || die "waited 900 s for another install"
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  if [[ -z ${missing// /} ]]; then
    exec 8>&-
    return 0
  fi

  log "installing: $missing(apt-get update once, then install; distro services kept stopped)"
  local epmd_before=0
  listening 4369 && epmd_before=1

  # policy-rc.d exit 101: invoke-rc.d starts no service during the install
  local policy=/usr/sbin/policy-rc.d backup=""
  if [[ -e $policy ]]; then
    backup=$(mktemp /tmp/tally-policy-rc.d.XXXXXX)
    cp -p "$policy" "$backup"
    CLEANUPS+=("cp -p '$backup' '$policy'; rm -f '$backup'")
  else
    CLEANUPS+=("rm -f '$policy'")
  fi
  printf '#!/bin/sh\n# written by Tally %s during apt-get install\nexit 101\n' "$ME" >"$policy"
  chmod 755 "$policy"

  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # shellcheck disable=SC2086
  {
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends $missing
  } </dev/null >&2 9>&- 8>&- || die "apt-get install $missing failed"

  # belt and braces: if a distro instance came up anyway, stop it (it was started by this install)
  local svc
  for svc in redis-sentinel redis-server rabbitmq-server; do
    [[ " $missing " == *" $svc "* && -x /etc/init.d/$svc ]] || continue
    if timeout 30 /etc/init.d/"$svc" status >/dev/null 2>&1; then
      log "stopping the distro's $svc started by the install"
      timeout 60 /etc/init.d/"$svc" stop >&2 9>&- 8>&- || true
    fi
  done
  if [[ " $missing " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' | while read -r v c; do
      log "stopping the distro's PostgreSQL cluster $v/$c started by the install"
      pg_ctlcluster "$v" "$c" stop -m fast >&2 9>&- 8>&- || true
    done
  fi
  if ((epmd_before == 0)) && listening 4369 && command -v epmd >/dev/null; then
    log "stopping the system epmd (port 4369) started by the install"
    epmd -kill >/dev/null 2>&1 || true
  fi
  exec 8>&-
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_pid() { pid_from "$PG/data/postmaster.pid"; }
pg_running() { pid_ok "$(pg_pid)" postgres; }

pg_init() {
  log "postgres: initdb in $PG/data (port $PG_PORT)"
  mkdir -p "$PG/data" "$PG/run"
  chown -R postgres:postgres "$PG"
  chmod 700 "$PG/data"
  chmod 755 "$PG/run"
  (cd "$PG" && as postgres HOME="$PG" "$PG_BIN/initdb" -D "$PG/data" -U postgres \
    --encoding=UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 --no-sync) \
    >"$PG/initdb.log" 2>&1 || { tail_log "$PG/initdb.log"; die "initdb failed"; }
  cat >>"$PG/data/postgresql.conf" <<EOF

# ---- Tally private test instance ($ME) ----
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG/run'
max_connections = ${TALLY_PG_MAX_CONNECTIONS:-200}
shared_buffers = 256MB
# durability stays on: fsync and synchronous_commit keep their defaults
fsync = on
synchronous_commit = on
full_page_writes = on
wal_buffers = 16MB
max_wal_size = 4GB
min_wal_size = 512MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
effective_cache_size = 8GB
work_mem = 8MB
maintenance_work_mem = 256MB
random_page_cost = 1.1
huge_pages = off
jit = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

pg_start() {
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  (cd "$PG" && as postgres HOME="$PG" "$PG_BIN/pg_ctl" start -D "$PG/data" -l "$PG/postgres.log" \
    -w -t "$TIMEOUT" -o "-k $PG/run") >"$PG/pg_ctl.log" 2>&1 9>&- ||
    { tail_log "$PG/pg_ctl.log" "$PG/postgres.log"; die "postgres did not start within ${TIMEOUT}s"; }
  wait_until "$TIMEOUT" "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
    { tail_log "$PG/postgres.log"; die "postgres not accepting connections within ${TIMEOUT}s"; }
}

pg_provision() {
  log "postgres: creating role and database tally"
  "$PG_BIN/psql" -h "$PG/run" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >&2 <<SQL
CREATE ROLE tally LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
CREATE DATABASE tally OWNER tally;
SQL
}

pg_stop() {
  pg_running || return 0
  log "postgres: stopping (fast)"
  (cd "$PG" && as postgres HOME="$PG" "$PG_BIN/pg_ctl" stop -D "$PG/data" -m fast -w -t "$TIMEOUT") \
    >>"$PG/pg_ctl.log" 2>&1 || log "postgres: pg_ctl stop failed (see $PG/pg_ctl.log)"
}

# ---------------------------------------------------------------------------------------------
# Redis: master, replica, 3 sentinels (each: <dir>/{conf,pid,log})

redis_nodes() { echo master replica sentinel-1 sentinel-2 sentinel-3; }
redis_port_of() {
  case $1 in
    master) echo "$REDIS_MASTER_PORT" ;;
    replica) echo "$REDIS_REPLICA_PORT" ;;
    sentinel-*) echo "${SENTINELS[${1#sentinel-} - 1]}" ;;
  esac
}
redis_pid() { pid_from "$RD/$1/redis.pid"; }
redis_running() { pid_ok "$(redis_pid "$1")" "127.0.0.1:$(redis_port_of "$1") "; }
rcli() { local p=$1; shift; timeout 5 redis-cli -h 127.0.0.1 -p "$p" "$@"; }
rping() { [[ $(rcli "$1" PING 2>/dev/null) == PONG ]]; }

redis_init() {
  local node port dir
  for node in $(redis_nodes); do
    port=$(redis_port_of "$node")
    dir="$RD/$node"
    mkdir -p "$dir"
    {
      echo "# Tally private test instance ($ME): $node"
      echo "bind 127.0.0.1"
      echo "port $port"
      echo "daemonize yes"
      echo "pidfile $dir/redis.pid"
      echo "logfile $dir/redis.log"
      echo "dir $dir"
    } >"$dir/redis.conf"
    case $node in
      master | replica)
        cat >>"$dir/redis.conf" <<EOF
protected-mode no
save ""
appendonly no
repl-diskless-sync yes
repl-diskless-sync-delay 0
replica-read-only yes
replica-priority 100
EOF
        [[ $node == replica ]] && echo "replicaof 127.0.0.1 $REDIS_MASTER_PORT" >>"$dir/redis.conf"
        ;;
      sentinel-*)
        cat >>"$dir/redis.conf" <<EOF
protected-mode no
sentinel resolve-hostnames no
sentinel announce-hostnames no
sentinel monitor $REDIS_SERVICE 127.0.0.1 $REDIS_MASTER_PORT 2
sentinel down-after-milliseconds $REDIS_SERVICE 2000
sentinel failover-timeout $REDIS_SERVICE 5000
sentinel parallel-syncs $REDIS_SERVICE 1
EOF
        ;;
    esac
  done
  chown -R redis:redis "$RD"
  chmod 750 "$RD"
}

redis_start() {
  local node=$1 port dir bin
  port=$(redis_port_of "$node")
  dir="$RD/$node"
  bin=redis-server
  if [[ $node == sentinel-* ]]; then
    bin=$(command -v redis-sentinel || true)
    [[ -n $bin ]] || bin="redis-server"
  fi
  local extra=()
  if [[ $node == sentinel-* && $bin == redis-server ]]; then
    extra=(--sentinel)
  elif [[ $node != sentinel-* && -f $STATE/.initialized ]]; then
    # a data node restarted after a failover rejoins as a replica of the sentinels' master at
    # once (instead of coming back as a second master until a sentinel converts it)
    local m
    m=$(current_master 2>/dev/null || true)
    [[ -n $m && $m != "$port" ]] && extra=(--replicaof 127.0.0.1 "$m")
  fi
  log "redis: starting $node on 127.0.0.1:$port ${extra[*]}"
  rm -f "$dir/redis.pid"
  (cd "$dir" && as redis HOME="$dir" "$bin" "$dir/redis.conf" "${extra[@]}") 9>&- >&2
  wait_until "$TIMEOUT" rping "$port" ||
    { tail_log "$dir/redis.log"; die "redis $node did not answer PING on $port within ${TIMEOUT}s"; }
  wait_until 10 redis_running "$node" ||
    { tail_log "$dir/redis.log"; die "redis $node: no pidfile $dir/redis.pid"; }
}

replica_linked() { rcli "$1" INFO replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up'; }

# field <key>: value after <key> in a flat key/value list on stdin (redis-cli --raw output)
field() { awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }

sentinel_master_port() { rcli "$1" --raw SENTINEL get-master-addr-by-name "$REDIS_SERVICE" 2>/dev/null | sed -n 2p; }

# A sentinel is ready when it knows a master that is up, a replica that is up and
# the 2 other sentinels (so quorum and failover work).
sentinel_ready() {
  local s=$1 m flags others good
  m=$(rcli "$s" --raw SENTINEL master "$REDIS_SERVICE" 2>/dev/null) || return 1
  flags=$(field flags <<<"$m")
  others=$(field num-other-sentinels <<<"$m")
  [[ $flags == master && $others == 2 ]] || return 1
  good=$(rcli "$s" --raw SENTINEL replicas "$REDIS_SERVICE" 2>/dev/null |
    awk 'prev == "flags" && $0 == "slave" { n++ } { prev = $0 } END { print n + 0 }')
  ((good >= 1))
}
# replica_of <port> <master port>: the node on <port> replicates <master port> with its link up.
replica_of() {
  local info
  info=$(rcli "$1" INFO replication 2>/dev/null | tr -d '\r') || return 1
  grep -qx 'role:slave' <<<"$info" && grep -qx "master_port:$2" <<<"$info" &&
    grep -qx 'master_link_status:up' <<<"$info"
}

# The 3 sentinels agree on the master, that node really is a master, and the other data node
# really replicates it (so that a kill of the master can fail over without losing data).
sentinels_ready() {
  local s m0="" m node other=""
  for s in "${SENTINELS[@]}"; do
    sentinel_ready "$s" || return 1
    m=$(sentinel_master_port "$s")
    [[ -z $m0 ]] && m0=$m
    [[ $m == "$m0" ]] || return 1
  done
  [[ $(rcli "$m0" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p') == master ]] || return 1
  for node in master replica; do
    [[ $(redis_port_of "$node") == "$m0" ]] || other=$(redis_port_of "$node")
  done
  [[ -n $other ]] && replica_of "$other" "$m0"
}

redis_wait_topology() {
  log "redis: waiting until the 3 sentinels agree on a master, see an up replica and each other"
  wait_until "$TIMEOUT" sentinels_ready || {
    tail_log "$RD/sentinel-1/redis.log"
    die "redis sentinels not ready within ${TIMEOUT}s"
  }
}

redis_stop_all() {
  local node port
  # sentinels first, so that they don't fail over while the data nodes stop
  for node in sentinel-1 sentinel-2 sentinel-3 replica master; do
    redis_running "$node" || continue
    port=$(redis_port_of "$node")
    log "redis: shutting down $node ($port)"
    if [[ $node == sentinel-* ]]; then
      rcli "$port" SHUTDOWN >/dev/null 2>&1 || true
    else
      rcli "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ (+ a private epmd)

rabbit_env() {
  RENV=(HOME="$RB/home"
    RABBITMQ_NODENAME="$RABBIT_NODE"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$RABBIT_PORT"
    RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
    RABBITMQ_MNESIA_BASE="$RB/mnesia"
    RABBITMQ_LOG_BASE="$RB/log"
    RABBITMQ_CONFIG_FILE="$RB/rabbitmq.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$RB/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RB/enabled_plugins"
    RABBITMQ_CONF_ENV_FILE="$RB/rabbitmq-env.conf"
    RABBITMQ_PID_FILE="$RB/rabbit.pid"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    ERL_EPMD_PORT="$EPMD_PORT"
    ERL_EPMD_ADDRESS=127.0.0.1
    ERL_CRASH_DUMP="$RB/log/erl_crash.dump")
}

# rctl <seconds> ARGS: rabbitmqctl -n <node> ARGS as the rabbitmq user, with the private HOME
# (Erlang cookie) and epmd, killed after <seconds>.
rctl() {
  local limit=$1 ctl
  shift
  ctl=$(rabbit_bin rabbitmqctl)
  [[ -n $ctl ]] || die "rabbitmqctl not found"
  rabbit_env
  (cd "$RB" && timeout -k 5 "$limit" setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- \
    env -i PATH="$SAFE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 "${RENV[@]}" "$ctl" -n "$RABBIT_NODE" "$@")
}

epmd_running() { pid_ok "$(pid_from "$RB/epmd.pid")" "epmd"; }
rabbit_pid() { pid_from "$RB/rabbit.pid"; }
rabbit_running() { pid_ok "$(rabbit_pid)" "beam" && listening "$RABBIT_PORT"; }

rabbit_init() {
  log "rabbitmq: preparing $RB (node $RABBIT_NODE, port $RABBIT_PORT)"
  mkdir -p "$RB/home" "$RB/mnesia" "$RB/log"
  secret 20 >"$RB/home/.erlang.cookie"
  chmod 400 "$RB/home/.erlang.cookie"
  cat >"$RB/rabbitmq.conf" <<EOF
# Tally private test instance ($ME)
# listener: RABBITMQ_NODE_IP_ADDRESS/RABBITMQ_NODE_PORT (127.0.0.1:$RABBIT_PORT)
# the first boot creates vhost and user tally (no guest user)
default_vhost = tally
default_user = tally
default_pass = $RABBIT_PASSWORD
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
disk_free_limit.absolute = 100MB
log.console = false
log.file.level = info
EOF
  echo '[].' >"$RB/enabled_plugins"
  : >"$RB/rabbitmq-env.conf"
  chown -R rabbitmq:rabbitmq "$RB"
  chmod 750 "$RB"
}

epmd_start() {
  epmd_running && return 0
  log "rabbitmq: starting a private epmd on 127.0.0.1:$EPMD_PORT"
  (cd "$RB" && exec setsid setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- \
    env -i PATH="$SAFE_PATH" HOME="$RB/home" epmd -address 127.0.0.1 -port "$EPMD_PORT") \
    </dev/null >>"$RB/log/epmd.log" 2>&1 9>&- &
  echo $! >"$RB/epmd.pid"
  wait_until "$TIMEOUT" listening "$EPMD_PORT" ||
    { tail_log "$RB/log/epmd.log"; die "epmd did not listen on $EPMD_PORT within ${TIMEOUT}s"; }
}

# rabbit_launch: start the node in the background (rabbit_await waits for it).
rabbit_launch() {
  local server
  server=$(rabbit_bin rabbitmq-server)
  [[ -n $server ]] || die "rabbitmq-server not found under /usr/lib/rabbitmq"
  epmd_start
  rabbit_env
  log "rabbitmq: starting node $RABBIT_NODE on 127.0.0.1:$RABBIT_PORT"
  rm -f "$RB/rabbit.pid"
  (cd "$RB" && exec setsid setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups -- \
    env -i PATH="$SAFE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 "${RENV[@]}" "$server") \
    </dev/null >>"$RB/log/server.out" 2>&1 9>&- &
  echo $! >"$RB/launcher.pid"
}

rabbit_await() {
  local deadline=$((SECONDS + TIMEOUT)) left
  log "rabbitmq: waiting for await_startup (at most ${TIMEOUT}s)"
  while :; do
    left=$((deadline - SECONDS))
    ((left > 0)) || { tail_log "$RB/log/server.out" "$RB/log/$RABBIT_NODE.log"; die "rabbitmq did not start within ${TIMEOUT}s"; }
    if ! pid_alive "$(pid_from "$RB/launcher.pid")" && ! pid_alive "$(rabbit_pid)"; then
      tail_log "$RB/log/server.out" "$RB/log/$RABBIT_NODE.log"
      die "rabbitmq exited during start-up"
    fi
    if [[ -s $RB/rabbit.pid ]] &&
      rctl $((left + 5)) -q await_startup --timeout "$left" >/dev/null 2>&1; then
      break
    fi
    sleep 0.5
  done
  listening "$RABBIT_PORT" || die "rabbitmq started but does not listen on $RABBIT_PORT"
}

rabbit_stop() {
  if rabbit_running || pid_alive "$(rabbit_pid)"; then
    log "rabbitmq: stopping node $RABBIT_NODE"
    local out
    out=$(rctl $((TIMEOUT + 5)) -q stop "$RB/rabbit.pid" 2>&1) ||
      log "rabbitmq: rabbitmqctl stop failed or timed out: $out"
  fi
}

epmd_stop() {
  epmd_running || return 0
  log "rabbitmq: stopping the private epmd ($EPMD_PORT)"
  timeout 10 epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------------------------
# env output

print_env() {
  local s
  {
    echo "export TALLY_SERVICES_DIR='$STATE'"
    echo "export ConnectionStrings__Postgres='Host=127.0.0.1;Port=$PG_PORT;Username=tally;Password=$PG_PASSWORD;Database=tally'"
    echo "export TALLY_PG_PORT=$PG_PORT"
    echo "export TALLY_PG_BIN='$PG_BIN'"
    echo "export TALLY_PG_PASSWORD='$PG_PASSWORD'"
    echo "export TALLY_PG_SOCKET_DIR='$PG/run'"
    s=""
    for p in "${SENTINELS[@]}"; do s+="127.0.0.1:$p,"; done
    echo "export Cache__Redis='${s}serviceName=$REDIS_SERVICE'"
    echo "export TALLY_REDIS_MASTER_PORT=$REDIS_MASTER_PORT"
    echo "export TALLY_REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT"
    echo "export TALLY_REDIS_SENTINEL_PORTS='${SENTINEL_PORTS// /,}'"
    echo "export ConnectionStrings__RabbitMq='amqp://tally:$RABBIT_PASSWORD@127.0.0.1:$RABBIT_PORT/tally'"
    echo "export TALLY_RABBITMQ_PORT=$RABBIT_PORT"
    echo "export TALLY_RABBITMQ_NODE='$RABBIT_NODE'"
  }
}

# ---------------------------------------------------------------------------------------------
# commands

FRESH=0
cmd_up() {
  resolve_state
  install_packages
  lock_state

  if [[ -e $STATE && ! -f $STATE/.initialized ]]; then
    if [[ -z $(ls -A "$STATE" 2>/dev/null) ]]; then
      rmdir "$STATE"
    else
      die "$STATE exists but was not set up completely by a previous 'up' (run '$ME down' first)"
    fi
  fi

  if [[ ! -e $STATE ]]; then
    FRESH=1
    CLEANUPS+=("up_failed")
    local t0=$SECONDS
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    touch "$STATE/.tally-services"
    PG_BIN=$(pg_bindir) || true
    [[ -n $PG_BIN ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    pick_port PG_PORT
    pick_port REDIS_MASTER_PORT
    pick_port REDIS_REPLICA_PORT
    pick_port S1
    pick_port S2
    pick_port S3
    pick_port RABBIT_PORT
    pick_port RABBIT_DIST_PORT
    pick_port EPMD_PORT
    PG_PASSWORD=$(secret 12)
    RABBIT_PASSWORD=$(secret 12)
    umask 077
    cat >"$CONFIG" <<EOF
PG_BIN='$PG_BIN'
PG_PORT=$PG_PORT
PG_PASSWORD=$PG_PASSWORD
REDIS_MASTER_PORT=$REDIS_MASTER_PORT
REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT
SENTINEL_PORTS='$S1 $S2 $S3'
RABBIT_PORT=$RABBIT_PORT
RABBIT_DIST_PORT=$RABBIT_DIST_PORT
EPMD_PORT=$EPMD_PORT
RABBIT_PASSWORD=$RABBIT_PASSWORD
EOF
    umask 022
    load_config
    log "state folder $STATE"

    # RabbitMQ is the slowest (~5 s): launch it first, set up the others meanwhile.
    rabbit_init
    rabbit_launch
    pg_init
    pg_start
    pg_provision
    redis_init
    redis_start master
    redis_start replica
    wait_until "$TIMEOUT" replica_linked "$REDIS_REPLICA_PORT" ||
      { tail_log "$RD/replica/redis.log"; die "redis replica not linked to the master within ${TIMEOUT}s"; }
    redis_start sentinel-1
    redis_start sentinel-2
    redis_start sentinel-3
    redis_wait_topology
    rabbit_await
    touch "$STATE/.initialized"
    log "all services up in $((SECONDS - t0)) s"
  else
    load_config
    local started=0 node
    if ! pg_running; then pg_start; started=1; fi
    for node in master replica sentinel-1 sentinel-2 sentinel-3; do
      if ! redis_running "$node"; then redis_start "$node"; started=1; fi
    done
    ((started)) && redis_wait_topology
    if ! rabbit_running; then
      # a node that is still booting is waited for, not launched twice
      pid_alive "$(rabbit_pid)" || rabbit_launch
      rabbit_await
      started=1
    fi
    if ((started)); then log "services in $STATE: restarted what was down"; else log "services in $STATE already running"; fi
  fi

  umask 077
  print_env >"$STATE/env.sh"
  umask 022
  FRESH=0
  print_env
}

up_failed() {
  ((FRESH)) || return 0
  if [[ ${TALLY_SERVICES_KEEP_ON_FAILURE:-0} == 1 ]]; then
    log "up failed; state kept in $STATE (TALLY_SERVICES_KEEP_ON_FAILURE=1); run '$ME down' to clean up"
    return 0
  fi
  log "up failed; stopping what was started and removing $STATE"
  do_down || true
}

# All pids this state folder knows about (name:pid).
known_pids() {
  local node p
  p=$(pg_pid)
  [[ -n $p ]] && echo "postgres:$p"
  for node in $(redis_nodes); do
    p=$(redis_pid "$node")
    [[ -n $p ]] && echo "redis-$node:$p"
  done
  p=$(rabbit_pid)
  [[ -n $p ]] && echo "rabbitmq:$p"
  p=$(pid_from "$RB/launcher.pid")
  [[ -n $p ]] && echo "rabbitmq-launcher:$p"
  p=$(pid_from "$RB/epmd.pid")
  [[ -n $p ]] && echo "epmd:$p"
  return 0
}

do_down() {
  [[ -d $STATE ]] || { log "nothing to stop: no $STATE"; return 0; }
  [[ -f $STATE/.tally-services ]] || die "$STATE is not a services.sh state folder; not touching it"
  local config_ok=0
  if [[ -f $CONFIG ]]; then
    load_config
    config_ok=1
  fi

  # remember every process before stopping, to check that all of them end
  local pids entry name pid alive
  pids=$(known_pids | while IFS=: read -r name pid; do
    pid_alive "$pid" && echo "$name:$pid"
  done || true)

  if ((config_ok)); then
    rabbit_stop
    epmd_stop
    redis_stop_all
    pg_stop
  fi

  local deadline=$((SECONDS + TIMEOUT))
  while :; do
    alive=""
    for entry in $pids; do
      pid_alive "${entry#*:}" && alive+="$entry "
    done
    [[ -z $alive ]] && break
    if ((SECONDS >= deadline)); then
      log "still running after ${TIMEOUT}s: $alive-- sending SIGKILL"
      for entry in $alive; do kill -9 "${entry#*:}" 2>/dev/null || true; done
      sleep 1
      break
    fi
    sleep 0.2
  done

  # sweep: any server process still pointing into the state folder (e.g. pidfile lost)
  local stray=()
  mapfile -t stray < <(pgrep -f -- "$STATE/" 2>/dev/null | while read -r pid; do
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    case "$(cat "/proc/$pid/comm" 2>/dev/null || true)" in
      postgres | redis-server | redis-sentinel | beam.smp | epmd | erl_child_setup | inet_gethost | epmd*) echo "$pid" ;;
    esac
  done || true)
  if ((${#stray[@]})); then
    log "killing stray processes: ${stray[*]}"
    kill -9 "${stray[@]}" 2>/dev/null || true
    sleep 0.5
  fi

  for entry in $pids; do
    if pid_alive "${entry#*:}"; then
      die "process ${entry%%:*} (pid ${entry#*:}) survived; state kept in $STATE"
    fi
  done
  # The daemons were orphans, so init reaps them; give it a moment (cosmetic: until then a
  # `pgrep` right after `down` still lists them as <defunct>).
  local reap_deadline=$((SECONDS + 5)) left
  while ((SECONDS < reap_deadline)); do
    left=""
    for entry in $pids; do [[ -e /proc/${entry#*:} ]] && left=1; done
    [[ -z $left ]] && break
    sleep 0.1
  done
  rm -rf -- "$STATE"
  rm -f -- "$LOCK"
  log "stopped; removed $STATE"
}

cmd_down() {
  resolve_state
  [[ -d $STATE ]] || { log "nothing to stop: no $STATE"; return 0; }
  lock_state
  do_down
}

# status line: <name> <running|stopped> <details>
status_line() { printf '%-18s %-8s %s\n' "$1" "$2" "$3"; }

cmd_status() {
  resolve_state
  if [[ ! -f $STATE/.tally-services || ! -f $CONFIG ]]; then
    log "no services in $STATE"
    return 3
  fi
  load_config
  local bad=0 node port pid role m

  if pg_running; then
    status_line postgres running "pid $(pg_pid) port $PG_PORT"
  else
    status_line postgres stopped "port $PG_PORT"
    bad=1
  fi
  for node in master replica; do
    port=$(redis_port_of "$node")
    if redis_running "$node"; then
      role=$(rcli "$port" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p')
      status_line "redis-$node" running "pid $(redis_pid "$node") port $port role ${role:-?}"
    else
      status_line "redis-$node" stopped "port $port"
      bad=1
    fi
  done
  for node in sentinel-1 sentinel-2 sentinel-3; do
    port=$(redis_port_of "$node")
    if redis_running "$node"; then
      m=$(sentinel_master_port "$port" || true)
      status_line "redis-$node" running "pid $(redis_pid "$node") port $port master 127.0.0.1:${m:-?}"
    else
      status_line "redis-$node" stopped "port $port"
      bad=1
    fi
  done
  if rabbit_running; then
    status_line rabbitmq running "pid $(rabbit_pid) port $RABBIT_PORT node $RABBIT_NODE"
  else
    status_line rabbitmq stopped "port $RABBIT_PORT node $RABBIT_NODE"
    bad=1
  fi
  if epmd_running; then
    status_line epmd running "pid $(pid_from "$RB/epmd.pid") port $EPMD_PORT"
  else
    status_line epmd stopped "port $EPMD_PORT"
    bad=1
  fi
  return "$bad"
}

need_state() {
  resolve_state
  [[ -f $STATE/.initialized && -f $CONFIG ]] || die "no running services in $STATE (run '$ME up')"
  lock_state
  load_config
}

# The master port the sentinels report (the first sentinel that answers).
current_master() {
  local s m
  for s in "${SENTINELS[@]}"; do
    m=$(sentinel_master_port "$s" || true)
    [[ -n $m ]] && { echo "$m"; return 0; }
  done
  return 1
}

cmd_redis_master() {
  need_state
  current_master || die "no sentinel answered"
}

cmd_kill_redis_master() {
  need_state
  local m node pid
  m=$(current_master) || die "no sentinel answered"
  sentinels_ready || log "redis: WARNING: no healthy replica of $m (or sentinels disagree); the sentinels may not be able to fail over"
  for node in master replica; do
    [[ $(redis_port_of "$node") == "$m" ]] || continue
    pid=$(redis_pid "$node")
    pid_ok "$pid" ":$m" || die "redis on port $m (per sentinel) is not running"
    log "redis: kill -9 of the master: $node, port $m, pid $pid"
    kill -9 "$pid"
    wait_until 10 bash -c "! [[ -d /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status" || die "pid $pid did not die"
    echo "$m"
    return 0
  done
  die "the sentinels' master port $m is none of ours"
}

cmd_restart_postgres() {
  need_state
  local pause=${1:-0}
  pg_stop
  wait_until "$TIMEOUT" bash -c "! [[ -e '$PG/data/postmaster.pid' ]]" || die "postgres did not stop within ${TIMEOUT}s"
  ((pause > 0)) && { log "postgres: down for ${pause}s"; sleep "$pause"; }
  pg_start
  log "postgres: restarted"
}

cmd_restart_rabbitmq() {
  need_state
  local pause=${1:-0} pid
  pid=$(rabbit_pid)
  rabbit_stop
  wait_until "$TIMEOUT" bash -c "! [[ -d /proc/${pid:-0} ]] || grep -q '^State:.*Z' /proc/${pid:-0}/status" ||
    die "rabbitmq did not stop within ${TIMEOUT}s"
  ((pause > 0)) && { log "rabbitmq: down for ${pause}s"; sleep "$pause"; }
  rabbit_launch
  rabbit_await
  log "rabbitmq: restarted"
}

cmd_rabbitmqctl() {
  need_state
  exec 9>&-
  rctl "$TIMEOUT" "$@"
}

cmd_psql() {
  need_state
  exec 9>&-
  "$PG_BIN/psql" -h "$PG/run" -p "$PG_PORT" -U postgres "$@"
}

usage() {
  cat >&2 <<EOF
usage: $ME <command>

  up                     install what is missing (apt), start private PostgreSQL, Redis
                         (master, replica, 3 sentinels) and RabbitMQ on free 127.0.0.1 ports,
                         print 'export K=V' lines (also in \$TALLY_SERVICES_DIR/env.sh).
                         Idempotent: restarts only what is down, then prints the same lines.
  status                 one line per process; exit 0 all running, 1 some stopped, 3 none
  down                   stop everything cleanly, wait, remove the state folder
  kill-redis-master      kill -9 the master the sentinels currently name; prints its port
  redis-master           print the master port the sentinels currently name
  restart-postgres [S]   pg_ctl stop -m fast, stay down S seconds (default 0), start
  restart-rabbitmq [S]   rabbitmqctl stop, stay down S seconds (default 0), start
  rabbitmqctl ARGS...    rabbitmqctl -n <node> ARGS (e.g. list_queues -p tally)
  psql ARGS...           psql as superuser postgres over the private socket

environment: TALLY_SERVICES_DIR (default /tmp/tally-services), TALLY_SERVICES_TIMEOUT
(seconds per wait, default 60), TALLY_SERVICES_KEEP_ON_FAILURE=1 (keep state when up fails),
TALLY_PG_MAX_CONNECTIONS (first up only, default 200)
EOF
}

main() {
  cd /
  [[ $(id -u) == 0 ]] || die "run as root (it installs packages and runs servers as postgres/redis/rabbitmq)"
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kill-redis-master) cmd_kill_redis_master ;;
    redis-master) cmd_redis_master ;;
    restart-postgres) cmd_restart_postgres "$@" ;;
    restart-rabbitmq) cmd_restart_rabbitmq "$@" ;;
    rabbitmqctl) cmd_rabbitmqctl "$@" ;;
    psql) cmd_psql "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
