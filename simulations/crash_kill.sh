#!/bin/sh
# crash_kill: kill -9 at random moments loses nothing and applies nothing
# twice. Real processes on loopback (scripts/street.sh), three phases:
#
#  1. commit   c01 holds ROWS unsealed care_visits rows; `linli commit` is
#              started and killed -9 after a random delay, COMMIT_KILLS
#              times (a commit that finished first is counted, later kills
#              come earlier, and ROWS / 2 more rows give the next round a
#              backlog); then a last `linli commit` completes. Checked: every
#              kill left all of the dirty markers or none (a seal is one
#              transaction), integrity_check after each; at the end nothing
#              is unsealed, the rows sealed by the commits that completed add
#              up to the rows written (none lost, none sealed twice), c01's
#              row clocks number its rows, verify passes.
#  2. sync     the hub (which has never seen c01's commits) and c01's serve
#              start; the hub, the RECEIVING side, is killed -9 KILLS times,
#              each 0.05-1.5 s after it was (re)started, and started again;
#              while it is down c01 writes (and its serve seals) EXTRA more
#              rows, so a restarted hub has work again. integrity_check
#              after each kill; once converged: the hub holds exactly the
#              (origin, scope, seq, hash) of c01's chain that c01's log
#              holds, no position twice (linli_log is UNIQUE on it; checked
#              anyway), as many c01 rows as c01 (and the same digest), no
#              conflicts, verify and integrity_check on both.
#  3. import   the bundle c01 exported after phase 1 is imported into a copy
#              of the pristine hub, killed -9 after a random delay,
#              IMPORT_KILLS times; after each kill the copy holds all of the
#              bundle's commits or none (all-or-nothing) and passes
#              integrity_check; a last import succeeds and equals an import
#              into another pristine copy that was never interrupted (digest,
#              commit set, verify, integrity_check).
#
# Usage: crash_kill.sh [--kills N] [--rows N] [--extra N] [--commit-kills N]
#                      [--import-kills N] [--budget SECONDS] [--seed N]
#                      [--link-delay MS] [--keep]
# The same settings as environment variables: KILLS (default 10), ROWS
# (50000), EXTRA (ROWS / 4), COMMIT_KILLS (5), IMPORT_KILLS (5), BUDGET
# (seconds for the whole run, default 60 + 6 per kill), SEED (default: from
# the clock; printed, so a run can be repeated), LINK_DELAY_MS (10: c01's
# proxy holds each burst of up to 64 KiB that long, which with its 20 ms poll
# makes a link of a few MB/s, so a round's backlog arrives over about the span
# the kills are drawn from; a slower link stalls the CURVE handshake).
# The long run (about 4 minutes):
#   KILLS=60 COMMIT_KILLS=20 IMPORT_KILLS=20 sh simulations/crash_kill.sh
# Needs LINLI and LINLI_PROXY (LINLI_SCRIPTS defaults to ../scripts).
# Prints the figures and "ok crash_kill: survived K hub kills ..." on
# success; exit 1 on any failure (with the tails of the logs).
set -eu
: "${LINLI:?set LINLI to the linli binary}" "${LINLI_PROXY:?set LINLI_PROXY to build/sim/proxy}"
here=$(cd "$(dirname "$0")" && pwd)
LINLI_SCRIPTS=${LINLI_SCRIPTS:-$here/../scripts}
KILLS=${KILLS:-10} ROWS=${ROWS:-50000} COMMIT_KILLS=${COMMIT_KILLS:-5} IMPORT_KILLS=${IMPORT_KILLS:-5}
SEED=${SEED:-$(($(date +%s) % 100000))} KEEP=0 EXTRA=${EXTRA:-} BUDGET=${BUDGET:-} LINK_DELAY_MS=${LINK_DELAY_MS:-10}
while [ $# -gt 0 ]; do
  case $1 in
  --kills) KILLS=$2; shift 2 ;;
  --rows) ROWS=$2; shift 2 ;;
  --extra) EXTRA=$2; shift 2 ;;
  --commit-kills) COMMIT_KILLS=$2; shift 2 ;;
  --import-kills) IMPORT_KILLS=$2; shift 2 ;;
  --budget) BUDGET=$2; shift 2 ;;
  --seed) SEED=$2; shift 2 ;;
  --link-delay) LINK_DELAY_MS=$2; shift 2 ;;
  --keep) KEEP=1; shift ;;
  *) echo "usage: crash_kill.sh [--kills N] [--rows N] [--extra N] [--commit-kills N] [--import-kills N] [--budget S] [--seed N] [--link-delay MS] [--keep]" >&2; exit 2 ;;
  esac
done
EXTRA=${EXTRA:-$((ROWS / 4))}
BUDGET=${BUDGET:-$((60 + 6 * (KILLS + COMMIT_KILLS + IMPORT_KILLS)))}
T=crash_kill
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-$T.XXXXXX")
. "$LINLI_SCRIPTS/street.sh"
cleanup() { street_stop; if [ $KEEP = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
trap 'exit 1' INT TERM
t0=$(date +%s)
end_by=$((t0 + BUDGET))
echo "crash_kill: seed $SEED, $ROWS rows (+$EXTRA per hub kill), kills: $COMMIT_KILLS commit, $KILLS hub, $IMPORT_KILLS import; budget ${BUDGET} s"

q() { sqlite3 -bail -cmd '.timeout 10000' "$W/$1/replica.db" "$2"; }
fail() {
  echo "FAIL $T (seed $SEED): $*"
  for f in "$W"/*.log "$W"/*.out; do [ -f "$f" ] && { echo "--- tail $f"; tail -n 15 "$f"; }; done
  exit 1
}
elapsed() { echo $(($(date +%s) - t0)); }
in_budget() { [ "$(date +%s)" -lt "$end_by" ] || fail "over the time budget of $BUDGET s ($1)"; }
rnd_n=0
rnd() { # LO HI: a random number between them (3 decimals), from the seed
  rnd_n=$((rnd_n + 1))
  awk -v s="$SEED" -v i="$rnd_n" -v lo="$1" -v hi="$2" 'BEGIN { srand(s * 7919 + i); printf "%.3f", lo + rand() * (hi - lo) }'
}
rnd_ms() { rnd "$1" "$2" | cut -d. -f1; } # LO_MS HI_MS: whole milliseconds
keyhex() {
  python3 -c 'import base64, sys; k = sys.argv[1]; print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex().upper())' \
    "$("$LINLI" --dir "$W/$1" id)"
}
written=0
write_rows() { # DIR N: N more care_visits rows of scope c01
  q "$1" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome)
  SELECT printf('ck-%07d', $written + i), 'c01', printf('R-%05d', i % 997), '2025-05-01', '探访', '居家安全，无异常' FROM n;"
  written=$((written + $2))
}
check_db() { # DIR WHEN: integrity_check and no commit position stored twice
  ic=$(q "$1" "PRAGMA integrity_check") || fail "$1 cannot be opened $2"
  [ "$ic" = ok ] || fail "integrity_check on $1 $2: $ic"
  dup=$(q "$1" "SELECT count(*) FROM (SELECT 1 FROM linli_log GROUP BY origin, scope, seq HAVING count(*) > 1)")
  [ "$dup" = 0 ] || fail "$1 stores $dup commit position(s) twice $2"
}
verify() { # DIR
  "$LINLI" --dir "$W/$1" verify >"$W/verify-$1.out" 2>&1 || fail "linli verify fails on $1"
}
commits_of() { # DIR: c01's commits held, as "origin scope seq hash" lines
  q "$1" "SELECT hex(origin), scope, seq, hex(hash) FROM linli_log WHERE hex(origin) = '$K1' ORDER BY scope, seq"
}
killed_rc() { [ "$1" -ge 128 ]; } # wait's status of a process ended by a signal
now_ms() { date +%s%3N; }
running() { # PID: alive and not a zombie waiting to be reaped
  st=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$st" ] && [ "$st" != Z ]
}
# kill_after MS OUT CMD...: runs CMD in the background (output to OUT) and
# kills it -9 after MS milliseconds unless it ends first. Sets rc (its wait
# status: >= 128 when killed) and ran (milliseconds it ran).
kill_after() {
  ka_ms=$1 ka_out=$2; shift 2
  ka_t0=$(now_ms)
  "$@" >"$ka_out" 2>&1 &
  ka_pid=$!
  while running $ka_pid && [ $(($(now_ms) - ka_t0)) -lt "$ka_ms" ]; do sleep 0.01; done
  kill -KILL $ka_pid 2>/dev/null || true
  rc=0; wait $ka_pid 2>/dev/null || rc=$? # (no "Killed" notice)
  ran=$(($(now_ms) - ka_t0))
}

# one binary for the whole run, whatever happens to the build meanwhile
cp "$LINLI" "$W/linli.bin" && LINLI=$W/linli.bin
cp "$LINLI_PROXY" "$W/proxy.bin" && LINLI_PROXY=$W/proxy.bin

PORT=$(street_port)
street_init hub "$PORT" c01
# one commit per batch: the hub applies and acknowledges commit by commit
sed -i 's/^batch_rows_max = .*/batch_rows_max = 1/' "$W/c01/linli.conf"
cp -a "$W/hub" "$W/pristine" # a hub that never saw c01: the import phase starts from it
K1=$(keyhex c01)

# ---- 1. kill -9 during `linli commit` ----
tc=$(date +%s)
write_rows c01 "$ROWS"
sealed=0 commit_hits=0 commit_missed=0
cmax=600 # ms: the latest kill; lowered below a commit that finished first
i=0
while [ $i -lt "$COMMIT_KILLS" ]; do
  i=$((i + 1)); in_budget "commit kill $i"
  before=$(q c01 "SELECT count(*) FROM linli_dirty") # one marker per row written (all inserts)
  kill_after "$(rnd_ms 30 "$cmax")" "$W/commit-$i.out" "$LINLI" --dir "$W/c01" commit
  killed_rc "$rc" || [ "$rc" = 0 ] || fail "linli commit exited $rc (not killed) in round $i: $(cat "$W/commit-$i.out")"
  check_db c01 "after commit kill $i"
  after=$(q c01 "SELECT count(*) FROM linli_dirty")
  # a seal is one transaction: all of the backlog sealed, or none of it
  [ "$after" = "$before" ] || [ "$after" = 0 ] || fail "commit kill $i left $after of $before dirty markers"
  [ "$rc" = 0 ] && [ "$after" != 0 ] && fail "linli commit exited 0 but left $after rows unsealed"
  if [ "$after" = 0 ]; then # it finished first (or was killed after its COMMIT): a new backlog, an earlier kill
    commit_missed=$((commit_missed + 1))
    sealed=$((sealed + before))
    if [ "$ran" -ge 60 ]; then cmax=$((ran * 9 / 10)); fi
    write_rows c01 $((ROWS / 2))
  else
    commit_hits=$((commit_hits + 1))
  fi
done
dirty=$(q c01 "SELECT count(*) FROM linli_dirty")
"$LINLI" --dir "$W/c01" commit >"$W/commit-final.out" 2>&1 || fail "the last linli commit failed: $(cat "$W/commit-final.out")"
n=$(sed -n 's/^sealed \([0-9]*\) row change.*/\1/p' "$W/commit-final.out")
[ "${n:-0}" = "$dirty" ] || fail "the last commit sealed ${n:-0} row changes of $dirty unsealed"
sealed=$((sealed + dirty))
[ "$(q c01 "SELECT count(*) FROM linli_dirty")" = 0 ] || fail "rows left unsealed after the last commit"
[ "$sealed" = "$written" ] || fail "the commits that completed sealed $sealed rows, $written were written"
rows=$(q c01 "SELECT count(*) FROM care_visits WHERE scope = 'c01'")
clocks=$(q c01 "SELECT count(*) FROM linli_clock WHERE scope = 'c01'")
[ "$rows" = "$written" ] && [ "$clocks" = "$rows" ] || fail "c01 holds $rows rows and $clocks row clocks, $written written"
verify c01
check_db c01 "after the last commit"
c01_seq=$(q c01 "SELECT seq FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")
echo "commit: $commit_hits of $COMMIT_KILLS kills hit a running commit ($commit_missed finished first); the last commit sealed the $dirty rows left;" \
  "$written rows in $c01_seq commits, each sealed once ($(($(date +%s) - tc)) s)"

# the bundle of phase 3: c01's commits as they are now
"$LINLI" --dir "$W/c01" bundle export "$W/c01.bundle" >"$W/export.out" 2>&1 || fail "bundle export failed"
nb=$(sed -n 's/^exported \([0-9]*\) commit.*/\1/p' "$W/export.out")
commits_of c01 >"$W/bundle.commits"
bundle_rows=$written

# ---- 2. kill -9 of the hub while it applies c01's backlog ----
ts=$(date +%s)
# street_run, but c01's proxy slows the link (each burst of up to 64 KiB held
# LINK_DELAY_MS): a round's backlog then arrives over a second or so, the
# span the kills are drawn from, instead of in a few hundred milliseconds,
# and most kills find the hub applying
echo "delay $LINK_DELAY_MS" >"$W/proxy.mode"
street_start_bg hub "$LINLI" --dir "$W/hub" serve
street_start_bg proxy-c01 "$LINLI_PROXY" --listen "$(cat "$W/c01.proxyport")" --to "$PORT" --mode "$W/proxy.mode"
street_start_bg c01 "$LINLI" --dir "$W/c01" serve
# c01 seals once the hub has confirmed its own chain (the seal gate: a
# restored backup must not fork it); from then on it seals while the hub is
# down, which the kills below rely on
i=0
until grep -q "sealing: this node's own commits are confirmed" "$W/c01.log" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] || fail "c01 never heard the hub confirm its chain"; sleep 0.1
done
hub_kills=0 behind_kills=0 held_min=-1 held_max=0 progressed=0 held_prev=0
while [ $hub_kills -lt "$KILLS" ]; do
  in_budget "hub kill $((hub_kills + 1))"
  sleep "$(rnd 0.05 1.5)"
  total=$(q c01 "SELECT coalesce(max(seq), 0) FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")
  hp=$(street_pid hub)
  kill -KILL "$hp" 2>/dev/null || fail "the hub had died before kill $((hub_kills + 1))"
  while kill -0 "$hp" 2>/dev/null; do sleep 0.01; done
  hub_kills=$((hub_kills + 1))
  held=$(q hub "SELECT count(*) FROM linli_log WHERE hex(origin) = '$K1' AND scope = 'c01'")
  [ "$held" -lt "$total" ] && behind_kills=$((behind_kills + 1))
  [ "$held" -gt "$held_prev" ] && progressed=$((progressed + 1)) # it was applying in this round
  held_prev=$held
  [ $held_min -lt 0 ] || [ "$held" -lt $held_min ] && held_min=$held
  [ "$held" -gt $held_max ] && held_max=$held
  check_db hub "after hub kill $hub_kills"
  echo "  kill $hub_kills: the hub held $held of c01's $total commits" >>"$W/kills.out"
  write_rows c01 "$EXTRA" # sealed by c01's serve (waited for): the restarted hub has work at once
  w_end=$(($(date +%s) + 30))
  while [ "$(q c01 "SELECT count(*) FROM linli_dirty")" != 0 ]; do
    [ "$(date +%s)" -lt $w_end ] || fail "c01's serve did not seal its rows within 30 s"
    sleep 0.05
  done
  street_start_bg hub "$LINLI" --dir "$W/hub" serve
done
echo "delay 0" >"$W/proxy.mode" # the proxy re-reads it: full speed for the catch-up
street_wait_converged 120 hub c01 || fail "no convergence within 120 s after the last hub kill"
[ "$(q c01 "SELECT count(*) FROM linli_dirty")" = 0 ] || fail "c01 has unsealed rows at the end"
commits_of c01 >"$W/c01.commits"
commits_of hub >"$W/hub.commits"
cmp -s "$W/c01.commits" "$W/hub.commits" ||
  fail "the hub's commits of c01 differ from c01's: $(diff "$W/c01.commits" "$W/hub.commits" | head -n 5)"
ncommits=$(wc -l <"$W/c01.commits")
mine=$(q c01 "SELECT seq FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")
[ "$(q hub "SELECT count(*) || ' ' || max(seq) FROM linli_log WHERE hex(origin) = '$K1' AND scope = 'c01'")" = "$mine $mine" ] ||
  fail "the hub does not hold c01's chain #1..#$mine once each"
r_c=$(q c01 "SELECT count(*) FROM care_visits WHERE scope = 'c01'")
r_h=$(q hub "SELECT count(*) FROM care_visits WHERE scope = 'c01'")
[ "$r_c" = "$written" ] && [ "$r_h" = "$r_c" ] || fail "care_visits of c01: hub $r_h, c01 $r_c, written $written"
[ "$("$LINLI" --dir "$W/hub" digest --scope c01)" = "$("$LINLI" --dir "$W/c01" digest --scope c01)" ] ||
  fail "the digests of scope c01 differ"
[ "$(q hub "SELECT count(*) FROM linli_conflicts")" = 0 ] || fail "the hub recorded conflicts (a commit applied twice?)"
for d in hub c01; do verify $d; check_db $d "at the end of the sync phase"; done
echo "sync: survived $hub_kills hub kills (kill -9 every 0.05-1.5 s; $behind_kills while the hub lacked commits," \
  "holding $held_min..$held_max of them; $progressed after it had applied some in that round); converged: $r_h rows, c01's chain #1..#$mine ($ncommits commits) once each," \
  "verify and integrity_check ok ($(($(date +%s) - ts)) s)"
street_stop

# ---- 3. kill -9 during `linli bundle import` ----
ti=$(date +%s)
imax=1500 # ms, as cmax
cp -a "$W/pristine" "$W/imp"
cp -a "$W/pristine" "$W/clean"
import_hits=0 import_missed=0
i=0
while [ $i -lt "$IMPORT_KILLS" ]; do
  i=$((i + 1)); in_budget "import kill $i"
  kill_after "$(rnd_ms 30 "$imax")" "$W/import-$i.out" "$LINLI" --dir "$W/imp" bundle import "$W/c01.bundle"
  check_db imp "after import kill $i"
  held=$(q imp "SELECT count(*) FROM linli_log WHERE hex(origin) = '$K1'")
  if killed_rc "$rc"; then
    import_hits=$((import_hits + 1))
    [ "$held" = 0 ] || [ "$held" = "$nb" ] || fail "a killed import left $held of $nb commits (not all or nothing)"
    [ "$held" = 0 ] || { rm -rf "$W/imp"; cp -a "$W/pristine" "$W/imp"; } # killed after its commit: start over
  elif [ "$rc" = 0 ]; then # it finished first: start over from the pristine hub
    import_missed=$((import_missed + 1))
    if [ "$ran" -ge 60 ]; then imax=$((ran * 9 / 10)); fi
    [ "$held" = "$nb" ] || fail "a completed import holds $held of $nb commits"
    rm -rf "$W/imp"; cp -a "$W/pristine" "$W/imp"
  else
    fail "bundle import exited $rc (not killed) in round $i: $(cat "$W/import-$i.out")"
  fi
done
"$LINLI" --dir "$W/imp" bundle import "$W/c01.bundle" >"$W/import-final.out" 2>&1 || fail "the last import failed"
"$LINLI" --dir "$W/clean" bundle import "$W/c01.bundle" >"$W/import-clean.out" 2>&1 || fail "the clean import failed"
for d in imp clean; do verify $d; check_db $d "after the last import"; done
[ "$("$LINLI" --dir "$W/imp" digest)" = "$("$LINLI" --dir "$W/clean" digest)" ] || fail "killed-then-imported differs from a clean import (digest)"
commits_of imp >"$W/imp.commits"
commits_of clean >"$W/clean.commits"
cmp -s "$W/imp.commits" "$W/clean.commits" && cmp -s "$W/imp.commits" "$W/bundle.commits" ||
  fail "killed-then-imported holds other commits than a clean import / c01"
[ "$(q imp "SELECT count(*) FROM care_visits WHERE scope = 'c01'")" = "$bundle_rows" ] || fail "the import lacks rows"
echo "import: $import_hits of $IMPORT_KILLS kills hit a running import of $nb commits, $bundle_rows rows ($import_missed finished first)," \
  "each left all or none; the last import equals a clean one ($(($(date +%s) - ti)) s)"

san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T: survived $hub_kills hub kills, $commit_hits commit kills, $import_hits import kills (seed $SEED, $(elapsed) s)"
