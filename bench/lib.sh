#!/usr/bin/env bash
# Shared by the bench scripts (sourced): quiet dotnet, a log line on stderr, Debian packages on demand,
# and a free loopback port.

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '==> %s\n' "$*" >&2; }

# Installs the Debian package for each missing command, given as "command:package".
ensure_commands() {
  local missing=() pair sudo=""
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# A port on 127.0.0.1 that nothing listens on now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The README's load recipe for a benchmarked Tally: cheap password hashing, login and registration limits
# out of the way. The generator is one loopback address, so the gateway's per-IP and per-session limits
# would refuse first; its concurrency limit stays, as part of what is measured.
RECIPE=(Auth__PasswordIterations=1000 Auth__RegistrationsPerIpPerMinute=1000000 Auth__LoginPermitsPerIpPerMinute=1000000 Auth__LoginPermitsPerPhonePerMinute=1000000)
GATEWAY_RECIPE=(Gateway__RateLimits__PerIpPerSecond=10000000 Gateway__RateLimits__PerIpBurst=10000000
  Gateway__RateLimits__PerSessionPerSecond=10000000 Gateway__RateLimits__PerSessionBurst=10000000
  Gateway__RateLimits__LoginPerIpPerMinute=10000000 Gateway__RateLimits__TransferPerSessionPerSecond=10000000
  Gateway__RateLimits__TransferPerSessionBurst=10000000)

# publish_projects DIR PROJECT...: a Release publish of each src/PROJECT into DIR/PROJECT (run from the
# repository root); prints the build log and exits on a failure.
publish_projects() {
  local dir=$1 project
  shift
  log "publish $* (Release)"
  for project in "$@"; do
    dotnet publish "src/$project/$project.csproj" -c Release -o "$dir/$project" --nologo -v quiet >"$dir/publish-$project.log" 2>&1 \
      || { cat "$dir/publish-$project.log" >&2; exit 1; }
  done
}

# wait_ready URL: until GET URL/ready answers 200, at most 60 s.
wait_ready() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 2 "$1/ready" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "error: $1 was not ready in 60 s" >&2
  exit 1
}
