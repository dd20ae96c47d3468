#!/bin/sh
# sync_malformed: an ADMITTED peer (c02's own key, so ZAP lets it in) sends
# what no linli node would: garbage bytes, a Hello of an unknown protocol version (refused: version),
# a Batch of more commits than LI_BATCH_ROWS_MAX, an envelope of exactly
# LI_MSG_BYTES_MAX bytes holding a commit far over LI_COMMIT_BYTES_MAX, and
# LI_MSG_BYTES_MAX + 1 bytes on a raw socket (build/sim/rawpeer). Each is
# refused, with the reason in the hub's log (and in the reply where there is
# one: the transport drops the last one unanswered); nothing of it is stored; the hub keeps serving c01 meanwhile; and c02,
# once its daemon is back, converges as if nothing happened.
set -eu
T=sync_malformed
. "$(dirname "$0")/lib.sh"
t_begin street
RAWPEER=${LINLI_BUILD:-$(dirname "$LINLI")}/sim/rawpeer
[ -x "$RAWPEER" ] || { echo "FAIL $T: no $RAWPEER (make check-build)"; exit 1; }

fail() {
  echo "FAIL $T: $*"
  for f in "$W"/*.log "$W"/*.out; do [ -f "$f" ] && { echo "--- tail $f"; tail -n 25 "$f"; }; done
  exit 1
}
logged() { grep -q "$2" "$W/$1.log" 2>/dev/null; }
hub_alive() { kill -0 "$(street_pid hub)" 2>/dev/null || fail "the hub died ($1)"; }
rawpeer() { # KIND: c02's key against the hub, output in $W/raw-KIND.out
  "$RAWPEER" --dir "$W/c02" --hub "tcp://127.0.0.1:$PORT" --hub-key "$HK" --send "$1" >"$W/raw-$1.out" 2>&1 ||
    fail "rawpeer --send $1 failed (exit $?)"
  cat "$W/raw-$1.out"
}
expect_out() { grep -q "$2" "$W/raw-$1.out" || fail "rawpeer --send $1: no '$2' in its output"; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02
HK=$("$LINLI" --dir "$W/hub" id)
K2=$("$LINLI" --dir "$W/c02" id)
street_run hub "$PORT" c01 c02
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','通知');"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-1','2025-08-01');"
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v1','c02','R-2','2025-08-01');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge at first"
hub_commits=$(q hub "SELECT count(*) FROM linli_log WHERE scope <> 'c01'") # c01 goes on writing

# one key is one peer: c02's daemon stops while its key misbehaves
kill -TERM "$(street_pid c02)"
wait_until 10 sh -c "! kill -0 $(street_pid c02) 2>/dev/null" || fail "c02's serve did not stop on SIGTERM"

rawpeer garbage
expect_out garbage "garbage: sent 256 bytes -> refuse decode: .*not an envelope"
wait_until 5 logged hub "malformed message from c02: .*not an envelope" || fail "the hub did not log the garbage"
hub_alive garbage

rawpeer badhello
expect_out badhello "badhello: sent .* -> refuse version: .*versions 99 to 99"
wait_until 5 logged hub "no protocol version in common from c02: .*versions 99 to 99" || fail "the hub did not log the bad hello"
hub_alive badhello

# c01 keeps syncing between the attacks
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v2','c01','R-3','2025-08-02');"
street_wait_converged 20 hub c01 || fail "c01 stopped syncing after the garbage"

rawpeer oversized
expect_out oversized "batch-rows: sent .* -> refuse limit: .*LI_BATCH_ROWS_MAX"
expect_out oversized "batch-bytes: sent .* -> ack applied=0 reject=too_big: "
expect_out oversized "raw-over-max: sent .* -> none"
wait_until 5 logged hub "malformed message from c02: batch of .* commits is over LI_BATCH_ROWS_MAX" ||
  fail "the hub did not log the batch of too many commits"
wait_until 5 logged hub "rejected commits from c02 (too_big): " || fail "the hub did not log the commit over the cap"
wait_until 5 logged hub "dropped a message from $K2: [0-9]* bytes, over LI_MSG_BYTES_MAX" ||
  fail "the hub did not log the message over the cap"
hub_alive oversized
big=$(sed -n 's/^raw-over-max: sent \([0-9]*\) bytes.*/\1/p' "$W/raw-oversized.out")
[ -n "$big" ] && ! grep -q "message of $big bytes" "$W/hub.log" || fail "the raw over-size message reached the hub's session"

# nothing of it was stored; the refused inputs are counted
[ "$(q hub "SELECT count(*) FROM linli_log WHERE scope <> 'c01'")" = "$hub_commits" ] || fail "the hub stored something of the attacks"
[ "$(q hub "SELECT count(*) FROM linli_log WHERE scope = 'c02'")" = 1 ] || fail "the hub's c02 chain changed"
"$LINLI" --dir "$W/hub" verify >/dev/null || fail "linli verify fails on the hub after the attacks"
[ "$(q hub "PRAGMA integrity_check")" = ok ] || fail "integrity_check fails on the hub"
[ "$(q hub "SELECT count(*) FROM linli_banned")" = 0 ] || fail "the hub banned an origin"

# c01 still syncs, both ways
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v3','c01','R-4','2025-08-03');"
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-2','street','通知二');"
street_wait_converged 20 hub c01 || fail "c01 stopped syncing after the attacks"
[ "$(q c01 "SELECT count(*) FROM notices WHERE id = 'n-2'")" = 1 ] || fail "c01 lacks the hub's new notice"

# c02's own daemon again: it converges, the attacks left nothing behind
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v2','c02','R-5','2025-08-03');"
street_start_bg c02 "$LINLI" --dir "$W/c02" serve
street_wait_converged 30 hub c01 c02 || fail "c02 did not converge after its daemon restarted"
[ "$(q c02 "SELECT count(*) FROM notices WHERE id = 'n-2'")" = 1 ] || fail "c02 lacks the hub's new notice"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'c02-v2'")" = 1 ] || fail "the hub lacks c02's new row"
echo "the hub's log:"
grep -E "malformed message|rejected commits|dropped a message" "$W/hub.log" | sed 's/^/  /'
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
