# shellcheck shell=bash disable=SC2034 # RB, RABBIT_NODE, RABBIT_PORT and RABBIT_DIST_PORT are read by rabbitmq.sh
# The HA profile (sourced by scripts/services.sh): `up --ha` starts etcd (three members: the store
# Patroni keeps its leader key in, which outlives the loss of any one), three PostgreSQL 15 nodes
# under Patroni with synchronous replication, a pgBackRest repository that every node archives its
# WAL to, Redis with Sentinel (as in the default profile), and three RabbitMQ nodes joined in one
# cluster. `down`, `status` and the fault helpers see the `.ha` marker in the state folder and act
# on all of it.
#
# Patroni essentials (checked on this machine): ttl 8 / loop_wait 1 / retry_timeout 3 (a kill -9
# of the leader gives a new leader in about 9 s; wal_retrieve_retry_interval 1 s lets the remaining
# replica attach to it, and so become the sync standby, within a second); failsafe_mode (the primary
# stays primary while the store can't be written, as long as every other node's Patroni answers it:
# the loss of the etcd leader no longer demotes it); synchronous_mode with synchronous_mode_strict
# (a commit is acknowledged only once a second node has it; with no sync standby the primary
# blocks writes rather than acknowledge them on one node), use_pg_rewind with wal_log_hints and
# data checksums, a fast checkpoint for a replica's clone, watchdog off, and every Patroni run with
# a clean environment.

readonly HA_SCOPE=tally-ha
readonly HA_NODES=(1 2 3)

ha_state() { [[ -f $STATE/.ha ]]; }

# ---------------------------------------------------------------------------------------------
# etcd: three members (static bootstrap), so that losing one keeps a quorum of two

readonly ETCD_MEMBERS=(1 2 3)

etcd_dir() { echo "$STATE/etcd$1"; }
etcd_port() { local v="ETCD_PORT_$1"; echo "${!v}"; }
etcd_peer_port() { local v="ETCD_PEER_$1"; echo "${!v}"; }
etcd_pid() { pid_from "$(etcd_dir "$1")/etcd.pid"; }
etcd_running() { pid_ok "$(etcd_pid "$1")" "$(etcd_dir "$1")/data" && listening "$(etcd_port "$1")"; }

# The client endpoints of every member, host:port, comma-separated (Patroni's etcd3.hosts).
etcd_hosts() {
  local n hosts=""
  for n in "${ETCD_MEMBERS[@]}"; do hosts+="127.0.0.1:$(etcd_port "$n"),"; done
  echo "${hosts%,}"
}

# etcd_healthy N: member N answers and has a leader with a quorum behind it.
etcd_healthy() { curl -fsS -m 2 "http://127.0.0.1:$(etcd_port "$1")/health" 2>/dev/null | jq -e '.health == "true"' >/dev/null 2>&1; }

# etcd_status N: "MEMBER_ID LEADER_ID" as member N reports them, or nothing.
etcd_status() {
  curl -fsS -m 2 -X POST "http://127.0.0.1:$(etcd_port "$1")/v3/maintenance/status" -d '{}' 2>/dev/null |
    jq -r 'select(.header.member_id and .leader) | "\(.header.member_id) \(.leader)"' 2>/dev/null || true
}

# The member that leads the etcd cluster now (as the first member that answers sees it).
etcd_leader() {
  local n m id leader
  for n in "${ETCD_MEMBERS[@]}"; do
    read -r id leader <<<"$(etcd_status "$n")"
    [[ -n ${leader:-} && $leader != 0 ]] || continue
    for m in "${ETCD_MEMBERS[@]}"; do
      read -r id _ <<<"$(etcd_status "$m")"
      [[ ${id:-} == "$leader" ]] && { echo "$m"; return 0; }
    done
  done
  return 1
}

# The client port of a member that is healthy now (for the odd direct request, such as the restore drill's).
etcd_any_port() {
  local n
  for n in "${ETCD_MEMBERS[@]}"; do
    if etcd_healthy "$n"; then etcd_port "$n"; return 0; fi
  done
  return 1
}

# etcd_start N: launches member N. A new member joins the static cluster named by --initial-cluster; a member
# that restarts on its data folder ignores those flags and rejoins with what its data holds.
etcd_start() {
  local n=$1 dir cluster="" m
  dir=$(etcd_dir "$n")
  for m in "${ETCD_MEMBERS[@]}"; do cluster+="etcd$m=http://127.0.0.1:$(etcd_peer_port "$m"),"; done
  mkdir -p "$dir/data"
  chown -R etcd:etcd "$dir"
  chmod 700 "$dir/data"
  log "etcd: starting etcd$n on 127.0.0.1:$(etcd_port "$n") (peer $(etcd_peer_port "$n"))"
  (cd "$dir" && exec setsid setpriv --reuid=etcd --regid=etcd --init-groups -- \
    env -i PATH="$SAFE_PATH" HOME="$dir" ETCD_UNSUPPORTED_ARCH= etcd --name "etcd$n" --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$(etcd_port "$n")" --advertise-client-urls "http://127.0.0.1:$(etcd_port "$n")" \
    --listen-peer-urls "http://127.0.0.1:$(etcd_peer_port "$n")" --initial-advertise-peer-urls "http://127.0.0.1:$(etcd_peer_port "$n")" \
    --initial-cluster "${cluster%,}" --initial-cluster-token "tally-etcd-$ETCD_PORT_1" --initial-cluster-state new \
    --enable-v2=true --quota-backend-bytes 268435456) </dev/null >>"$dir/etcd.log" 2>&1 9>&- &
  echo $! >"$dir/etcd.pid"
}

# Waits until every member is healthy: a leader elected, and a quorum behind it.
etcd_wait() {
  local n
  for n in "${ETCD_MEMBERS[@]}"; do
    wait_until "$TIMEOUT" etcd_healthy "$n" ||
      { tail_log "$(etcd_dir "$n")/etcd.log"; die "etcd$n not healthy within ${TIMEOUT}s"; }
  done
  log "etcd: three members healthy, leader etcd$(etcd_leader || echo '?')"
}

etcd_stop() {
  local n=$1 pid
  pid=$(etcd_pid "$n")
  pid_ok "$pid" "$(etcd_dir "$n")/data" || return 0
  log "etcd: stopping etcd$n"
  kill -TERM "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL under Patroni

pgn_dir() { echo "$STATE/pg$1"; }
pgn_port() { local v="PG_PORT_$1"; echo "${!v}"; }
pgn_rest() { local v="PG_REST_$1"; echo "${!v}"; }
patroni_pid() { pid_from "$(pgn_dir "$1")/patroni.pid"; }
patroni_running() { pid_ok "$(patroni_pid "$1")" patroni; }
pgn_pid() { pid_from "$(pgn_dir "$1")/data/postmaster.pid"; }
pgn_running() { pid_ok "$(pgn_pid "$1")" postgres; }

# pgn_role N: the role Patroni's REST API reports for node N (primary, replica), or nothing.
pgn_role() { curl -fsS -m 2 "http://127.0.0.1:$(pgn_rest "$1")/patroni" 2>/dev/null | jq -r '.role // empty' 2>/dev/null || true; }
# pgn_state N: running, starting, stopped, ... as Patroni reports node N's postgres.
pgn_state() { curl -fsS -m 2 "http://127.0.0.1:$(pgn_rest "$1")/patroni" 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true; }

# The node whose Patroni answers 200 on /primary (it holds the leader key and runs as primary).
ha_leader() {
  local n
  for n in "${HA_NODES[@]}"; do
    if [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(pgn_rest "$n")/primary" 2>/dev/null) == 200 ]]; then
      echo "$n"
      return 0
    fi
  done
  return 1
}

# The node Patroni lists as the synchronous standby (from the leader's /cluster view).
ha_sync_standby() {
  local n
  for n in "${HA_NODES[@]}"; do
    curl -fsS -m 2 "http://127.0.0.1:$(pgn_rest "$n")/cluster" 2>/dev/null |
      jq -r '.members[] | select(.role == "sync_standby") | .name' 2>/dev/null | sed -n 's/^pg//p' | head -n 1 | grep . && return 0
  done
  return 1
}

pgbackrest_conf() { echo "$STATE/pgbackrest/pgbackrest.conf"; }

pgbackrest_init() {
  local dir="$STATE/pgbackrest"
  mkdir -p "$dir/repo" "$dir/log" "$dir/lock" "$dir/spool"
  cat >"$dir/pgbackrest.conf" <<EOF
[global]
repo1-path=$dir/repo
repo1-retention-full=2
log-path=$dir/log
lock-path=$dir/lock
spool-path=$dir/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4
archive-timeout=60

[tally]
pg1-path=$(pgn_dir 1)/data
pg1-port=$(pgn_port 1)
pg1-socket-path=$(pgn_dir 1)/run
pg1-user=postgres
EOF
  chown -R postgres:postgres "$dir"
  chmod 750 "$dir"
}

# patroni_config N [restore]: node N's patroni.yml; with "restore", a new cluster bootstraps from the
# pgBackRest repository (the latest backup and every archived WAL segment) instead of initdb.
patroni_config() {
  local n=$1 mode=${2:-} dir port rest
  dir=$(pgn_dir "$n")
  port=$(pgn_port "$n")
  rest=$(pgn_rest "$n")
  cat <<EOF
# Tally private HA test node pg$n ($ME up --ha)
scope: $HA_SCOPE
namespace: /tally-$ETCD_PORT_1/
name: pg$n
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: $(etcd_hosts)
bootstrap:
$(if [[ $mode == restore ]]; then
    cat <<RESTORE
  method: pgbackrest
  pgbackrest:
    command: pgbackrest --config=$(pgbackrest_conf) --stanza=tally --pg1-path=$dir/data restore
    keep_existing_recovery_conf: true
    no_params: true
RESTORE
  fi)
  dcs:
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    failsafe_mode: true
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        wal_retrieve_retry_interval: 1s
        wal_sender_timeout: 5s
        max_connections: ${TALLY_PG_MAX_CONNECTIONS:-200}
        archive_mode: 'on'
        archive_timeout: 60
        archive_command: 'pgbackrest --config=$(pgbackrest_conf) --stanza=tally --pg1-path=\$(pwd) archive-push %p'
  initdb:
    - encoding: UTF8
    - no-locale
    - data-checksums
    - auth-local: trust
    - auth-host: scram-sha-256
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $dir/data
  # A new replica's pg_basebackup asks the leader for an immediate checkpoint: the default (spread) one, asked for
  # just after up's CREATE DATABASE dirtied the buffers, kept a replica's clone waiting past up's 60 s once.
  basebackup:
    checkpoint: fast
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
      password: $PG_SUPER_PASSWORD
    replication:
      username: replicator
      password: $PG_REPL_PASSWORD
    rewind:
      username: postgres
      password: $PG_SUPER_PASSWORD
  parameters:
    unix_socket_directories: $dir/run
    shared_buffers: 64MB
    timezone: UTC
    log_timezone: UTC
    jit: 'off'
    logging_collector: 'off'
    log_line_prefix: '%m [%p] %q%u@%d '
watchdog:
  mode: 'off'
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

patroni_init() {
  local n=$1 dir
  dir=$(pgn_dir "$n")
  mkdir -p "$dir/run"
  patroni_config "$n" "${2:-}" >"$dir/patroni.yml"
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir"
  chmod 600 "$dir/patroni.yml"
}

patroni_start() {
  local n=$1 dir
  dir=$(pgn_dir "$n")
  log "patroni: starting pg$n (postgres 127.0.0.1:$(pgn_port "$n"), rest 127.0.0.1:$(pgn_rest "$n"))"
  local procs=/dev/null
  if [[ -n $(cgroup_root) ]]; then
    mkdir -p "$(cgroup_root)/$(pgn_cgroup "$n")"
    procs="$(cgroup_root)/$(pgn_cgroup "$n")/cgroup.procs"
  fi
  # A clean environment: a leaked PGPASSWORD would override the pgpass file and break pg_rewind. The subshell
  # joins the node's cgroup before it becomes Patroni, so that postgres and all it starts are in it too.
  (echo "$BASHPID" >"$procs" && cd "$dir" && exec setsid setpriv --reuid=postgres --regid=postgres --init-groups -- \
    env -i PATH="$SAFE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME="$dir" /usr/bin/patroni "$dir/patroni.yml") \
    </dev/null >>"$dir/patroni.log" 2>&1 9>&- &
  echo $! >"$dir/patroni.pid"
}

# Waits until a leader runs, a sync standby is named, and every node's postgres runs.
ha_wait_pg() {
  local deadline=$((SECONDS + TIMEOUT)) leader states n
  while :; do
    if leader=$(ha_leader) && ha_sync_standby >/dev/null; then
      states=""
      for n in "${HA_NODES[@]}"; do states+="$(pgn_state "$n") "; done
      [[ $states == "running running running " ]] && break
    fi
    if ((SECONDS >= deadline)); then
      for n in "${HA_NODES[@]}"; do tail_log "$(pgn_dir "$n")/patroni.log"; done
      die "the Patroni cluster has no leader with a sync standby within ${TIMEOUT}s"
    fi
    sleep 0.5
  done
  log "patroni: leader pg$leader, sync standby pg$(ha_sync_standby)"
}

ha_psql() {
  local n
  n=$(ha_leader) || die "no Patroni leader"
  "$PG_BIN/psql" -h "$(pgn_dir "$n")/run" -p "$(pgn_port "$n")" -U postgres "$@"
}

ha_provision() {
  log "postgres: creating role and database tally on the leader"
  ha_psql -d postgres -v ON_ERROR_STOP=1 -qAt >&2 <<SQL
CREATE ROLE tally LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
CREATE DATABASE tally OWNER tally;
SQL
}

# pgbackrest as postgres against the current leader.
ha_pgbackrest() {
  local n
  n=$(ha_leader) || die "no Patroni leader"
  as postgres HOME="$STATE/pgbackrest" pgbackrest --config="$(pgbackrest_conf)" --stanza=tally \
    --pg1-path="$(pgn_dir "$n")/data" --pg1-port="$(pgn_port "$n")" --pg1-socket-path="$(pgn_dir "$n")/run" "$@"
}

patroni_stop() {
  local n=$1 pid
  pid=$(patroni_pid "$n")
  pid_ok "$pid" patroni || return 0
  log "patroni: stopping pg$n (its postgres stops with it)"
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ: three nodes, one private epmd, one Erlang cookie

# rb_select N: point rabbitmq.sh's variables (RB, RABBIT_NODE, ports) at node N.
rb_select() {
  local p="RB_PORT_$1" d="RB_DIST_$1"
  RB="$STATE/rabbitmq$1"
  RABBIT_NODE="rabbit$1@localhost"
  RABBIT_PORT=${!p}
  RABBIT_DIST_PORT=${!d}
}

rb_init_all() {
  local n
  for n in "${HA_NODES[@]}"; do
    rb_select "$n"
    rabbit_init
    # a minority partition pauses instead of taking writes; three nodes share one machine's memory
    cat >>"$RB/rabbitmq.conf" <<EOF
cluster_partition_handling = pause_minority
vm_memory_high_watermark.relative = 0.1
EOF
    if ((n > 1)); then
      cp -p "$STATE/rabbitmq1/home/.erlang.cookie" "$RB/home/.erlang.cookie"
      ln -sf "$STATE/rabbitmq1/epmd.pid" "$RB/epmd.pid"
    fi
  done
}

rb_join() {
  local n=$1
  rb_select "$n"
  log "rabbitmq: rabbit$n joins rabbit1@localhost"
  rctl "$TIMEOUT" -q stop_app >&2 || die "rabbit$n: stop_app failed"
  rctl "$TIMEOUT" -q join_cluster rabbit1@localhost >&2 || die "rabbit$n: join_cluster failed"
  rctl "$TIMEOUT" -q start_app >&2 || die "rabbit$n: start_app failed"
}

# ---------------------------------------------------------------------------------------------
# the profile

ha_load_config() {
  # shellcheck source=/dev/null
  . "$CONFIG"
  read -r -a SENTINELS <<<"$SENTINEL_PORTS"
}

print_env_ha() {
  local s p hosts="" endpoints=""
  for p in "$PG_PORT_1" "$PG_PORT_2" "$PG_PORT_3"; do hosts+="127.0.0.1:$p,"; done
  for p in "$RB_PORT_1" "$RB_PORT_2" "$RB_PORT_3"; do endpoints+="127.0.0.1:$p,"; done
  echo "export TALLY_SERVICES_DIR='$STATE'"
  echo "export TALLY_SERVICES_PROFILE=ha"
  echo "export ConnectionStrings__Postgres='Host=${hosts%,};Target Session Attributes=primary;Username=tally;Password=$PG_PASSWORD;Database=tally'"
  echo "export TALLY_PG_PORT=$PG_PORT_1"
  echo "export TALLY_PG_PORTS='$PG_PORT_1,$PG_PORT_2,$PG_PORT_3'"
  echo "export TALLY_PG_BIN='$PG_BIN'"
  echo "export TALLY_PG_PASSWORD='$PG_PASSWORD'"
  echo "export TALLY_PG_SOCKET_DIR='$STATE/pg1/run'"
  s=""
  for p in "${SENTINELS[@]}"; do s+="127.0.0.1:$p,"; done
  echo "export Cache__Redis='${s}serviceName=$REDIS_SERVICE'"
  echo "export TALLY_REDIS_MASTER_PORT=$REDIS_MASTER_PORT"
  echo "export TALLY_REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT"
  echo "export TALLY_REDIS_SENTINEL_PORTS='${SENTINEL_PORTS// /,}'"
  echo "export ConnectionStrings__RabbitMq='amqp://tally:$RABBIT_PASSWORD@127.0.0.1:$RB_PORT_1/tally'"
  echo "export Bus__RabbitMq__Endpoints='${endpoints%,}'"
  echo "export Bus__RabbitMq__QueueType=quorum"
  echo "export TALLY_RABBITMQ_PORT=$RB_PORT_1"
  echo "export TALLY_RABBITMQ_PORTS='$RB_PORT_1,$RB_PORT_2,$RB_PORT_3'"
  echo "export TALLY_RABBITMQ_NODE='rabbit1@localhost'"
}

cmd_up_ha() {
  HA_PROFILE=1
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
  if [[ -e $STATE ]] && ! ha_state; then
    die "$STATE runs the default profile; run '$ME down' before 'up --ha'"
  fi

  local n
  if [[ ! -e $STATE ]]; then
    FRESH=1
    CLEANUPS+=("up_failed")
    local t0=$SECONDS
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    touch "$STATE/.tally-services" "$STATE/.ha"
    PG_BIN=$(pg_bindir) || true
    [[ -n $PG_BIN ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    local v
    for v in ETCD_PORT_1 ETCD_PORT_2 ETCD_PORT_3 ETCD_PEER_1 ETCD_PEER_2 ETCD_PEER_3 PG_PORT_1 PG_PORT_2 PG_PORT_3 PG_REST_1 PG_REST_2 PG_REST_3 \
      REDIS_MASTER_PORT REDIS_REPLICA_PORT S1 S2 S3 RB_PORT_1 RB_PORT_2 RB_PORT_3 RB_DIST_1 RB_DIST_2 RB_DIST_3 EPMD_PORT; do
      pick_port "$v"
    done
    umask 077
    cat >"$CONFIG" <<EOF
PG_BIN='$PG_BIN'
ETCD_PORT_1=$ETCD_PORT_1
ETCD_PORT_2=$ETCD_PORT_2
ETCD_PORT_3=$ETCD_PORT_3
ETCD_PEER_1=$ETCD_PEER_1
ETCD_PEER_2=$ETCD_PEER_2
ETCD_PEER_3=$ETCD_PEER_3
PG_PORT_1=$PG_PORT_1
PG_PORT_2=$PG_PORT_2
PG_PORT_3=$PG_PORT_3
PG_REST_1=$PG_REST_1
PG_REST_2=$PG_REST_2
PG_REST_3=$PG_REST_3
PG_PASSWORD=$(secret 12)
PG_SUPER_PASSWORD=$(secret 12)
PG_REPL_PASSWORD=$(secret 12)
REDIS_MASTER_PORT=$REDIS_MASTER_PORT
REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT
SENTINEL_PORTS='$S1 $S2 $S3'
RB_PORT_1=$RB_PORT_1
RB_PORT_2=$RB_PORT_2
RB_PORT_3=$RB_PORT_3
RB_DIST_1=$RB_DIST_1
RB_DIST_2=$RB_DIST_2
RB_DIST_3=$RB_DIST_3
EPMD_PORT=$EPMD_PORT
RABBIT_PASSWORD=$(secret 12)
EOF
    umask 022
    ha_load_config
    log "state folder $STATE (HA profile)"

    rb_init_all
    for n in "${HA_NODES[@]}"; do
      rb_select "$n"
      rabbit_launch
    done
    for n in "${ETCD_MEMBERS[@]}"; do etcd_start "$n"; done
    etcd_wait
    pgbackrest_init
    for n in "${HA_NODES[@]}"; do patroni_init "$n"; done
    # the first node bootstraps the cluster; the others clone it once it leads
    patroni_start 1
    wait_until "$TIMEOUT" bash -c "[[ \$(curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:$PG_REST_1/primary) == 200 ]]" ||
      { tail_log "$(pgn_dir 1)/patroni.log"; die "pg1 did not bootstrap within ${TIMEOUT}s"; }
    # The stanza as soon as pg1 leads: until it exists every archive-push fails, and after three failures in a row
    # PostgreSQL's archiver waits for the next segment (or a minute) before it tries again.
    ha_pgbackrest stanza-create >&2 || die "pgbackrest stanza-create failed"
    patroni_start 2
    patroni_start 3
    ha_provision
    RD="$STATE/redis"
    redis_init
    redis_start master
    redis_start replica
    wait_until "$TIMEOUT" replica_linked "$REDIS_REPLICA_PORT" ||
      { tail_log "$RD/replica/redis.log"; die "redis replica not linked to the master within ${TIMEOUT}s"; }
    redis_start sentinel-1
    redis_start sentinel-2
    redis_start sentinel-3
    for n in "${HA_NODES[@]}"; do
      rb_select "$n"
      rabbit_await
    done
    rb_join 2
    rb_join 3
    ha_wait_pg
    # Every segment so far in the repository before up returns, so a first backup does not wait on a backlog.
    ha_archive_current || { pgbackrest_failure_logs; die "the WAL archive did not catch up within 30 s"; }
    redis_wait_topology
    touch "$STATE/.initialized"
    log "all HA services up in $((SECONDS - t0)) s"
  else
    ha_load_config
    RD="$STATE/redis"
    local started=0 node
    local etcd_started=0
    for n in "${ETCD_MEMBERS[@]}"; do
      etcd_running "$n" || { etcd_start "$n"; etcd_started=1; started=1; }
    done
    ((etcd_started)) && etcd_wait
    for n in "${HA_NODES[@]}"; do
      if ! patroni_running "$n"; then
        # a node killed with its postgres: clear what is left, Patroni rejoins it (pg_rewind if needed)
        if pgn_running "$n"; then kill -9 "$(pgn_pid "$n")" 2>/dev/null || true; fi
        patroni_start "$n"
        started=1
      fi
    done
    for node in master replica sentinel-1 sentinel-2 sentinel-3; do
      if ! redis_running "$node"; then redis_start "$node"; started=1; fi
    done
    for n in "${HA_NODES[@]}"; do
      rb_select "$n"
      if ! rabbit_running; then
        pid_alive "$(rabbit_pid)" || rabbit_launch
        rabbit_await
        started=1
      fi
    done
    # Always wait for a leader with a sync standby and every node running: a node that runs may still be
    # rewinding or restarting after a failover (a quick check when the cluster is healthy).
    ha_wait_pg
    if ((started)); then
      redis_wait_topology
      log "HA services in $STATE: restarted what was down"
    else
      log "HA services in $STATE already running"
    fi
  fi

  umask 077
  print_env_ha >"$STATE/env.sh"
  umask 022
  FRESH=0
  print_env_ha
}

known_pids_ha() {
  local n p node
  for n in "${ETCD_MEMBERS[@]}"; do
    p=$(etcd_pid "$n")
    [[ -n $p ]] && echo "etcd-$n:$p"
  done
  for n in "${HA_NODES[@]}"; do
    p=$(patroni_pid "$n")
    [[ -n $p ]] && echo "patroni-$n:$p"
    p=$(pgn_pid "$n")
    [[ -n $p ]] && echo "postgres-$n:$p"
    rb_select "$n"
    p=$(rabbit_pid)
    [[ -n $p ]] && echo "rabbitmq-$n:$p"
    p=$(pid_from "$RB/launcher.pid")
    [[ -n $p ]] && echo "rabbitmq-launcher-$n:$p"
  done
  p=$(pid_from "$STATE/rabbitmq1/epmd.pid")
  [[ -n $p ]] && echo "epmd:$p"
  RD="$STATE/redis"
  for node in $(redis_nodes); do
    p=$(redis_pid "$node")
    [[ -n $p ]] && echo "redis-$node:$p"
  done
  return 0
}

# Stops the HA set; do_down then waits for these pids and removes the folder.
stop_ha() {
  local n
  partition_remove
  RD="$STATE/redis"
  for n in "${HA_NODES[@]}"; do
    rb_select "$n"
    if pid_ok "$(rabbit_pid)" beam; then kill -CONT "$(rabbit_pid)" 2>/dev/null || true; fi
    rabbit_stop
  done
  rb_select 1
  epmd_stop
  redis_stop_all
  # replicas first, so that the leader does not wait for a sync standby that is going away
  local leader
  leader=$(ha_leader || true)
  for n in "${HA_NODES[@]}"; do
    [[ $n == "$leader" ]] || patroni_stop "$n"
  done
  if [[ -n $leader ]]; then patroni_stop "$leader"; fi
  local deadline=$((SECONDS + TIMEOUT))
  for n in "${HA_NODES[@]}"; do
    while patroni_running "$n" && ((SECONDS < deadline)); do sleep 0.2; done
  done
  for n in "${ETCD_MEMBERS[@]}"; do etcd_stop "$n"; done
}

status_ha() {
  local bad=0 n role leader
  leader=$(etcd_leader || true)
  for n in "${ETCD_MEMBERS[@]}"; do
    if etcd_running "$n"; then
      role=follower
      [[ $n == "$leader" ]] && role=leader
      etcd_healthy "$n" || role="no quorum"
      status_line "etcd-$n" running "pid $(etcd_pid "$n") port $(etcd_port "$n") $role"
    else
      status_line "etcd-$n" stopped "port $(etcd_port "$n")"
      bad=1
    fi
  done
  for n in "${HA_NODES[@]}"; do
    if patroni_running "$n" && pgn_running "$n"; then
      role=$(pgn_role "$n")
      status_line "postgres-$n" running "patroni pid $(patroni_pid "$n") postgres pid $(pgn_pid "$n") port $(pgn_port "$n") role ${role:-?}"
    else
      status_line "postgres-$n" stopped "port $(pgn_port "$n")"
      bad=1
    fi
  done
  RD="$STATE/redis"
  local node
  for node in $(redis_nodes); do
    if redis_running "$node"; then status_line "redis-$node" running "pid $(redis_pid "$node") port $(redis_port_of "$node")"; else
      status_line "redis-$node" stopped "port $(redis_port_of "$node")"
      bad=1
    fi
  done
  for n in "${HA_NODES[@]}"; do
    rb_select "$n"
    if rabbit_running; then status_line "rabbitmq-$n" running "pid $(rabbit_pid) port $RABBIT_PORT node $RABBIT_NODE"; else
      status_line "rabbitmq-$n" stopped "port $RABBIT_PORT node $RABBIT_NODE"
      bad=1
    fi
  done
  return "$bad"
}

need_ha_state() {
  resolve_state
  [[ -f $STATE/.initialized && -f $CONFIG ]] || die "no running services in $STATE (run '$ME up --ha')"
  ha_state || die "$STATE does not run the HA profile ('$ME up --ha')"
  lock_state
  ha_load_config
}

# ---------------------------------------------------------------------------------------------
# fault helpers

# kill -9 of the leader's whole process group: Patroni, its postmaster and every backend, as if the
# machine were lost. Prints the node number.
cmd_kill_postgres_primary() {
  need_ha_state
  local n pid pg
  n=$(ha_leader) || die "no Patroni leader"
  pid=$(patroni_pid "$n")
  pg=$(pgn_pid "$n")
  pid_ok "$pid" patroni || die "pg$n's Patroni is not running"
  log "postgres: kill -9 of the primary pg$n: patroni pid $pid, postgres pid ${pg:-?}, port $(pgn_port "$n")"
  local pgid=""
  [[ -n $pg ]] && pgid=$(ps -o pgid= -p "$pg" 2>/dev/null | tr -dc '0-9')
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  # Patroni starts the postmaster in its own process group (so that it outlives Patroni): kill it too
  if [[ -n $pgid && $pgid != 1 && $pgid != "$$" ]]; then kill -9 -- "-$pgid" 2>/dev/null || true; fi
  [[ -n $pg ]] && { kill -9 "$pg" 2>/dev/null || true; }
  local deadline=$((SECONDS + 10))
  while pid_alive "$pid" || pid_alive "${pg:-0}"; do
    ((SECONDS < deadline)) || die "pg$n's processes did not die"
    sleep 0.1
  done
  echo "$n"
}

# ---------------------------------------------------------------------------------------------
# The partition: a network cut on loopback. Each PostgreSQL node (its Patroni, its postgres and every process they
# start) runs in a cgroup v2 of its own (patroni_start), and iptables' cgroup match drops, on lo, every TCP packet
# that the cut node's sockets send to etcd and to the other nodes' postgres and REST ports, and every packet the
# other nodes send to its ports. Clients outside those cgroups (Tally, the tests, this script) still reach every
# node: the cut primary's postgres stays reachable, as behind a real partition between the database machines.

cgroup_root() { findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1; }
# pgn_cgroup N: node N's cgroup, relative to the cgroup2 mount (what iptables' --path takes), one per state folder.
pgn_cgroup() { echo "tally-ha-$ETCD_PORT_1-pg$1"; }
partition_chain() { echo "TALLY-HA-$ETCD_PORT_1"; }

# Removes the cut (rules and chain), if there is one.
partition_remove() {
  local chain
  chain=$(partition_chain)
  command -v iptables >/dev/null || return 0
  while iptables -C OUTPUT -o lo -j "$chain" 2>/dev/null; do iptables -D OUTPUT -o lo -j "$chain"; done
  iptables -F "$chain" 2>/dev/null || true
  iptables -X "$chain" 2>/dev/null || true
  rm -f "$STATE/.partition"
}

# Empty node cgroups left by stopped clusters (a populated one refuses rmdir, so a running cluster keeps its own).
ha_cgroups_prune() {
  local root
  root=$(cgroup_root)
  [[ -n $root ]] || return 0
  rmdir "$root"/tally-ha-*-pg[123] 2>/dev/null || true
}

# Cuts the leader off from etcd and the other nodes (see above). After the ttl the others promote the synchronous
# standby; the cut leader's Patroni can neither renew its key nor reach every other member (failsafe_mode), so it
# demotes its postgres; and until then a commit on it waits for a standby confirmation that can't arrive, so it is
# never acknowledged. Prints the node number.
cmd_partition_postgres_primary() {
  need_ha_state
  local n m chain root ports
  command -v iptables >/dev/null || die "a partition needs iptables (apt-get install iptables)"
  root=$(cgroup_root)
  [[ -n $root ]] || die "a partition needs a cgroup v2 mount (for iptables' cgroup match)"
  n=$(ha_leader) || die "no Patroni leader"
  [[ -n $(cat "$root/$(pgn_cgroup "$n")/cgroup.procs" 2>/dev/null) ]] || die "pg$n's processes are not in its cgroup (started before partitions existed? restart with down and up --ha)"
  partition_remove
  chain=$(partition_chain)
  iptables -N "$chain"
  ports="$ETCD_PORT_1,$ETCD_PORT_2,$ETCD_PORT_3"
  for m in "${HA_NODES[@]}"; do
    [[ $m == "$n" ]] && continue
    ports+=",$(pgn_port "$m"),$(pgn_rest "$m")"
    iptables -A "$chain" -p tcp -m cgroup --path "$(pgn_cgroup "$m")" -m multiport --dports "$(pgn_port "$n"),$(pgn_rest "$n")" -j DROP
  done
  iptables -A "$chain" -p tcp -m cgroup --path "$(pgn_cgroup "$n")" -m multiport --dports "$ports" -j DROP
  iptables -I OUTPUT -o lo -j "$chain"
  echo "$n" >"$STATE/.partition"
  log "postgres: pg$n cut off from etcd ($ETCD_PORT_1,$ETCD_PORT_2,$ETCD_PORT_3) and the other nodes (iptables chain $chain on lo); its postgres (port $(pgn_port "$n")) stays reachable to clients"
  echo "$n"
}

# Ends a partition: the rules go; the old leader's Patroni finds another leader, and its node rejoins as a replica
# (pg_rewind).
cmd_heal_postgres() {
  need_ha_state
  local n
  n=$(cat "$STATE/.partition" 2>/dev/null || true)
  partition_remove
  log "postgres: partition healed${n:+ (pg$n reconnected)}"
}

cmd_postgres_primary() {
  need_ha_state
  ha_leader || die "no Patroni leader"
}

# kill -9 of RabbitMQ node N (default 1): the Erlang VM and its children. Prints N.
cmd_kill_rabbitmq_node() {
  need_ha_state
  local n=${1:-1} pid
  [[ $n =~ ^[123]$ ]] || die "node must be 1, 2 or 3"
  rb_select "$n"
  pid=$(rabbit_pid)
  pid_ok "$pid" beam || die "rabbit$n is not running"
  log "rabbitmq: kill -9 of rabbit$n (pid $pid, port $RABBIT_PORT)"
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  wait_until 10 bash -c "! [[ -d /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status" || die "pid $pid did not die"
  echo "$n"
}

# kill -9 of etcd member N (default: the member that leads the etcd cluster now, the costlier loss: the other
# two elect a new leader). Two members keep a quorum, so Patroni keeps its leader key; it warns first when a
# member is already down, since then this kill takes the quorum away. Prints N.
cmd_kill_etcd_member() {
  need_ha_state
  local n=${1:-} pid m healthy=0
  if [[ -z $n ]]; then n=$(etcd_leader) || die "no etcd leader"; fi
  [[ $n =~ ^[123]$ ]] || die "member must be 1, 2 or 3"
  for m in "${ETCD_MEMBERS[@]}"; do etcd_healthy "$m" && healthy=$((healthy + 1)); done
  ((healthy == 3)) || log "etcd: WARNING: only $healthy of 3 members healthy; losing etcd$n may take the quorum away (no leader key, writes stop)"
  pid=$(etcd_pid "$n")
  pid_ok "$pid" "$(etcd_dir "$n")/data" || die "etcd$n is not running"
  log "etcd: kill -9 of etcd$n (pid $pid, port $(etcd_port "$n"))"
  kill -9 "$pid" 2>/dev/null || true
  wait_until 10 bash -c "! [[ -d /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status" || die "pid $pid did not die"
  echo "$n"
}

cmd_patronictl() {
  need_ha_state
  exec 9>&-
  as postgres HOME="$STATE/pg1" /usr/bin/patronictl -c "$STATE/pg1/patroni.yml" "$@"
}

# The leader's archiver as PostgreSQL counts it (pg_stat_archiver): the last segment archived, and the last one
# that failed with how many failures: a segment that fails again and again holds back every later one.
ha_archiver_status() {
  ha_psql -d postgres -qAt -c "SELECT format('last archived %s at %s; %s failures, the last of %s at %s', last_archived_wal,
    last_archived_time, failed_count, coalesce(last_failed_wal, 'none'), coalesce(last_failed_time::text, '-')) FROM pg_stat_archiver" 2>/dev/null || true
}

# What a failed backup or check needs to be understood: the archiver's log, pgBackRest's own, and the
# leader's PostgreSQL log (its archive_command failures) with each node's archive status.
pgbackrest_failure_logs() {
  local n
  n=$(ha_leader) || true
  tail_log "$STATE/pgbackrest/log/tally-archive-push.log" "$STATE/pgbackrest/log/tally-backup.log" \
    "$STATE/pgbackrest/log/tally-check.log" ${n:+"$(pgn_dir "$n")/patroni.log"}
  for n in "${HA_NODES[@]}"; do
    printf -- '----- pg%s archive_status: %s -----\n' "$n" \
      "$(ls "$(pgn_dir "$n")/data/pg_wal/archive_status" 2>/dev/null | tail -n 8 | tr '\n' ' ')" >&2
  done
  printf -- "----- the leader's archiver: %s -----\n" "$(ha_archiver_status)" >&2
}

# pgbackrest check with a shorter wait than a backup's: it switches WAL and waits for that segment in the repository.
ha_archive_current() { ha_pgbackrest --archive-timeout=30 check >&2; }

# A backup ends by waiting (archive-timeout, 60 s) for its last WAL segment to be archived. So first make sure the
# archive is current: an archiver that is behind or stalled then fails in seconds, before the copy, with its state
# printed, and a second check covers an archiver that a switch woke late or a leader that changed in between. A
# backup that still fails is retried once: on the new leader after a failover (a demoted node never archives the
# segment), or after the archive is current again.
cmd_backup() {
  need_ha_state
  exec 9>&-
  local type=${1:-full} leader attempt
  for attempt in 1 2; do
    ha_archive_current && break
    log "pgbackrest: the archive is not current (check $attempt of 2); the leader's archiver: $(ha_archiver_status)"
    ((attempt < 2)) || { pgbackrest_failure_logs; die "the WAL archive is not current: no backup taken"; }
  done
  for attempt in 1 2; do
    leader=$(ha_leader) || die "no Patroni leader"
    if ha_pgbackrest --type="$type" backup >&2; then
      log "pgbackrest: backup done"
      return 0
    fi
    ((attempt < 2)) || break
    if [[ $(ha_leader) != "$leader" ]]; then
      log "pgbackrest: the leader changed from pg$leader during the backup; backing up the new leader"
    else
      log "pgbackrest: the backup failed; the leader's archiver: $(ha_archiver_status); one more once the archive is current"
      ha_archive_current || break
    fi
  done
  pgbackrest_failure_logs
  die "pgbackrest backup failed"
}

# Waits for the WAL up to now to be in the repository (pgbackrest check switches to a new segment and
# waits for the old one to be archived): every commit so far can then be restored.
cmd_archive_check() {
  need_ha_state
  exec 9>&-
  ha_pgbackrest check >&2 || { pgbackrest_failure_logs; die "pgbackrest check failed"; }
  log "pgbackrest: WAL archived up to now"
}

# The restore drill: kill -9 every PostgreSQL node and its Patroni, delete their data folders and the
# cluster's keys in etcd, then bootstrap a new cluster from the pgBackRest repository on the same
# ports (node 1 restores the latest backup and replays every archived WAL segment, then leads; nodes 2
# and 3 clone it). Prints the new leader's node number.
cmd_restore_cluster() {
  need_ha_state
  local n pid pg pgid
  for n in "${HA_NODES[@]}"; do
    pid=$(patroni_pid "$n")
    pg=$(pgn_pid "$n")
    pgid=""
    [[ -n $pg ]] && pgid=$(ps -o pgid= -p "$pg" 2>/dev/null | tr -dc '0-9')
    if pid_ok "$pid" patroni; then kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; fi
    if [[ -n $pgid && $pgid != 1 && $pgid != "$$" ]]; then kill -9 -- "-$pgid" 2>/dev/null || true; fi
    if [[ -n $pg ]]; then kill -9 "$pg" 2>/dev/null || true; fi
  done
  local deadline=$((SECONDS + 20))
  for n in "${HA_NODES[@]}"; do
    while patroni_running "$n" || pgn_running "$n"; do
      ((SECONDS < deadline)) || die "pg$n did not die"
      sleep 0.1
    done
  done
  log "postgres: every node killed; deleting their data and the cluster's keys in etcd"
  for n in "${HA_NODES[@]}"; do rm -rf -- "$(pgn_dir "$n")/data"; done
  local key end etcd
  etcd=$(etcd_any_port) || die "no etcd member is healthy"
  key=$(printf '/tally-%s/' "$ETCD_PORT_1" | base64 -w0)
  end=$(printf '/tally-%s0' "$ETCD_PORT_1" | base64 -w0)
  curl -fsS -m 10 -X POST "http://127.0.0.1:$etcd/v3/kv/deleterange" -d "{\"key\":\"$key\",\"range_end\":\"$end\"}" >/dev/null ||
    die "could not delete the cluster's keys in etcd"
  log "pgbackrest: bootstrapping a new cluster from the repository on pg1"
  patroni_init 1 restore
  patroni_start 1
  wait_until "$TIMEOUT" bash -c "[[ \$(curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:$PG_REST_1/primary) == 200 ]]" ||
    { tail_log "$(pgn_dir 1)/patroni.log" "$STATE/pgbackrest/log/tally-restore.log"; die "pg1 did not restore within ${TIMEOUT}s"; }
  patroni_start 2
  patroni_start 3
  ha_wait_pg
  ha_leader
}

# restore-to DIR PORT: restores the latest backup plus all archived WAL into a new data folder and
# starts a standalone PostgreSQL on it (as postgres, socket in DIR/run); prints its port.
cmd_restore_to() {
  need_ha_state
  exec 9>&-
  local dir=${1:?restore-to DIR PORT} port=${2:?restore-to DIR PORT}
  [[ ! -e $dir/data ]] || die "$dir/data exists"
  mkdir -p "$dir/data" "$dir/run"
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir/data"
  log "pgbackrest: restoring into $dir/data"
  as postgres HOME="$dir" pgbackrest --config="$(pgbackrest_conf)" --stanza=tally --pg1-path="$dir/data" \
    --type=default --archive-mode=off restore >&2 || die "pgbackrest restore failed"
  cat >>"$dir/data/postgresql.auto.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/run'
archive_mode = off
EOF
  (cd "$dir" && as postgres HOME="$dir" "$PG_BIN/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t "$TIMEOUT") >&2 9>&- ||
    { tail_log "$dir/postgres.log"; die "the restored postgres did not start"; }
  wait_until "$TIMEOUT" bash -c "[[ \$('$PG_BIN/psql' -h '$dir/run' -p $port -U postgres -d postgres -qAt -c 'SELECT pg_is_in_recovery()') == f ]]" ||
    { tail_log "$dir/postgres.log"; die "the restored postgres did not finish recovery"; }
  echo "$port"
}
