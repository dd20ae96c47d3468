#!/bin/sh
# liveness_backup: a restored backup, a copied folder and the way out
# (finding 5 of the liveness issue: restoring a backup or copying a node
# folder forked the node's own chain; both sides froze it, over bundles the
# hub banned the committee's key and the committee banned itself, and
# `sync --once` still said "caught up" with exit 0).
#  1. c01's folder is backed up, c01 goes on and syncs, the backup is put
#     back and `linli serve` started on it: it takes back its own commits
#     from the hub before sealing; its new writes arrive, no fork anywhere.
#  2. The same over bundles: a restored backup imports the hub's bundle,
#     takes its commits back, and its next export is accepted by the hub.
#  3. A copy of the folder sealed on its own (by hand, offline) while the
#     original went on: its `sync --once` exits 6 and its status says the
#     chain forked and to run `linli recover`; nobody banned anything.
#     `linli recover` on the copy, `linli roster replace` on the hub, one
#     `sync --once`: every row written at the copy is at the hub.
set -eu
T=liveness_backup
. "$(dirname "$0")/lib.sh"
t_begin street
visit() { q "$1" "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('$2','c01','R-$2','2025-03-01');"; }
hubhas() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id='$1'")" = 1 ]; }
stop_one() { kill -TERM "$(street_pid "$1")"; wait_until 10 sh -c "! kill -0 $(street_pid "$1") 2>/dev/null"; }
nobans() { for d in "$@"; do [ "$(q "$d" "SELECT count(*) FROM linli_banned")" = 0 ] || fail "$d banned a key"; done; }

PORT=$(street_port)
street_init hub "$PORT" c01
street_run hub "$PORT" c01
visit c01 a1
street_wait_converged 30 hub c01 || fail "no first convergence"

# ---- 1. a restored backup under serve ----
stop_one c01
cp -a "$W/c01" "$W/c01.backup"
street_start_bg c01 "$LINLI" --dir "$W/c01" serve
visit c01 a2
visit c01 a3
wait_until 30 hubhas a3 || fail "the hub never got a3"
stop_one c01
rm -rf "$W/c01"
mv "$W/c01.backup" "$W/c01"                      # the disk died; last week's backup is put back
visit c01 a4                                     # written before the daemon even starts
street_start_bg c01 "$LINLI" --dir "$W/c01" serve
visit c01 a5
wait_until 30 sh -c "hubhas() { [ \"\$(sqlite3 '$W/hub/replica.db' \"SELECT count(*) FROM care_visits WHERE id='\$1'\")\" = 1 ]; }; hubhas a4 && hubhas a5" ||
  fail "the restored c01's new writes never reached the hub"
grep -q "taking back this node's own commits" "$W/c01.log" || fail "c01's log does not say it took back its commits"
[ "$(q c01 "SELECT count(*) FROM care_visits WHERE id IN ('a2','a3')")" = 2 ] || fail "c01 did not take back a2, a3"
street_wait_converged 30 hub c01 || fail "not converged after the restore"
[ "$(q hub "SELECT count(*) FROM linli_evidence")" = 0 ] || fail "the hub saw a fork"
nobans hub c01
echo "1: the restored backup took back its commits and went on, no fork"

# ---- 2. the same over bundles ----
stop_one c01
cp -a "$W/c01" "$W/c01.backup"
visit c01 b1
"$LINLI" --dir "$W/c01" bundle export --for street "$W/to-hub.bundle" >/dev/null
"$LINLI" --dir "$W/hub" bundle import "$W/to-hub.bundle" >/dev/null || fail "the hub refused c01's bundle"
hubhas b1 || fail "the hub lacks b1"
rm -rf "$W/c01"; mv "$W/c01.backup" "$W/c01"
visit c01 b2                                     # written on the restored PC before anything else
"$LINLI" --dir "$W/hub" bundle export --for c01 "$W/to-c01.bundle" >/dev/null
"$LINLI" --dir "$W/c01" bundle import "$W/to-c01.bundle" >"$W/import.out" 2>&1 || fail "import: $(cat "$W/import.out")"
grep -q "took back this node's own commits" "$W/import.out" || fail "the import did not take back: $(cat "$W/import.out")"
"$LINLI" --dir "$W/c01" bundle export --for street "$W/to-hub2.bundle" >/dev/null
"$LINLI" --dir "$W/hub" bundle import "$W/to-hub2.bundle" >"$W/import2.out" 2>&1 || fail "the hub refused: $(cat "$W/import2.out")"
hubhas b2 || fail "the hub lacks b2"
nobans hub c01
echo "2: over bundles, the restored backup took back its commits; its next bundle was accepted"

# ---- 3. a copied folder that sealed on its own; the way out ----
cp -a "$W/c01" "$W/c01b"
street_start_bg c01 "$LINLI" --dir "$W/c01" serve
visit c01 c1
wait_until 30 hubhas c1 || fail "the hub never got c1"
visit c01b d1                                    # the copy, offline, seals by hand
"$LINLI" --dir "$W/c01b" commit >/dev/null
set +e
"$LINLI" --dir "$W/c01b" sync --once --timeout 20 >"$W/once.out" 2>&1
rc=$?
set -e
[ $rc = 6 ] || fail "sync --once of the forked copy exited $rc, not 6: $(tail -3 "$W/once.out")"
"$LINLI" --dir "$W/c01b" status >"$W/status.out"
grep -q "forked" "$W/status.out" && grep -q "linli recover" "$W/status.out" ||
  fail "status does not name the fork and the way out: $(cat "$W/status.out")"
nobans hub c01 c01b
stop_one c01                                     # the old PC is retired
"$LINLI" --dir "$W/c01b" recover >"$W/recover.out" 2>&1 || fail "recover: $(cat "$W/recover.out")"
NEW=$(tail -n 1 "$W/recover.out")
"$LINLI" --dir "$W/hub" roster replace c01 "$NEW" >/dev/null || fail "roster replace failed"
"$LINLI" --dir "$W/c01b" sync --once --timeout 30 >"$W/once2.out" 2>&1 || fail "sync after recover: $(tail -5 "$W/once2.out")"
# one more exchange seals and sends what the settle unsealed
"$LINLI" --dir "$W/c01b" sync --once --timeout 30 >"$W/once3.out" 2>&1 || fail "second sync: $(tail -5 "$W/once3.out")"
for id in a1 a2 a3 a4 a5 b1 b2 d1; do hubhas "$id" || fail "after recover, the hub lacks $id"; done
[ "$(q c01b "SELECT count(*) FROM care_visits WHERE id='c1'")" = 1 ] || fail "the copy lacks the original's c1"
echo "3: forked copy: sync --once exit 6, status names the fix; after recover + roster replace nothing is lost"
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
