#!/usr/bin/env bash
# Before/after comparison of PostgreSQL transfers/s: runs bench/distributed.sh on two commits,
# alternating (base, candidate, base, candidate, ...), RUNS times each, and prints each run's
# HTTP transfers/s and pgbench tps at 16 and 64 clients, the medians, and candidate/base ratios.
# Alternating spreads the machine's drift over both commits; pgbench in the same run is the anchor.
#   bench/distributed-ab.sh BASE_REV CANDIDATE_REV      (default: HEAD~1 HEAD)
#   RUNS=3 DURATION=10s bench/distributed-ab.sh 6512e28 main
# BASE_ENV and CANDIDATE_ENV add settings to each side's runs, so one commit can be compared with
# itself on two set-ups: synchronous replication on three nodes against one PostgreSQL node is
#   RUNS=1 CANDIDATE_ENV="PROFILE=ha" bench/distributed-ab.sh HEAD HEAD
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
BASE_REV="${1:-HEAD~1}"
CANDIDATE_REV="${2:-HEAD}"
RUNS="${RUNS:-3}"
read -r -a BASE_SETTINGS <<<"${BASE_ENV:-}"
read -r -a CANDIDATE_SETTINGS <<<"${CANDIDATE_ENV:-}"

WORK="$(mktemp -d -t tally-dist-ab.XXXXXX)"
cleanup() {
  git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
  git -C "$ROOT" worktree remove --force "$WORK/candidate" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git -C "$ROOT" worktree add --detach "$WORK/base" "$BASE_REV" >/dev/null 2>&1
git -C "$ROOT" worktree add --detach "$WORK/candidate" "$CANDIDATE_REV" >/dev/null 2>&1
log "base $(git -C "$WORK/base" rev-parse --short HEAD) ${BASE_ENV:-}, candidate $(git -C "$WORK/candidate" rev-parse --short HEAD) ${CANDIDATE_ENV:-}, $RUNS runs each"

# One line per run: "<label> <http16> <tps16> <http64> <tps64>".
RESULTS="$WORK/results.txt"
: >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
  for label in base candidate; do
    log "run $run: $label"
    out="$WORK/$label-$run.txt"
    if [ "$label" = base ]; then settings=("${BASE_SETTINGS[@]}"); else settings=("${CANDIDATE_SETTINGS[@]}"); fi
    if ! (cd "$WORK/$label" && env "${settings[@]}" bench/distributed.sh) >"$out" 2>"$WORK/$label-$run.err"; then
      tail -20 "$WORK/$label-$run.err" >&2
      echo "error: bench/distributed.sh failed on $label (run $run)" >&2
      exit 1
    fi
    awk -v label="$label" '
      /^clients 16 / { h16 = $6; t16 = $(NF - 2) }
      /^clients 64 / { h64 = $6; t64 = $(NF - 2) }
      END { print label, h16, t16, h64, t64 }' "$out" >>"$RESULTS"
    tail -1 "$RESULTS" >&2
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column_median() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$RESULTS" | median; }

echo
echo "PostgreSQL transfers/s, bench/distributed.sh alternating, $RUNS runs each; base $BASE_REV ${BASE_ENV:-}, candidate $CANDIDATE_REV ${CANDIDATE_ENV:-}"
printf '%-10s %-10s %14s %14s %14s %14s\n' run commit "HTTP c16" "pgbench c16" "HTTP c64" "pgbench c64"
awk '{ printf "%-10s %-10s %14s %14s %14s %14s\n", NR, $1, $2, $3, $4, $5 }' "$RESULTS"
for label in base candidate; do
  printf '%-10s %-10s %14s %14s %14s %14s\n' median "$label" \
    "$(column_median "$label" 2)" "$(column_median "$label" 3)" "$(column_median "$label" 4)" "$(column_median "$label" 5)"
done
for c in 2 4; do
  clients=$([ "$c" -eq 2 ] && echo 16 || echo 64)
  base="$(column_median base "$c")"
  candidate="$(column_median candidate "$c")"
  printf 'clients %s: candidate/base HTTP transfers/s %s, pgbench tps %s\n' "$clients" \
    "$(awk -v a="$candidate" -v b="$base" 'BEGIN { printf "%.3f", a / b }')" \
    "$(awk -v a="$(column_median candidate $((c + 1)))" -v b="$(column_median base $((c + 1)))" 'BEGIN { printf "%.3f", a / b }')"
done
