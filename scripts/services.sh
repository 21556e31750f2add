#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
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
#
# This file reads the settings and dispatches the command. The work is in scripts/services/:
#   common.sh     logging, exit cleanups, pid and wait helpers, the state folder, ports, config.sh
#   install.sh    apt install of missing packages, with the distro's services kept stopped
#   postgres.sh   PostgreSQL, and the `psql` command
#   redis.sh      Redis master, replica and 3 sentinels
#   rabbitmq.sh   RabbitMQ and its private epmd, and the `rabbitmqctl` command
#   lifecycle.sh  `up`, `down`, `status`, and the export lines
#   faults.sh     `kill-redis-master`, `redis-master`, `restart-postgres`, `restart-rabbitmq`
#   ha.sh         `up --ha`: 3 etcd members, 3 PostgreSQL nodes under Patroni (synchronous replication,
#                 pgBackRest), 3 clustered RabbitMQ nodes; their fault, backup and restore helpers
set -euo pipefail

readonly ME="scripts/services.sh"
STATE="${TALLY_SERVICES_DIR:-/tmp/tally-services}"
TIMEOUT="${TALLY_SERVICES_TIMEOUT:-60}"

LIB="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/services"
readonly LIB
# shellcheck source=services/common.sh
. "$LIB/common.sh"
# shellcheck source=services/install.sh
. "$LIB/install.sh"
# shellcheck source=services/postgres.sh
. "$LIB/postgres.sh"
# shellcheck source=services/redis.sh
. "$LIB/redis.sh"
# shellcheck source=services/rabbitmq.sh
. "$LIB/rabbitmq.sh"
# shellcheck source=services/lifecycle.sh
. "$LIB/lifecycle.sh"
# shellcheck source=services/faults.sh
. "$LIB/faults.sh"
# shellcheck source=services/ha.sh
. "$LIB/ha.sh"

trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
  cat >&2 <<EOF
usage: $ME <command>

  up                     install what is missing (apt), start private PostgreSQL, Redis
                         (master, replica, 3 sentinels) and RabbitMQ on free 127.0.0.1 ports,
                         print 'export K=V' lines (also in \$TALLY_SERVICES_DIR/env.sh).
                         Idempotent: restarts only what is down, then prints the same lines.
  up --ha                the HA profile instead: three etcd members, three PostgreSQL 15 nodes under Patroni
                         (synchronous replication, WAL archived to pgBackRest), Redis as above,
                         three clustered RabbitMQ nodes; the same exports, with a multi-host
                         ConnectionStrings__Postgres and Bus__RabbitMq__Endpoints
  status                 one line per process; exit 0 all running, 1 some stopped, 3 none
  down                   stop everything cleanly, wait, remove the state folder
  kill-redis-master      kill -9 the master the sentinels currently name; prints its port
  redis-master           print the master port the sentinels currently name
  restart-postgres [S]   pg_ctl stop -m fast, stay down S seconds (default 0), start
  restart-rabbitmq [S]   rabbitmqctl stop, stay down S seconds (default 0), start
  rabbitmqctl ARGS...    rabbitmqctl -n <node> ARGS (e.g. list_queues -p tally)
  psql ARGS...           psql as superuser postgres over the private socket

HA profile only:
  kill-postgres-primary  kill -9 of the Patroni leader's Patroni and postgres; prints the node (1-3)
  postgres-primary       print the node (1-3) that leads now
  partition-postgres-primary
                         cut the leader off from etcd and the other nodes (iptables on lo, by the
                         node's cgroup); its postgres stays reachable to clients; prints the node
  heal-postgres          remove the cut (the old leader finds another leader and rejoins)
  kill-rabbitmq-node [N] kill -9 of RabbitMQ node N (default 1); 'up --ha' restarts it
  kill-etcd-member [N]   kill -9 of etcd member N (default: the etcd leader); prints N. Two of three
                         keep the quorum (Patroni keeps its leader); 'up --ha' restarts it
  patronictl ARGS...     patronictl against the cluster (e.g. list)
  backup [full|diff|incr] pgBackRest backup from the leader (default full)
  archive-check          pgbackrest check: switch WAL and wait until it is archived (every commit
                         so far can then be restored)
  restore-cluster        the restore drill: kill -9 every PostgreSQL node, delete their data and the
                         cluster's etcd keys, bootstrap a new cluster from the latest backup and the
                         archived WAL on the same ports; prints the new leader
  restore-to DIR PORT    restore the latest backup and archived WAL into DIR/data, start a
                         standalone PostgreSQL on PORT, print the port

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
    up)
      # a state folder keeps its profile: a plain `up` of an HA folder restarts what is down in it
      resolve_state
      if [[ ${1:-} == --ha ]] || ha_state; then cmd_up_ha; else cmd_up; fi
      ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kill-redis-master) cmd_kill_redis_master ;;
    redis-master) cmd_redis_master ;;
    restart-postgres) cmd_restart_postgres "$@" ;;
    restart-rabbitmq) cmd_restart_rabbitmq "$@" ;;
    rabbitmqctl) cmd_rabbitmqctl "$@" ;;
    psql)
      resolve_state
      if ha_state; then
        need_ha_state
        exec 9>&-
        ha_psql "$@"
      else
        cmd_psql "$@"
      fi
      ;;
    kill-postgres-primary) cmd_kill_postgres_primary ;;
    postgres-primary) cmd_postgres_primary ;;
    partition-postgres-primary) cmd_partition_postgres_primary ;;
    heal-postgres) cmd_heal_postgres ;;
    kill-rabbitmq-node) cmd_kill_rabbitmq_node "$@" ;;
    kill-etcd-member) cmd_kill_etcd_member "$@" ;;
    patronictl) cmd_patronictl "$@" ;;
    backup) cmd_backup "$@" ;;
    restore-to) cmd_restore_to "$@" ;;
    archive-check) cmd_archive_check ;;
    restore-cluster) cmd_restore_cluster ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
