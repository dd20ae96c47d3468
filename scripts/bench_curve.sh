#!/bin/sh
# bench_curve.sh: `make bench-curve`: the cost curve of issue 14 (item 8).
#   sh scripts/bench_curve.sh BUILD_DIR "N1 N2 ..."    (make: 10000 100000 1000000)
# For each N, build/sim/bench --rows N and the end-to-end run of
# build/sim/bench_sync --rows N, then one table row per N from their
# "result:" lines: time per row of each stage and the memory of the process
# that applies (the bench process after import, the hub daemon end to end).
# Flat columns as N grows are the aim. Each program's full output is kept
# in a temporary folder only when it fails. Timings are never asserted.
set -eu
b=$1
ns=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/linli-bench-curve.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

row() { # the table row of one N from its result lines
  awk -v n="$1" '
  /^result: / { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$2 "." kv[1]] = kv[2] } }
  function us(s) { return sprintf("%.2f", 1e6 * s / n) }
  END {
    printf "%9d %7s %7s %7s %7s %7s %7s %7s %8.1f %8.1f %7.1f %7.1f\n", n,
      us(v["bench.plain_s"]), us(v["bench.tracked_s"]), us(v["bench.seal_s"]), us(v["bench.import_s"]),
      us(v["bench.session_s"]), us(v["bench.session_apply_s"]), us(v["sync_e2e.sync_s"]),
      v["bench.peak_mib"], v["sync_e2e.hub_peak_mib"], v["bench.commit_bpr"], v["bench.changeset_bpr"]
  }' "$2"
}

echo "linli cost curve: microseconds per row change of each stage, memory, bytes per row, for N = $ns"
echo "(every figure of a row comes from that N's runs; the machine may be shared: compare the columns' shape)"
hdr="%9s %7s %7s %7s %7s %7s %7s %7s %8s %8s %7s %7s\n"
rows=""
for n in $ns; do
  echo "  N=$n: bench ..." >&2
  if ! "$b/sim/bench" --rows "$n" > "$tmp/bench-$n.txt" 2>&1; then
    cat "$tmp/bench-$n.txt" >&2
    exit 1
  fi
  echo "  N=$n: bench_sync end to end ..." >&2
  if ! "$b/sim/bench_sync" --rows "$n" --skip-fanin --skip-converge > "$tmp/sync-$n.txt" 2>&1; then
    cat "$tmp/sync-$n.txt" >&2
    exit 1
  fi
  cat "$tmp/bench-$n.txt" "$tmp/sync-$n.txt" > "$tmp/all-$n.txt"
  rows="$rows$(row "$n" "$tmp/all-$n.txt")
"
done
echo
printf "$hdr" "" "plain" "tracked" "seal" "import" "session" "chgset" "e2e" "bench" "hub e2e" "commit" "chgset"
printf "$hdr" "N" "us/row" "us/row" "us/row" "us/row" "us/row" "apply" "sync" "peak MiB" "peak MiB" "B/row" "B/row"
printf "%s" "$rows"
echo
echo "us/row: wall microseconds per row change (plain: plain SQLite insert; session: sqlite3session capture +"
echo "changeset; chgset apply: sqlite3changeset_apply; e2e sync: committee daemon start -> last durable apply"
echo "on the hub over CURVE). bench peak: ru_maxrss of the bench process after import; hub e2e: the hub"
echo "daemon's VmHWM end to end."
