#!/bin/bash
# Real-process split test: the actual `linli serve` processes of a hub and
# several committees on loopback (CURVE over ZeroMQ), each committee behind a
# fault-injecting proxy of ours. For SECONDS the committees and the hub write
# records while links are cut and healed, delayed and reset, processes are
# frozen (SIGSTOP/SIGCONT) and killed (kill -9) and restarted. Then
# everything heals and the street must converge: per-scope content hashes
# equal, every commit any node sealed held by the hub, PRAGMA
# integrity_check ok and `linli verify` passing on every replica.
#
#   simulations/split.sh [--seconds N] [--committees K] [--seed S]
# with LINLI and LINLI_PROXY pointing at the binaries (defaults: build/).
set -u
SECONDS_RUN=40; K=3; SEED=$$
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --committees) K=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--committees K] [--seed S]"; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
LINLI=${LINLI:-$here/build/linli}
LINLI_PROXY=${LINLI_PROXY:-$here/build/sim/proxy}
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-split.XXXXXX")
. "$here/scripts/street.sh"
trap 'street_stop; rm -rf "$W"' EXIT
RANDOM=$SEED
echo "split test: $K committees, ${SECONDS_RUN}s of faults, seed $SEED (replay: $0 --seconds $SECONDS_RUN --committees $K --seed $SEED)"

CS=""; for i in $(seq 1 "$K"); do CS="$CS c0$i"; done
PORT=$(street_port)
street_init hub "$PORT" $CS
for c in $CS; do echo "" >"$W/$c.mode"; done
# the proxies read their mode files (delay, resets)
street_start_bg hub "$LINLI" --dir "$W/hub" serve
for c in $CS; do
  street_start_bg "proxy-$c" "$LINLI_PROXY" --listen "$(cat "$W/$c.proxyport")" --to "$PORT" --mode "$W/$c.mode" --seed "$RANDOM"
  street_start_bg "$c" "$LINLI" --dir "$W/$c" serve
done

declare -A F
f() { F[$1]=$(( ${F[$1]:-0} + 1 )); }
pick() { set -- $CS; shift $(( RANDOM % $# )); echo "$1"; }
q() { sqlite3 -bail "$W/$1/replica.db" "$2" >/dev/null 2>>"$W/sql-errors.log" || true; }
write() {
  c=$1; n=$(( RANDOM % 20 ))
  case $(( RANDOM % 6 )) in
    0|1) q "$c" "INSERT OR IGNORE INTO care_visits(id,scope,resident_ref,visited_on,outcome) VALUES('$c-v$n','$c','R-$RANDOM','2025-03-$(( RANDOM % 28 + 10 ))','探访记录 $RANDOM')" ;;
    2) q "$c" "UPDATE care_visits SET outcome='复访 $RANDOM', follow_up=$(( RANDOM % 2 )) WHERE id='$c-v$n'" ;;
    3) q "$c" "DELETE FROM care_visits WHERE id='$c-v$n'" ;;
    4) q "$c" "INSERT OR IGNORE INTO hazards(id,scope,category,location,found_on) VALUES('$c-h$(( n % 6 ))','$c','消防','$n号楼','2025-03-01')" ;;
    5) q "$c" "UPDATE hazards SET stage='整改', description='整改中 $RANDOM' WHERE id='$c-h$(( n % 6 ))'" ;;
  esac
}
hubwrite() {
  c=$(pick); n=$(( RANDOM % 6 ))
  case $(( RANDOM % 3 )) in
    0) q hub "UPDATE hazards SET stage='交办', assigned_to='物业$RANDOM' WHERE id='$c-h$n'" ;;
    1) q hub "INSERT OR IGNORE INTO hazards(id,scope,category,location,found_on,stage) VALUES('$c-h$n','$c','燃气','街道巡查','2025-03-02','交办')" ;;
    2) q hub "INSERT OR REPLACE INTO notices(id,scope,title,audience) VALUES('n$(( RANDOM % 4 ))','street','通知 $RANDOM','all')" ;;
  esac
}
restart() { # name: start again after a kill -9
  if [ "$1" = hub ]; then street_start_bg hub "$LINLI" --dir "$W/hub" serve
  else street_start_bg "$1" "$LINLI" --dir "$W/$1" serve; fi
}
stopped=""
end=$(( $(date +%s) + SECONDS_RUN ))
while [ "$(date +%s)" -lt "$end" ]; do
  for c in $CS; do [ $(( RANDOM % 2 )) = 0 ] && write "$c"; done
  [ $(( RANDOM % 3 )) = 0 ] && hubwrite
  r=$(( RANDOM % 40 ))
  c=$(pick)
  case $r in
    0|1) street_cut "$c"; f cut ;;
    2|3) street_heal "$c"; f heal ;;
    4) printf 'delay %d\n' $(( RANDOM % 800 )) >"$W/$c.mode"; f delay ;;
    5) printf 'reset %d\n' $(( RANDOM % 300 )) >"$W/$c.mode"; f reset ;;
    6) : >"$W/$c.mode" ;;
    7) victim=$c; [ $(( RANDOM % 3 )) = 0 ] && victim=hub
       kill -STOP "$(street_pid "$victim")" 2>/dev/null && { stopped="$stopped $victim"; f sigstop; } ;;
    8|9) for s in $stopped; do kill -CONT "$(street_pid "$s")" 2>/dev/null; done; stopped="" ;;
    10) victim=$c; [ $(( RANDOM % 3 )) = 0 ] && victim=hub
        kill -CONT "$(street_pid "$victim")" 2>/dev/null
        kill -9 "$(street_pid "$victim")" 2>/dev/null && { f kill9; sleep 0.$(( RANDOM % 9 )); restart "$victim"; } ;;
  esac
  sleep 0.2
done
echo "faults: $(for k in "${!F[@]}"; do printf '%s=%s ' "$k" "${F[$k]}"; done)"
# heal everything
for s in $stopped; do kill -CONT "$(street_pid "$s")" 2>/dev/null; done
for c in $CS; do street_heal "$c"; : >"$W/$c.mode"; done
for n in hub $CS; do kill -0 "$(street_pid "$n")" 2>/dev/null || restart "$n"; done
t0=$(date +%s)
if ! street_wait_converged 120 hub $CS; then
  echo "FAILED: no convergence within 120 s of healing"
  for n in hub $CS; do echo "--- $n"; tail -n 15 "$W/$n.log"; done
  exit 1
fi
echo "converged $(( $(date +%s) - t0 )) s after healing"
fail=0
for n in hub $CS; do
  ic=$(sqlite3 "$W/$n/replica.db" "PRAGMA integrity_check")
  [ "$ic" = ok ] || { echo "FAILED: $n integrity_check: $ic"; fail=1; }
  "$LINLI" --dir "$W/$n" verify >/dev/null || { echo "FAILED: linli verify on $n"; fail=1; }
done
# nothing sealed is lost: every commit a committee sealed is at the hub
sqlite3 "$W/hub/replica.db" "SELECT hex(origin)||scope||seq||hex(hash) FROM linli_log" | sort >"$W/hub.commits"
for c in $CS; do
  key=$(sqlite3 "$W/$c/replica.db" "SELECT hex(value) FROM linli_meta WHERE key='self'")
  sqlite3 "$W/$c/replica.db" "SELECT hex(origin)||scope||seq||hex(hash) FROM linli_log WHERE hex(origin)='$key'" | sort >"$W/$c.commits"
  missing=$(comm -23 "$W/$c.commits" "$W/hub.commits" | wc -l)
  [ "$missing" = 0 ] || { echo "FAILED: the hub lacks $missing commit(s) sealed by $c"; fail=1; }
done
[ $fail = 0 ] || exit 1
echo "split test passed: per-scope hashes equal, nothing sealed lost, integrity ok everywhere"
