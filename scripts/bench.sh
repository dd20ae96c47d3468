#!/bin/sh
# bench.sh: `make bench`: the three benchmark programs in one run, then
# issue 14's table, every figure of it from this run's "result:" lines.
#   sh scripts/bench.sh BUILD_DIR N
# The fan-in run is 50 committees x N/50 rows; the lock benchmark runs at
# min(N, 100000) rows; the convergence run is 50 committees x 1,000 edits
# whatever N is (it is the street's case, not a throughput figure), twice:
# healed by starting the committees' daemons, and by a cut proxy letting
# running daemons through (--heal proxy: the outage as the street has it).
# Ratios are rows/s of linli over rows/s of plain SQLite inserts of the same
# rows in the same program run. Nothing here asserts on a timing.
set -eu
b=$1
n=$2
out=$(mktemp "${TMPDIR:-/tmp}/linli-bench-out.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM

fan=$((n / 50 > 0 ? n / 50 : 1))
lock=$((n > 100000 ? 100000 : n))
"$b/sim/bench" --rows "$n" | tee -a "$out"
echo
"$b/sim/bench_sync" --rows "$n" --fanin-committees 50 --fanin-rows "$fan" --committees 50 --edits 1000 | tee -a "$out"
echo
"$b/sim/bench_sync" --skip-e2e --skip-fanin --committees 50 --edits 1000 --heal proxy | tee -a "$out"
echo
"$b/sim/bench_lock" --rows "$lock" | tee -a "$out"

echo
echo "== issue 14: the figures of this run (ratios against plain inserts of the same rows, same program run) =="
awk '
/^result: / {
  kind = $2
  if (kind == "converge" && $3 == "heal=proxy") kind = "converge_proxy"
  for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kind "." kv[1]] = kv[2] }
}
function ratio(plain, ours) { return ours > 0 ? sprintf("%.2fx", plain / ours) : "-" }
END {
  fmt = "  %-52s %14s   %s\n"
  printf fmt, "figure", "this run", "baseline / aim"
  printf fmt, "tracked insert vs plain", ratio(v["bench.plain_s"], v["bench.tracked_s"]), "plain = 1.00x; aim >= 0.65x (issue 14)"
  printf fmt, "capture + seal vs plain", ratio(v["bench.plain_s"], v["bench.tracked_s"] + v["bench.seal_s"]), "plain = 1.00x; aim >= 0.40x"
  printf fmt, "  session capture + changeset vs plain", ratio(v["bench.plain_s"], v["bench.session_s"]), "the session extension, same rows"
  printf fmt, "bundle import (verify + merge) vs plain", ratio(v["bench.plain_s"], v["bench.import_s"]), "plain = 1.00x; aim >= 0.50x (issue 14)"
  printf fmt, "  changeset_apply vs plain", ratio(v["bench.plain_s"], v["bench.session_apply_s"]), "the session extension, same rows"
  printf fmt, "end to end committee -> hub, CURVE, durable, vs plain", ratio(v["sync_e2e.plain_s"], v["sync_e2e.sync_s"]), v["sync_e2e.rows"] " rows; aim >= 0.50x"
  printf fmt, "fan-in vs plain", ratio(v["sync_fanin.plain_s"], v["sync_fanin.sync_s"]), v["sync_fanin.committees"] " committees x " v["sync_fanin.rows"] / v["sync_fanin.committees"] " rows; aim >= 0.45x"
  if (v["sync_fanin.tcp_ok"] == 1)
    printf fmt, "TCP bytes per row under fan-in, committee -> hub", sprintf("%.1f B", v["sync_fanin.tcp_c2h_bpr"]), sprintf("%.2fx the signed commits, %.1f B/row (aim <= 1.05x); hub -> committee %.1f B; %d connection(s) for %d committees", v["bench.commit_bpr"] > 0 ? v["sync_fanin.tcp_c2h_bpr"] / v["bench.commit_bpr"] : 0, v["bench.commit_bpr"], v["sync_fanin.tcp_h2c_bpr"], v["sync_fanin.conns"], v["sync_fanin.committees"])
  else
    printf fmt, "TCP bytes per row under fan-in", "-", "sock_diag counters unavailable"
  printf fmt, "hub peak RSS, end to end", sprintf("%.1f MiB", v["sync_e2e.hub_peak_mib"]), "aim <= 64 MiB, flat in N"
  printf fmt, "hub peak RSS, fan-in", sprintf("%.1f MiB", v["sync_fanin.hub_peak_mib"]), "aim <= 64 MiB, flat in N"
  printf fmt, "bytes per row change (SignedCommit bytes / rows)", sprintf("%.1f B", v["bench.commit_bpr"]), sprintf("changeset %.1f B/row: %.2fx of it; aim <= 1.20x", v["bench.changeset_bpr"], v["bench.changeset_bpr"] > 0 ? v["bench.commit_bpr"] / v["bench.changeset_bpr"] : 0)
  printf fmt, "convergence after a cut, heal -> every replica", sprintf("%.3f s", v["converge.converge_s"]), sprintf("aim <= 1 s; %d committees x %d edits, hub %d notices", v["converge.committees"], v["converge.edits"], v["converge.notices"])
  printf fmt, "  hub during the convergence: CPU, RSS", sprintf("%.2f s", v["converge.hub_cpu_s"]), sprintf("RSS up to %.1f MiB (peak %.1f MiB)", v["converge.hub_rss_mib"], v["converge.hub_peak_mib"])
  printf fmt, "the same, healed through a cut proxy", sprintf("%.3f s", v["converge_proxy.converge_s"]), sprintf("aim <= 1 s; daemons running while cut off, reconnect backoff included; hub CPU %.2f s", v["converge_proxy.hub_cpu_s"])
}' "$out"
