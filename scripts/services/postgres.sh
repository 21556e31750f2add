# shellcheck shell=bash
# PostgreSQL (sourced by scripts/services.sh): the private instance under $STATE/pg, from initdb
# to stop, and the `psql` command.

# The server binaries: PostgreSQL 15 if installed, else the newest version present.
pg_bindir() {
  local d
  if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n $d && -x $d/postgres ]] && echo "$d"
}

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

cmd_psql() {
  need_state
  # an interactive psql must not hold the state folder's lock
  exec 9>&-
  "$PG_BIN/psql" -h "$PG/run" -p "$PG_PORT" -U postgres "$@"
}
