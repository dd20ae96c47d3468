#!/bin/sh
# sync_converge: a hub and three committees, real `linli serve` processes on
# loopback, converge by themselves: rows written with sqlite3 in every
# committee and in the hub (street notices, and hub rows in a committee's
# scope) reach exactly the replicas that read them. Then `linli status
# --json` on each committee shows the hub connected with zero lag both ways,
# without any command having been run. Last, `linli sync --once` from a
# committee whose daemon is stopped delivers its new rows to the hub.
set -eu
T=sync_converge
. "$(dirname "$0")/lib.sh"
t_begin street

hub_view_is() { [ "$(hub_view "$1")" = "$2" ]; }

PORT=$(street_port)
street_init hub "$PORT" c01 c02 c03
# c02's staff wrote before its daemon ever ran
q c02 "INSERT INTO hotline_cases(id,scope,case_no,received_on,status) VALUES
  ('c02-k1','c02','12345-0301','2025-03-01','受理');
INSERT INTO disputes(id,scope,parties_ref,status,opened_on) VALUES ('c02-d1','c02','P-07/P-09','调解中','2025-03-03');"
street_run hub "$PORT" c01 c02 c03

# every committee writes in its own scope, the hub in 'street' and in c02's
tw=$(date +%s)
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome) VALUES
  ('c01-v1','c01','R-0012','2025-03-01','探访','居家安全'),
  ('c01-v2','c01','R-0031','2025-03-02','助餐','午餐送达');
INSERT INTO hazards(id,scope,category,location,found_on) VALUES ('c01-h1','c01','燃气','3号楼101','2025-03-02');"
q c02 "UPDATE disputes SET mediator = '王调解员' WHERE id = 'c02-d1';"
q c03 "INSERT INTO meal_points(id,scope,place,capacity) VALUES ('c03-m1','c03','社区食堂',40);
INSERT INTO enterprise_visits(id,scope,enterprise,visited_on) VALUES ('c03-e1','c03','某科技公司','2025-03-04');"
q hub "INSERT INTO notices(id,scope,title,body) VALUES
  ('n-1','street','燃气安全专项检查','本周内完成排查'),
  ('n-2','street','防汛准备','检查排水');
INSERT INTO hazards(id,scope,category,location,found_on,stage,assigned_to) VALUES
  ('hub-h1','c02','消防','菜场后门通道','2025-03-06','交办','c02');"

street_wait_converged 40 hub c01 c02 c03 || fail "the street did not converge within 40 s"
echo "converged $(($(date +%s) - tw)) s after the writes"

# the rows themselves, where they belong
[ "$(q hub "SELECT count(*) FROM care_visits WHERE scope='c01'")" = 2 ] || fail "hub lacks c01's care visits"
[ "$(q hub "SELECT count(*) FROM meal_points WHERE id='c03-m1'")" = 1 ] || fail "hub lacks c03's meal point"
for cc in c01 c02 c03; do
  [ "$(q "$cc" "SELECT count(*) FROM notices WHERE scope='street'")" = 2 ] || fail "$cc lacks the street notices"
  [ "$(q "$cc" "SELECT count(*) FROM roster WHERE name IN ('c01','c02','c03')")" = 3 ] || fail "$cc lacks the roster"
done
[ "$(q c02 "SELECT stage || '/' || assigned_to FROM hazards WHERE id='hub-h1'")" = "交办/c02" ] ||
  fail "c02 lacks the hazard the hub wrote in its scope"
[ "$(q c01 "SELECT count(*) FROM hazards WHERE id='hub-h1'")" = 0 ] || fail "c01 holds a row of c02's scope"

# status: the hub connected, nothing lacking either way, nobody ran a command
for cc in c01 c02 c03; do
  wait_until 15 hub_view_is "$cc" "connected true 0 0" ||
    fail "$cc status shows the hub as '$(hub_view "$cc")', expected 'connected true 0 0'"
done
echo "status: every committee sees the hub connected with zero lag"

# everybody writes at once for a while: rows written while a batch arrives
# are sealed by that batch's merge, and must still travel at once (not at the
# next 30-s anti-entropy exchange)
k=0
while [ $k -lt 15 ]; do
  q hub "INSERT INTO notices(id,scope,title) VALUES ('busy-n$k','street','t$k')" & p1=$!
  q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('busy-a$k','c01','R','2025-04-01')" & p2=$!
  q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('busy-b$k','c02','R','2025-04-01')" & p3=$!
  q c03 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('busy-c$k','c03','R','2025-04-01')" & p4=$!
  wait $p1 $p2 $p3 $p4 || fail "a concurrent sqlite3 write failed"
  sleep 0.1
  k=$((k + 1))
done
t1=$(date +%s)
# (by the clock: the 30-s anti-entropy exchange must not be what delivers them)
wait_until 12 street_converged hub c01 c02 c03 || fail "concurrent writes did not converge within 12 s"
street_wait_converged 10 hub c01 c02 c03 || fail "unsealed rows left after the concurrent writes"
echo "concurrent writes converged in $(($(date +%s) - t1)) s"
for cc in c01 c02 c03; do
  wait_until 10 hub_view_is "$cc" "connected true 0 0" ||
    fail "after concurrent writes $cc status shows the hub as '$(hub_view "$cc")'"
done

# a committee's daemon restarts (rows written while it was down): the hub
# takes the new connection's exchange for a new one at once
kill -TERM "$(street_pid c02)"
wait_until 10 sh -c "! kill -0 $(street_pid c02) 2>/dev/null" || fail "c02's serve did not stop on SIGTERM"
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-restart','c02','R-9','2025-04-02');"
t1=$(date +%s)
street_start_bg c02 "$LINLI" --dir "$W/c02" serve
wait_until 4 street_converged hub c02 || fail "c02's restarted daemon did not catch up within 4 s"
echo "c02's restarted daemon caught up in $(($(date +%s) - t1)) s"

# sync --once from a committee whose daemon is stopped
kill -TERM "$(street_pid c03)"
wait_until 10 sh -c "! kill -0 $(street_pid c03) 2>/dev/null" || fail "c03's serve did not stop on SIGTERM"
q c03 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES
  ('c03-v1','c03','R-0101','2025-03-07'), ('c03-v2','c03','R-0102','2025-03-07');
UPDATE meal_points SET capacity = 45 WHERE id = 'c03-m1';"
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-3','street','垃圾分类宣传周');"
hub_sealed() { [ "$(q hub "SELECT count(*) FROM linli_dirty")" = 0 ]; }
wait_until 10 hub_sealed || fail "the hub did not seal its notice"
"$LINLI" --dir "$W/c03" sync --once --timeout 30 >>"$W/c03-once.log" 2>&1 || fail "sync --once failed (exit $?)"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id IN ('c03-v1','c03-v2')")" = 2 ] ||
  fail "after sync --once the hub lacks c03's new care visits"
[ "$(q hub "SELECT capacity FROM meal_points WHERE id='c03-m1'")" = 45 ] || fail "after sync --once the hub lacks c03's update"
[ "$(q c03 "SELECT count(*) FROM notices WHERE id='n-3'")" = 1 ] || fail "sync --once did not bring the hub's new notice"
[ "$(q c03 "SELECT count(*) FROM linli_dirty")" = 0 ] || fail "sync --once left unsealed changes"
street_converged hub c03 || fail "hub and c03 differ after sync --once"
echo "sync --once: c03 delivered its rows and caught up"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
