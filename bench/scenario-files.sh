#!/usr/bin/env bash
# The built-in scenarios as shipped files against the former C# scenarios, in one run against the
# same embedded Tally: tally-load built from BASE_REF (default 6512e28, the last commit before
# scenario files) and from this checkout run `--scenario SCENARIO` (default mixed) alternately,
# ROUNDS times (default 2), each an open-model run of RATE arrivals/s (default 1000) for DURATION
# (default 20s). Prints, per round, `tally-load compare BASE CANDIDATE` (per endpoint: rps and
# p50..p99 with a bootstrap interval and a verdict) and the generator's CPU per 1,000 requests of
# both. Target: no figure `worse` beyond --fail-on "p95>+10%,rps<-5%" (compare exits 3), and the
# generator CPU per request within 10% of the C# path's (<= 1.10).
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
BASE_REF="${BASE_REF:-6512e28}"
SCENARIO="${SCENARIO:-mixed}"
RATE="${RATE:-1000}"
DURATION="${DURATION:-20s}"
ROUNDS="${ROUNDS:-2}"
USERS="${USERS:-500}"
TARGET_CPU_RATIO="1.10"
HOST="127.0.0.1"

ensure_commands curl:curl python3:python3

WORK="$(mktemp -d -t tally-load-files.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "publish Tally.Server and Tally.Load from this checkout, and Tally.Load from $BASE_REF"
dotnet publish src/Tally.Server/Tally.Server.csproj -c Release -o "$WORK/server" --nologo -v quiet >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
dotnet publish src/Tally.Load/Tally.Load.csproj -c Release -o "$WORK/candidate" --nologo -v quiet >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
mkdir -p "$WORK/base-src"
git archive "$BASE_REF" .editorconfig global.json Directory.Build.props Directory.Packages.props src/Tally.Load | tar -x -C "$WORK/base-src"
dotnet publish "$WORK/base-src/src/Tally.Load/Tally.Load.csproj" -c Release -o "$WORK/base" --nologo -v quiet >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }

PORT="$(free_port)"
TARGET="http://$HOST:$PORT"
mkdir -p "$WORK/data"
log "start $TARGET"
(
  cd "$WORK"
  exec env Storage__DataDirectory="$WORK/data" Auth__PasswordIterations=1000 \
    Auth__LoginPermitsPerIpPerMinute=1000000 Auth__LoginPermitsPerPhonePerMinute=1000000 \
    Auth__RegistrationsPerIpPerMinute=1000000 Admin__Secret=bench Logging__LogLevel__Default=Warning \
    dotnet "$WORK/server/Tally.Server.dll" --urls "$TARGET"
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 120); do
  curl -fsS -o /dev/null "$TARGET/ready" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  [ "$i" -eq 120 ] && { tail -n 50 "$WORK/server.log" >&2; exit 1; }
  sleep 0.5
done

export TALLY_ADMIN_SECRET=bench
log "seed $USERS users"
dotnet "$WORK/candidate/Tally.Load.dll" seed --target "$TARGET" --users "$USERS" --workers 20 --out "$WORK/users.json" --quiet >&2

run() { # <build: base|candidate> <json>
  dotnet "$WORK/$1/Tally.Load.dll" run --scenario "$SCENARIO" --target "$TARGET" --users-file "$WORK/users.json" \
    --rate "$RATE" --duration "$DURATION" --quiet --json "$2" >/dev/null
}
cpu_per_1k() { # <json>: generator CPU-seconds per 1,000 requests
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["summary"]; print("%.4f" % (r["generator_cpu_percent"] / 100 * s["duration_seconds"] * '"$(nproc)"' / max(1, s["requests"]) * 1000))' "$1"
}

log "warm-up (both builds, 5 s each)"
DURATION_SAVED="$DURATION"; DURATION=5s
run base "$WORK/warm-base.json"; run candidate "$WORK/warm-candidate.json"
DURATION="$DURATION_SAVED"

STATUS=0
for round in $(seq 1 "$ROUNDS"); do
  log "round $round: $SCENARIO at $RATE/s for $DURATION, C# (base $BASE_REF) then the shipped file (candidate)"
  run base "$WORK/base-$round.json"
  run candidate "$WORK/candidate-$round.json"
  set +e
  dotnet "$WORK/candidate/Tally.Load.dll" compare "$WORK/base-$round.json" "$WORK/candidate-$round.json" --fail-on "p95>+10%,rps<-5%"
  code=$?
  set -e
  [ "$code" -eq 3 ] && STATUS=1
  [ "$code" -ne 0 ] && [ "$code" -ne 3 ] && { echo "compare failed with exit code $code" >&2; exit 1; }
  BASE_CPU="$(cpu_per_1k "$WORK/base-$round.json")"
  CAND_CPU="$(cpu_per_1k "$WORK/candidate-$round.json")"
  RATIO="$(awk -v a="$CAND_CPU" -v b="$BASE_CPU" 'BEGIN { printf "%.2f", a / b }')"
  printf 'round %s generator CPU s per 1k requests: C# %s, file %s, ratio %s (target <= %s)\n' "$round" "$BASE_CPU" "$CAND_CPU" "$RATIO" "$TARGET_CPU_RATIO"
  awk -v r="$RATIO" -v t="$TARGET_CPU_RATIO" 'BEGIN { exit !(r <= t) }' || { echo "round $round: generator CPU per request above target" >&2; STATUS=1; }
done

dotnet "$WORK/candidate/Tally.Load.dll" audit --target "$TARGET" >&2 || STATUS=1
exit "$STATUS"
