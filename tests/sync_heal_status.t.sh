#!/bin/sh
# sync_heal_status: what status and report say about a link is current
# within one exchange (finding 10 of the liveness issue: just after "caught
# up", a committee's status showed the hub unreachable with a commit it
# lacked, and the hub's report "lacks 1 / hub lacks 1" while the content
# hashes were equal). Three times: cut c01 off, write on both sides, heal,
# and as soon as c01's log says it caught up after the heal, its status
# shows the hub connected and nothing lacking either way, and the hub's
# report shows nothing lacking for c01. The cuts are logged as an outage,
# never as a hub key to check.
set -eu
T=sync_heal_status
. "$(dirname "$0")/lib.sh"
t_begin street
synced_lines() { grep -c "sync hub: .* caught up" "$W/c01.log" 2>/dev/null || true; }
hub_row() { # "LACKS HUBLACKS" of c01 in the hub's report
  "$LINLI" --dir "$W/hub" report --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
c = [c for c in r["committees"] if c["name"] == "c01"][0]
print(c["sync"]["committee_lacks"], c["sync"]["hub_lacks"])'
}

PORT=$(street_port)
street_init hub "$PORT" c01
street_run hub "$PORT" c01
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('v0','c01','R-0','2025-03-01');"
street_wait_converged 30 hub c01 || fail "no first convergence"
for round in 1 2 3; do
  street_cut c01
  sleep 1
  q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('v$round','c01','R-$round','2025-03-0$round');"
  q hub "INSERT INTO notices(id,scope,title) VALUES ('n$round','street','通知$round');"
  sleep 2
  before=$(synced_lines)
  street_heal c01
  wait_until 30 sh -c "[ \$(grep -c 'sync hub: .* caught up' '$W/c01.log') -gt $before ]" ||
    fail "round $round: c01 never caught up after the heal"
  v=$(hub_view c01)
  [ "$v" = "connected true 0 0" ] || fail "round $round: just after catching up, c01's status says: $v"
  [ "$(hub_row)" = "0 0" ] || fail "round $round: the hub's report says c01 lacks / the hub lacks: $(hub_row)"
  street_converged hub c01 || fail "round $round: not converged"
  echo "round $round: caught up, status and report agree"
done
# an outage is logged as one (issue 11): never as a wrong hub key
grep -q "hub_key\|is the hub key" "$W/c01.log" && fail "an outage was logged as a key problem: $(grep hub_key "$W/c01.log" | head -n 3)"
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
