# shellcheck shell=bash
# RabbitMQ (sourced by scripts/services.sh): one node under $STATE/rabbitmq with its own Erlang
# cookie and a private epmd, rabbitmqctl against it, and the `rabbitmqctl` command.

# rabbit_bin <name>: the path of a RabbitMQ program (rabbitmq-server, rabbitmqctl), not the
# /usr/sbin wrappers.
rabbit_bin() {
  local d
  for d in /usr/lib/rabbitmq/bin /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin; do
    if [[ -x $d/$1 ]]; then
      echo "$d/$1"
      return
    fi
  done
}

# RENV: the environment of every RabbitMQ program run for this node.
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

cmd_rabbitmqctl() {
  need_state
  # a long rabbitmqctl must not hold the state folder's lock
  exec 9>&-
  rctl "$TIMEOUT" "$@"
}
