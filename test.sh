#!/usr/bin/env bash
# The one test command: installs what is missing, builds, runs every test project,
# and ends with the line "N passed, N failed".
set -euo pipefail

cd "$(dirname "$0")"
ROOT="$(pwd)"
RESULTS="$ROOT/artifacts/test-results"
CONFIGURATION="${CONFIGURATION:-Release}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '==> %s\n' "$*" >&2; }

# Installs the Debian package that provides each missing command, given as "command:package".
# apt-get update runs at most once, and only when something is actually missing.
APT_UPDATED=0
ensure_commands() {
  local missing=() pair command package
  for pair in "$@"; do
    command="${pair%%:*}"
    package="${pair#*:}"
    if ! command -v "$command" >/dev/null 2>&1; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  log "installing: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required and is not on PATH" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# Headless Chromium opens tally-load's HTML reports. The private PostgreSQL, Redis and RabbitMQ
# servers are installed by the fixtures that start them (scripts/services.sh, private-postgres.sh).
ensure_commands chromium:chromium kubectl:kubectl promtool:prometheus npm:npm

log "restore"
dotnet restore Tally.slnx
log "build ($CONFIGURATION)"
dotnet build Tally.slnx -c "$CONFIGURATION" --no-restore

rm -rf "$RESULTS"
mkdir -p "$RESULTS"

mapfile -t projects < <(find tests -name '*.Tests.csproj' -type f | sort)
if [ "${#projects[@]}" -eq 0 ]; then
  echo "error: no test project found under tests/" >&2
  echo "0 passed, 0 failed"
  exit 1
fi

runner_failed=0
for project in "${projects[@]}"; do
  name="$(basename "$project" .csproj)"
  log "test $name"
  if ! dotnet test "$project" -c "$CONFIGURATION" --no-build \
      --logger "trx;LogFileName=$name.trx" \
      --results-directory "$RESULTS"; then
    runner_failed=1
  fi
done

# Adds up the <Counters passed=".." failed=".."/> element of every TRX file.
counter() {
  local file="$1" attribute="$2"
  grep -o '<Counters [^>]*' "$file" | grep -o " $attribute=\"[0-9]*\"" | grep -o '[0-9]\+' | head -n 1 || true
}

passed=0
failed=0
trx_count=0
shopt -s nullglob
for trx in "$RESULTS"/*.trx; do
  trx_count=$((trx_count + 1))
  p="$(counter "$trx" passed)"
  f="$(counter "$trx" failed)"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
shopt -u nullglob

status=0
if [ "$trx_count" -lt "${#projects[@]}" ]; then
  echo "error: expected ${#projects[@]} TRX files, found $trx_count (a test run crashed?)" >&2
  status=1
fi
if [ "$failed" -gt 0 ] || [ "$runner_failed" -ne 0 ]; then
  status=1
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "error: no test ran" >&2
  status=1
fi
if [ "$runner_failed" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a counted failure (crash, abort): count it so the line shows it.
  failed=1
fi

echo "$passed passed, $failed failed"
exit "$status"
