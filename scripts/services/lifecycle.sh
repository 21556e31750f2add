# shellcheck shell=bash
# The whole set at once (sourced by scripts/services.sh): `up` (first start or restart of what is
# down), `down` (clean stop, wait, sweep, remove the state folder), `status`, and the export lines.

# The export lines: stdout of `up`, and $STATE/env.sh. Tests, scripts/cluster.sh and bench/*.sh
# parse them.
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

# 1 while the first `up` of a state folder runs, so that a failure undoes it (up_failed).
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
    if ha_state; then ha_load_config; else load_config; fi
    config_ok=1
  fi

  # remember every process before stopping, to check that all of them end
  local pids entry name pid alive
  pids=$({ if ha_state; then known_pids_ha; else known_pids; fi; } | while IFS=: read -r name pid; do
    pid_alive "$pid" && echo "$name:$pid"
  done || true)

  if ((config_ok)) && ha_state; then
    stop_ha
  elif ((config_ok)); then
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
      postgres | redis-server | redis-sentinel | beam.smp | epmd | erl_child_setup | inet_gethost | epmd* | patroni | etcd) echo "$pid" ;;
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
  ha_cgroups_prune
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
  if ha_state; then
    ha_load_config
    status_ha
    return
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
