#!/bin/sh
# flood: what a peer can make the hub do by repeating itself (issue 12,
# findings 1-3 and 6). A hub and committees c01 and c02 run; c02's daemon
# is stopped so its key can misbehave (build/sim/rawpeer); c01 writes a row
# every 0.3 s throughout and a probe row of c01 must reach the hub during
# each flood. Floods, one after the other:
#   handshake   handshakes with fresh CURVE keys not in the roster;
#   multiframe  c02's key sends messages of two frames;
#   connect     c02's key opens connection after connection, each with a
#               valid Hello;
#   replay      c02's key sends batches full of copies of one of its own
#               commits, which the hub holds.
# Bounds are counts, never times (machines are shared): the hub's log grows
# by at most LOG_LINES_MAX lines per flood, and the replay costs the hub at
# most SIG_CHECKS_MAX signature checks (linli_serve 'sig_checks') where the
# copies number tens of thousands. Log bytes and the hub's CPU time are
# printed for each flood, not checked.
# Then c02's key probes: a Hello naming c01's chain (a scope c02 may not
# read) with a zero hash must get no ForkReport, where one naming c02's own
# chain gets one (the control); a Hello claiming seq 2^63-1 of c01's chain
# must not show up as a figure in the hub's status.
set -eu
T=flood
. "$(dirname "$0")/lib.sh"
t_begin street
RAWPEER=${LINLI_BUILD:-$(dirname "$LINLI")}/sim/rawpeer
[ -x "$RAWPEER" ] || { echo "FAIL $T: no $RAWPEER (make check-build)"; exit 1; }
case "${LINLI_BUILD:-}" in
*asan*) HANDSHAKES=300 FRAMES=3000 CONNECTS=60 REPLAYS=2 ;;
*) HANDSHAKES=2000 FRAMES=20000 CONNECTS=200 REPLAYS=5 ;;
esac
LOG_LINES_MAX=30 # per flood
SIG_CHECKS_MAX=50
PROBE_MAX_S=30

fail() {
  echo "FAIL $T: $*"
  for f in "$W"/*.log "$W"/*.out; do [ -f "$f" ] && { echo "--- tail $f"; tail -n 15 "$f"; }; done
  exit 1
}
now_ms() { date +%s%3N; }
cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$1/stat"; } # utime + stime, 100 ticks a second
sig_checks() { q hub "SELECT coalesce((SELECT value FROM linli_serve WHERE key = 'sig_checks'), -1)"; }
hub_alive() { kill -0 "$HUB" 2>/dev/null || fail "the hub died ($1)"; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02
HK=$("$LINLI" --dir "$W/hub" id)
K1=$("$LINLI" --dir "$W/c01" id)
K2=$("$LINLI" --dir "$W/c02" id)
street_run hub "$PORT" c01 c02
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-1','2025-08-01');"
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v1','c02','R-2','2025-08-01');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge at first"
HUB=$(street_pid hub)
kill -TERM "$(street_pid c02)" # one key is one peer: c02's key is the flooder's from here on
wait_until 10 sh -c "! kill -0 $(street_pid c02) 2>/dev/null" || fail "c02's serve did not stop on SIGTERM"
q c02 "SELECT hex(sc) FROM linli_log WHERE scope = 'c02' ORDER BY seq LIMIT 1" >"$W/commit.hex"

street_start_bg writer sh -c "i=0; while :; do i=\$((i + 1));
  sqlite3 -cmd '.timeout 10000' '$W/c01/replica.db' \"INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('w-'||\$i,'c01','R-9','2025-08-02')\";
  sleep 0.3; done"

rawpeer() { "$RAWPEER" --dir "$W/c02" --hub "tcp://127.0.0.1:$PORT" --hub-key "$HK" "$@"; }
probes=0
probe_arrived() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'probe-$probes'")" = 1 ]; }
broken=""
# flood NAME CMD...: runs CMD while c01's probe rows go on reaching the hub;
# prints the hub's log and CPU figures; bounds are checked at the end
flood() {
  name=$1; shift
  l0=$(wc -l <"$W/hub.log") b0=$(wc -c <"$W/hub.log") c0=$(cpu_ms "$HUB") s0=$(sig_checks) f0=$(now_ms)
  "$@" >"$W/$name.out" 2>&1 &
  apid=$!
  n=0 worst=0
  while :; do
    probes=$((probes + 1)) p0=$(now_ms)
    q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('probe-$probes','c01','R-8','2025-08-03');"
    wait_until $PROBE_MAX_S probe_arrived || fail "$name: c01's probe row did not reach the hub within $PROBE_MAX_S s"
    lat=$(($(now_ms) - p0)); n=$((n + 1)); [ $lat -le $worst ] || worst=$lat
    kill -0 $apid 2>/dev/null || break
  done
  rc=0; wait $apid || rc=$?
  [ $rc = 0 ] || fail "$name: rawpeer exited $rc: $(cat "$W/$name.out")"
  sleep 1 # the hub's summary of what it did not log, its save of linli_serve
  hub_alive "$name"
  l1=$(wc -l <"$W/hub.log") b1=$(wc -c <"$W/hub.log") c1=$(cpu_ms "$HUB") s1=$(sig_checks) peak=$(awk '$1 == "VmHWM:" { print int($2 / 1024) }' "/proc/$HUB/status")
  cat "$W/$name.out"
  echo "  $name: $(($(now_ms) - f0)) ms; hub log +$((l1 - l0)) lines, +$((b1 - b0)) bytes; hub CPU +$((c1 - c0)) ms;" \
    "signature checks $s0 -> $s1; hub peak RSS $peak MiB; c01 synced $n probe(s), slowest $worst ms"
  [ $((l1 - l0)) -le $LOG_LINES_MAX ] || broken="$broken; $name: the hub's log grew by $((l1 - l0)) lines (bound $LOG_LINES_MAX)"
  if [ "$name" = replay ] && { [ "$s0" -lt 0 ] || [ $((s1 - s0)) -gt $SIG_CHECKS_MAX ]; }; then
    broken="$broken; replay: $s0 -> $s1 signature checks (bound +$SIG_CHECKS_MAX)"
  fi
}

flood handshake rawpeer --send handshake-flood --count "$HANDSHAKES"
grep -q "refused connection from .*CURVE key" "$W/hub.log" || broken="$broken; handshake: no refusal logged"
flood multiframe rawpeer --send multiframe-flood --count "$FRAMES"
grep -q "dropped a message from $K2: more than one frame" "$W/hub.log" || broken="$broken; multiframe: the drop does not name c02's key"
flood connect rawpeer --send connect-flood --count "$CONNECTS"
flood replay rawpeer --send replay-flood --count "$REPLAYS" --commit "$W/commit.hex"
grep -q "replay-flood: sent $REPLAYS batches .* -> $REPLAYS ack" "$W/replay.out" || broken="$broken; replay: not every batch acked"

# finding 3: a chain c02 may not read teaches it nothing; its own (the
# control) gets the ForkReport that shows the probe works
rawpeer --send probe --origin "$K2" --scope c02 --seq 1 >"$W/probe-own.out" 2>&1 || fail "probe of c02's chain failed"
grep -q "probe: 1 fork report" "$W/probe-own.out" || broken="$broken; control probe of c02's own chain: $(tail -n 1 "$W/probe-own.out")"
rawpeer --send probe --origin "$K1" --scope c01 --seq 1 >"$W/probe-other.out" 2>&1 || fail "probe of c01's chain failed"
grep -q "probe: 0 fork report" "$W/probe-other.out" || broken="$broken; probe of c01's chain: $(cat "$W/probe-other.out")"

# finding 6: a claim of 2^63-1 commits of a chain c02 may not write
rawpeer --send probe --origin "$K1" --scope c01 --seq 9223372036854775807 >"$W/probe-huge.out" 2>&1 || fail "huge probe failed"
sleep 1 # the hub saves peer state every 0.5 s
"$LINLI" --dir "$W/hub" status >"$W/status.out" 2>&1 || true
if grep -q "92233720368547" "$W/status.out"; then
  broken="$broken; status shows the claim as a figure: $(grep 92233720368547 "$W/status.out")"
fi

[ -z "$broken" ] || fail "${broken#; }"
echo "ok $T ($(($(date +%s) - t0)) s)"
