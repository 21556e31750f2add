# shellcheck shell=bash
# Redis with Sentinel (sourced by scripts/services.sh): a master, a replica and 3 sentinels under
# $STATE/redis/<node>/ (each: redis.conf, redis.pid, redis.log), the waits for a topology that can
# fail over, and the master the sentinels name.

readonly REDIS_SERVICE=tally

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

# The master port the sentinels report (the first sentinel that answers).
current_master() {
  local s m
  for s in "${SENTINELS[@]}"; do
    m=$(sentinel_master_port "$s" || true)
    [[ -n $m ]] && { echo "$m"; return 0; }
  done
  return 1
}
