#!/bin/sh
# sync_refused: a row change the hub refuses alone is shown on both ends
# (issue 9, "refused per row ... recorded and shown on both ends").
# The hub has a rule of its own (a local trigger refusing visits marked as
# tests); committee c07 writes such a visit beside a real one, under
# `linli serve`. The hub applies the commit: the real visit arrives
# (control), the other row is refused alone (linli_refused, constraint) and
# the hub tells c07 in its Ack: c07's status, text and JSON, names the
# refusal on its hub line, with the fix; its log says so.
set -eu
T=sync_refused
. "$(dirname "$0")/lib.sh"
t_begin street

PORT=$(street_port)
street_init hub "$PORT" c07
q hub "CREATE TRIGGER hub_rule BEFORE INSERT ON care_visits WHEN NEW.outcome = '测试'
  BEGIN SELECT RAISE(ABORT, 'hub: test visits are not accepted'); END"
street_run hub "$PORT" c07
q c07 "INSERT INTO care_visits(id, scope, resident_ref, visited_on, outcome) VALUES ('x1', 'c07', 'R-0', '2025-03-01', '测试');
INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('v1', 'c07', 'R-1', '2025-03-01')"
hubv1() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'v1'")" = 1 ]; }
wait_until 30 hubv1 || fail "the hub never got the visit (the commit was not applied)"
[ "$(q hub "SELECT count(*) FROM linli_refused WHERE tbl = 'care_visits' AND reason = 'constraint'")" = 1 ] ||
  fail "the hub did not record the refused row"
told() { "$LINLI" --dir "$W/c07" status | grep -q "it refused 1 row change(s) of our commits alone"; }
wait_until 20 told || fail "c07's status does not show the hub's refusal: $("$LINLI" --dir "$W/c07" status)"
"$LINLI" --dir "$W/c07" status | grep -q "care_visits.*constraint" || fail "status does not name the row and the reason: $("$LINLI" --dir "$W/c07" status)"
"$LINLI" --dir "$W/c07" status --json | grep -q '"refused_rows":1' || fail "status --json lacks refused_rows"
grep -q "refused 1 row change(s) of them alone" "$W/c07.log" || fail "c07's log does not say it"
echo "the visit arrived; the row was refused alone at the hub and shown at c07 (status text, JSON, log)"
echo "ok $T ($(($(date +%s) - t0)) s)"
