#!/bin/sh
# sync_roster_remove: `linli roster remove` on the hub takes effect at once
# on a running street. c01 and c02 are connected and synced; the street
# office removes c01 while both stay connected. Within a few seconds the hub
# ends c01's session and drops its connection (its log says so), c01 meets
# ZAP again and is refused; street data written afterwards reaches c02 but
# never c01, and c01's later writes never reach the hub. (Before the node
# driver re-checked the roster, a removed committee kept receiving street
# data on its open connection.)
set -eu
T=sync_roster_remove
. "$(dirname "$0")/lib.sh"
t_begin street
logged() { grep -q "$2" "$W/$1.log" 2>/dev/null; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02
street_run hub "$PORT" c01 c02
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','第一份通知');"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-1','2025-03-01');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge within 30 s"
wait_until 10 sh -c "[ \"\$(sqlite3 '$W/c01/replica.db' \"SELECT connected FROM linli_peers WHERE name='hub'\")\" = 1 ]" ||
  fail "c01 does not show the hub connected"

"$LINLI" --dir "$W/hub" roster remove c01 >"$W/remove.out" 2>&1 || fail "roster remove failed: $(cat "$W/remove.out")"
wait_until 10 logged hub "c01 is no longer an active roster member: session ended, connection dropped" ||
  fail "the hub never ended c01's session"
wait_until 15 logged c01 "hub refused our key" || fail "c01 was not refused on its next handshake"

# from now on nothing flows to or from c01
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-2','street','移除之后的通知');"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v2','c01','R-2','2025-03-02');"
wait_until 20 sh -c "[ \"\$(sqlite3 '$W/c02/replica.db' \"SELECT count(*) FROM notices WHERE id='n-2'\")\" = 1 ]" ||
  fail "c02 (control) never got the later notice"
sleep 3
[ "$(q c01 "SELECT count(*) FROM notices WHERE id='n-2'")" = 0 ] || fail "the removed c01 still received street data"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id='c01-v2'")" = 0 ] || fail "the hub took a write of the removed c01"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id='c01-v1'")" = 1 ] || fail "the hub lost c01's earlier write"
echo "hub: $(grep -m1 'no longer an active roster member' "$W/hub.log")"
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
