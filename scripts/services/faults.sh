# shellcheck shell=bash
# Fault injection for tests (sourced by scripts/services.sh): kill the Redis master the sentinels
# name, ask which master they name, and restart PostgreSQL or RabbitMQ with a pause in between.

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
  ha_state && die "the HA profile has no single postgres: use kill-postgres-primary, then 'up --ha'"
  local pause=${1:-0}
  pg_stop
  wait_until "$TIMEOUT" bash -c "! [[ -e '$PG/data/postmaster.pid' ]]" || die "postgres did not stop within ${TIMEOUT}s"
  ((pause > 0)) && { log "postgres: down for ${pause}s"; sleep "$pause"; }
  pg_start
  log "postgres: restarted"
}

cmd_restart_rabbitmq() {
  need_state
  ha_state && die "the HA profile has three RabbitMQ nodes: use kill-rabbitmq-node N, then 'up --ha'"
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
