#!/bin/sh
# sync_catchup: a committee cut off from the network (its proxy cuts the
# link; its daemon keeps running) while 20,000 row changes happen elsewhere
# -- the hub rewrites all 10,000 street notices and files 10,000 hazards in
# the committee's scope -- and the committee writes rows of its own. When the
# link returns it catches up by itself, nobody runs a command: its digests
# equal the hub's, both ways, and its status shows zero lag.
set -eu
T=sync_catchup
. "$(dirname "$0")/lib.sh"
t_begin street
N=10000

# "REACHABLE WE_LACK THEY_LACK" of the hub in a committee's status --json
hub_view() {
  "$LINLI" --dir "$W/$1" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
p = [p for p in s["peers"] if p["name"] == "hub"]
print("none" if not p else "%s %d %d" % (str(p[0]["reachable"]).lower(), p[0]["commits_we_lack"], p[0]["commits_they_lack"]))'
}
hub_view_is() { [ "$(hub_view "$1")" = "$2" ]; }
hub_unreachable() { case "$(hub_view "$1")" in false*) return 0 ;; esac; return 1; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02
street_run hub "$PORT" c01 c02
q hub "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO notices(id,scope,title,body,audience) SELECT printf('n-%05d', i), 'street', printf('通知 %d', i), '初稿', 'all' FROM n;"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v0','c01','R-0','2025-06-01');"
street_wait_converged 60 hub c01 c02 || fail "the street did not converge on the first $N notices"
echo "$N street notices everywhere after $(($(date +%s) - t0)) s"

street_cut c01
wait_until 20 hub_unreachable c01 || fail "c01 does not see the hub unreachable after the cut ($(hub_view c01))"
echo "c01 cut off"
q hub "UPDATE notices SET body = '修订稿', valid_to = '2025-12-31' WHERE scope = 'street';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO hazards(id,scope,category,location,found_on,stage,assigned_to)
  SELECT printf('hz-%05d', i), 'c01', '消防', printf('%d号楼', i % 40), '2025-06-02', '交办', 'c01' FROM n;"
q c01 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO care_visits(id,scope,resident_ref,visited_on) SELECT printf('c01-off-%03d', i), 'c01', 'R-1', '2025-06-02' FROM n;
UPDATE care_visits SET outcome = '断网期间' WHERE id = 'c01-v0';"
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-v1','c02','R-2','2025-06-02');"
street_wait_converged 60 hub c02 || fail "c02 did not get the rewritten notices while c01 was cut off"
street_converged hub c01 && fail "c01 converged while cut off (the cut did not hold)"
[ "$(q c01 "SELECT count(*) FROM hazards")" = 0 ] || fail "c01 received hazards while cut off"
echo "while c01 was cut: $N notices rewritten, $N hazards filed in c01's scope, c02 up to date"

tc=$(date +%s)
street_heal c01
street_wait_converged 90 hub c01 c02 || fail "c01 did not catch up within 90 s of the link's return"
echo "c01 caught up $(($(date +%s) - tc)) s after the link returned"
[ "$(q c01 "SELECT count(*) FROM hazards WHERE scope = 'c01' AND stage = '交办'")" = "$N" ] || fail "c01 lacks hazards"
[ "$(q c01 "SELECT count(*) FROM notices WHERE body = '修订稿'")" = "$N" ] || fail "c01 lacks rewritten notices"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id LIKE 'c01-off-%'")" = 200 ] || fail "the hub lacks c01's offline rows"
[ "$(q hub "SELECT outcome FROM care_visits WHERE id = 'c01-v0'")" = "断网期间" ] || fail "the hub lacks c01's offline update"
wait_until 15 hub_view_is c01 "true 0 0" || fail "c01's status after catching up: '$(hub_view c01)', expected 'true 0 0'"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
