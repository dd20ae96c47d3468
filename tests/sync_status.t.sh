#!/bin/sh
# sync_status: what `linli status --json` shows of the link, with nobody
# running a command but status itself. Connected: the hub reachable, zero lag.
# Cut off (street_cut): the hub unreachable, and the committee's commits
# written meanwhile counted as lacking on the hub's side ("commits_they_lack"
# = exactly the commits sealed since); the hub's own status shows the
# committee unreachable. Healed: reachable again, zero lag both ways.
set -eu
T=sync_status
. "$(dirname "$0")/lib.sh"
t_begin street

# "STATE REACHABLE WE_LACK THEY_LACK" of peer $2 in node $1's status --json
peer_view() {
  "$LINLI" --dir "$W/$1" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
p = [p for p in s["peers"] if p["name"] == sys.argv[1]]
print("none" if not p else "%s %s %d %d" % (p[0]["state"], str(p[0]["reachable"]).lower(),
      p[0]["commits_we_lack"], p[0]["commits_they_lack"]))' "$2"
}
peer_view_is() { [ "$(peer_view "$1" "$2")" = "$3" ]; }
keyhex() { # the node's public key as the hex of linli_vv.origin
  python3 -c 'import base64, sys; k = sys.argv[1]; print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex().upper())' \
    "$("$LINLI" --dir "$W/$1" id)"
}
own_commits() { # commits node $1 sealed in its own chain
  q "$1" "SELECT coalesce(max(seq), 0) FROM linli_vv WHERE scope = '$1' AND hex(origin) = '$(keyhex "$1")'"
}

PORT=$(street_port)
street_init hub "$PORT" c01 c02
street_run hub "$PORT" c01 c02
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-1','2025-07-01');"
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','通知');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge at first"
wait_until 15 peer_view_is c01 hub "connected true 0 0" || fail "connected: c01 shows the hub as '$(peer_view c01 hub)'"
wait_until 5 peer_view_is hub c01 "connected true 0 0" || fail "connected: the hub shows c01 as '$(peer_view hub c01)'"
echo "connected: $(peer_view c01 hub)"

street_cut c01
unreachable() { case "$(peer_view "$1" "$2")" in "unreachable false "*) return 0 ;; esac; return 1; }
wait_until 15 unreachable c01 hub || fail "cut: c01 shows the hub as '$(peer_view c01 hub)', expected unreachable"
before=$(own_commits c01)
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v2','c01','R-2','2025-07-02');"
q c01 "INSERT INTO hazards(id,scope,category,location,found_on) VALUES ('c01-h1','c01','燃气','1号楼','2025-07-02');"
sealed() { [ "$(q c01 "SELECT count(*) FROM linli_dirty")" = 0 ] && [ "$(own_commits c01)" -gt "$before" ]; }
wait_until 10 sealed || fail "c01 did not seal its rows while cut off"
new=$(($(own_commits c01) - before))
# exactly the new commits, from the seal on (while the session still waits
# for the lost hub) and after the session gave up on it
end=$(($(date +%s) + 6))
while [ "$(date +%s)" -lt "$end" ]; do
  v=$(peer_view c01 hub)
  [ "$v" = "unreachable false 0 $new" ] || fail "cut: c01 shows the hub as '$v', expected 'unreachable false 0 $new'"
  sleep 0.3
done
echo "cut off, $new commit(s) written: $v"
wait_until 15 unreachable hub c01 || fail "cut: the hub shows c01 as '$(peer_view hub c01)', expected unreachable"
echo "the hub's view of c01: $(peer_view hub c01)"
# the hub writes for c01 meanwhile: c01 cannot know, so it shows 0 lacking
q hub "INSERT INTO hazards(id,scope,category,location,found_on,assigned_to) VALUES ('hub-h1','c01','消防','2号楼','2025-07-03','c01');"

street_heal c01
wait_until 30 peer_view_is c01 hub "connected true 0 0" || fail "healed: c01 shows the hub as '$(peer_view c01 hub)'"
wait_until 10 peer_view_is hub c01 "connected true 0 0" || fail "healed: the hub shows c01 as '$(peer_view hub c01)'"
street_converged hub c01 c02 || fail "healed, zero lag shown, but c01's data differs from the hub's"
[ "$(q c01 "SELECT count(*) FROM hazards WHERE id = 'hub-h1'")" = 1 ] || fail "c01 lacks the hub's hazard"
echo "healed: $(peer_view c01 hub)"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
