#!/bin/sh
# exhaust: resource exhaustion against a running hub. A hub and committees
# c01 and c02 run; c02's daemon is stopped so its key can misbehave (one key
# is one peer). c01 writes a row every 0.3 s throughout. Attacks, one after
# the other:
#   silent      plain TCP connections to the hub's port that never speak
#               (python3): the hub must close each (CURVE handshake timeout)
#               and get its file descriptors back;
#   hello-loop  c02's key sends valid Hellos in a loop, each opening a new
#               exchange (build/sim/rawpeer --send hello-loop);
#   garbage-loop  the same with garbage messages (--send garbage-loop);
#   flood       c02's key sends envelopes of exactly LI_MSG_BYTES_MAX bytes
#               as fast as they go (--send flood).
# Meanwhile c01 goes on syncing: a probe row written during the attack
# reaches the hub within PROBE_MAX_S. The hub's memory stays bounded: VmRSS
# after each attack and the hub's peak (VmHWM) stay under RSS_MAX_MIB; its
# log grows by at most LOG_LINES_MAX lines per attack (warnings about a
# peer's input are rate-limited, the rest summed up in one line). Figures
# are printed per attack.
# At the end: nothing of the attacks is stored, verify and integrity_check
# pass on the hub, and c02's own daemon converges again.
set -eu
T=exhaust
. "$(dirname "$0")/lib.sh"
t_begin street
RAWPEER=${LINLI_BUILD:-$(dirname "$LINLI")}/sim/rawpeer
[ -x "$RAWPEER" ] || { echo "FAIL $T: no $RAWPEER (make check-build)"; exit 1; }
case "${LINLI_BUILD:-}" in
*asan*) SILENT=100 HELLOS=3000 GARBAGE=3000 FLOOD=30
  # ASan keeps freed memory in quarantine (256 MiB by default) and so in
  # RSS: with a small one the hub's RSS says what the hub itself holds
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" ;;
*) SILENT=300 HELLOS=20000 GARBAGE=20000 FLOOD=100 ;;
esac
RSS_MAX_MIB=300
PROBE_MAX_S=20
LOG_LINES_MAX=200 # per attack

fail() {
  echo "FAIL $T: $*"
  for f in "$W"/*.log "$W"/*.out; do [ -f "$f" ] && { echo "--- tail $f"; tail -n 15 "$f"; }; done
  exit 1
}
now_ms() { date +%s%3N; }
running() { # PID: alive and not a zombie
  st=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$st" ] && [ "$st" != Z ]
}
kib() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; } # PID VmRSS|VmHWM
mib() { echo $((($1 + 512) / 1024)); }
fds() { ls "/proc/$1/fd" | wc -l; }
loglines() { wc -l <"$W/hub.log"; }
hub_alive() { running "$HUB" || fail "the hub died ($1)"; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02
HK=$("$LINLI" --dir "$W/hub" id)
street_run hub "$PORT" c01 c02
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','通知');"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-1','2025-08-01');"
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v1','c02','R-2','2025-08-01');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge at first"
HUB=$(street_pid hub)
kill -TERM "$(street_pid c02)" # one key is one peer: c02's key is the attacker's from here on
i=0
while running "$(street_pid c02)"; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "c02's serve did not stop on SIGTERM"; sleep 0.1
done
hub_c02=$(q hub "SELECT count(*) || ' ' || coalesce(max(seq), 0) FROM linli_log WHERE scope = 'c02'")

# c01 writes a row every 0.3 s for the whole run
street_start_bg writer sh -c "i=0; while :; do i=\$((i + 1));
  sqlite3 -cmd '.timeout 10000' '$W/c01/replica.db' \"INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('w-'||\$i,'c01','R-9','2025-08-02')\";
  sleep 0.3; done"

cat >"$W/silent.py" <<'EOF'
# silent.py PORT N HOLD: N plain TCP connections to PORT that never send a
# byte; reports how many the other side closed within HOLD seconds
import socket, sys, time, select
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except OSError as e:
        print("silent: connection %d failed: %s" % (i, e))
        break
    socks.append(s)
t0 = time.time()
closed = {}
while time.time() - t0 < hold:
    live = [s for s in socks if s not in closed]
    if not live:
        break
    r, _, _ = select.select(live, [], [], 0.2)
    for s in r:
        try:
            d = s.recv(4096)  # the hub's ZMTP greeting, then EOF when it gives up
        except OSError:
            d = b""
        if not d:
            closed[s] = time.time() - t0
span = " after %.1f-%.1f s" % (min(closed.values()), max(closed.values())) if closed else ""
print("silent: %d connections opened, %d closed by the hub within %.0f s%s" % (len(socks), len(closed), hold, span))
EOF

probes=0
probe_start() { # writes a probe row in c01
  probes=$((probes + 1)); pr_id="probe-$probes"; pr_t0=$(now_ms)
  q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('$pr_id','c01','R-8','2025-08-03');"
}
probe_arrived() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id = '$pr_id'")" = 1 ]; }

# attack NAME CMD...: runs CMD (output in $W/NAME.out) while probing c01's
# sync, then checks and prints the hub's figures
attack() {
  name=$1; shift
  r0=$(kib "$HUB" VmRSS) f0=$(fds "$HUB") l0=$(loglines) a0=$(now_ms)
  "$@" >"$W/$name.out" 2>&1 &
  apid=$!
  n=0 worst=0 fmax=$f0 rmax=$r0
  probe_start
  while :; do
    alive=0; running $apid && alive=1
    f=$(fds "$HUB"); [ "$f" -le "$fmax" ] || fmax=$f
    r=$(kib "$HUB" VmRSS); [ "$r" -le "$rmax" ] || rmax=$r
    if probe_arrived; then
      lat=$(($(now_ms) - pr_t0)); n=$((n + 1)); [ $lat -le $worst ] || worst=$lat
      [ $alive = 1 ] && probe_start || break
    elif [ $(($(now_ms) - pr_t0)) -gt $((PROBE_MAX_S * 1000)) ]; then
      fail "$name: c01's probe row did not reach the hub within $PROBE_MAX_S s"
    fi
    hub_alive "$name"
    sleep 0.1
  done
  rc=0; wait $apid || rc=$?
  [ $rc = 0 ] || fail "$name: the attacker exited $rc: $(cat "$W/$name.out")"
  sleep 1 # let the hub release what the attack held
  hub_alive "$name"
  r1=$(kib "$HUB" VmRSS) peak=$(kib "$HUB" VmHWM) f1=$(fds "$HUB") l1=$(loglines)
  grep -v '^connected to' "$W/$name.out"
  echo "  $(($(now_ms) - a0)) ms; hub RSS $(mib "$r0") -> $(mib "$r1") MiB (max seen $(mib "$rmax"), peak so far $(mib "$peak"));" \
    "fds $f0 -> $f1 (max $fmax); log +$((l1 - l0)) lines; c01 synced $n probe(s), slowest ${worst} ms"
  [ "$(mib "$r1")" -lt $RSS_MAX_MIB ] || fail "$name: the hub's RSS is $(mib "$r1") MiB after the attack (bound $RSS_MAX_MIB)"
  [ "$(mib "$peak")" -lt $RSS_MAX_MIB ] || fail "$name: the hub's peak RSS reached $(mib "$peak") MiB (bound $RSS_MAX_MIB)"
  [ $((l1 - l0)) -le $LOG_LINES_MAX ] || fail "$name: the hub's log grew by $((l1 - l0)) lines (bound $LOG_LINES_MAX)"
  [ "$n" -ge 1 ] || fail "$name: no probe completed"
}

rawpeer() { "$RAWPEER" --dir "$W/c02" --hub "tcp://127.0.0.1:$PORT" --hub-key "$HK" "$@"; }
sent_all() { grep -q "^$1: sent $2 of $2 " "$W/$1.out" || fail "$1: not all $2 messages were sent: $(cat "$W/$1.out")"; }

attack silent python3 "$W/silent.py" "$PORT" "$SILENT" 9
grep -q "^silent: $SILENT connections opened, $SILENT closed by the hub" "$W/silent.out" ||
  fail "the hub did not close every silent connection: $(cat "$W/silent.out")"
[ "$f1" -le $((f0 + 4)) ] || fail "the hub holds $f1 file descriptors after the silent connections, $f0 before"

attack hello-loop rawpeer --send hello-loop --count "$HELLOS"
sent_all hello-loop "$HELLOS"
grep -Eq "hello-loop: .* -> [0-9]+ replies \(([1-9][0-9]*) hello" "$W/hello-loop.out" || fail "the hub answered no hello"

attack garbage-loop rawpeer --send garbage-loop --count "$GARBAGE"
sent_all garbage-loop "$GARBAGE"
grep -q "malformed message from c02: .*not an envelope" "$W/hub.log" || fail "the hub did not log the garbage"
grep -q "garbage-loop: .* -> [0-9]* replies (0 hello, 0 ack, 0 of them rejecting, [1-9][0-9]* refuse" "$W/garbage-loop.out" ||
  fail "the hub did not refuse the garbage"

attack flood rawpeer --send flood --count "$FLOOD"
sent_all flood "$FLOOD"
grep -q "flood: .* -> [0-9]* replies ([0-9]* hello, $FLOOD ack, $FLOOD of them rejecting" "$W/flood.out" ||
  fail "the hub did not reject every batch of the flood"
# every refusal was counted, logged or not (the status the hub saves every 0.5 s)
sleep 1
rin=$(q hub "SELECT rejected_in FROM linli_peers WHERE name = 'c02'")
[ "$rin" -ge $((GARBAGE / 2 + FLOOD)) ] || fail "the hub counted $rin rejected inputs from c02"
echo "the hub counted $rin rejected inputs from c02"

# c01's writer stops; the street converges; nothing of the attacks is stored
kill -TERM "$(street_pid writer)" 2>/dev/null || true
street_wait_converged 30 hub c01 || fail "c01 did not converge after the attacks"
w=$(q c01 "SELECT count(*) FROM care_visits WHERE id LIKE 'w-%' OR id LIKE 'probe-%'")
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id LIKE 'w-%' OR id LIKE 'probe-%'")" = "$w" ] ||
  fail "the hub lacks some of c01's rows written during the attacks"
[ "$(q hub "SELECT count(*) || ' ' || coalesce(max(seq), 0) FROM linli_log WHERE scope = 'c02'")" = "$hub_c02" ] ||
  fail "the hub's c02 chain changed during the attacks"
[ "$(q hub "SELECT count(*) FROM linli_banned")" = 0 ] || fail "the hub banned an origin"
"$LINLI" --dir "$W/hub" verify >"$W/verify-hub.out" 2>&1 || fail "linli verify fails on the hub"
[ "$(q hub "PRAGMA integrity_check")" = ok ] || fail "integrity_check fails on the hub"

# c02's own daemon again
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v2','c02','R-5','2025-08-03');"
street_start_bg c02 "$LINLI" --dir "$W/c02" serve
street_wait_converged 30 hub c01 c02 || fail "c02 did not converge after its daemon restarted"
echo "c01: $w rows written during the attacks, all on the hub; c02 converged again; hub RSS $(mib "$(kib "$HUB" VmRSS)") MiB," \
  "peak $(mib "$(kib "$HUB" VmHWM)") MiB"
street_stop
# the warnings not logged during the garbage loop and the flood are summed up (at the latest on stop)
grep -Eq "WARN c02: [0-9]+ more warning\(s\) about its input not logged" "$W/hub.log" ||
  fail "the hub did not sum up the warnings it did not log"
grep -E "WARN c02: [0-9]+ more warning" "$W/hub.log" | sed 's/^[^ ]* /  hub: /'
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
