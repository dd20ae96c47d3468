#!/bin/sh
# schema_drift: an ALTER TABLE by hand on a tracked table never loses a
# change silently (finding 8 of issue 9).
#  1. Control: an update of meal_points is sealed as usual.
#  2. ALTER TABLE meal_points ADD COLUMN note, then an update of note only
#     and one of hours: `commit` seals nothing of meal_points, exits 4 and
#     names the table, the added column and the way back; the change
#     markers stay; a change to another table (notices) is sealed all the
#     same. `status` (text and JSON) shows the table and the kept changes.
#  3. The same under `linli serve`, which read the catalogue before the
#     ALTER: its log says what is kept; nothing of meal_points reaches the
#     hub.
#  4. The way back (DROP COLUMN note): the kept changes are sealed and
#     reach the hub; status no longer names the table.
set -eu
T=schema_drift
. "$(dirname "$0")/lib.sh"
t_begin street

PORT=$(street_port)
street_init hub "$PORT" c07

# ---- 1. control ----
q c07 "INSERT INTO meal_points(id, scope, place, hours) VALUES ('m1', 'c07', '社区食堂', '11:00-13:00')"
"$LINLI" --dir "$W/c07" commit >"$W/out1" || fail "commit exited $?"
grep -q "sealed 1 row change" "$W/out1" || fail "the control commit: $(cat "$W/out1")"
[ "$(q c07 "SELECT count(*) FROM linli_dirty")" = 0 ] || fail "the control left markers"
echo "1: control: the update was sealed"

# ---- 2. ALTER TABLE by hand ----
q c07 "ALTER TABLE meal_points ADD COLUMN note TEXT"
q c07 "UPDATE meal_points SET note = '周三休息' WHERE id = 'm1'"
q c07 "UPDATE meal_points SET hours = '11:00-12:30' WHERE id = 'm1'"
q c07 "INSERT INTO notices(id, scope, title) VALUES ('n1', 'c07', '午餐时间调整')"
rc=0
"$LINLI" --dir "$W/c07" commit >"$W/out2" 2>"$W/err2" || rc=$?
[ $rc = 4 ] || fail "commit after ALTER TABLE exited $rc, expected 4: $(cat "$W/out2" "$W/err2")"
grep -q "meal_points" "$W/err2" && grep -q "added: note" "$W/err2" && grep -q "ALTER TABLE back" "$W/err2" ||
  fail "commit does not name the table, the column and the way back: $(cat "$W/err2")"
grep -q "sealed 1 row change" "$W/out2" || fail "the notice was not sealed: $(cat "$W/out2")"
[ "$(q c07 "SELECT count(*) FROM linli_dirty d JOIN linli_tables t ON t.id = d.tbl WHERE t.name = 'meal_points'")" -ge 1 ] ||
  fail "the meal_points markers were not kept"
[ "$(q c07 "SELECT count(*) FROM linli_dirty d JOIN linli_tables t ON t.id = d.tbl WHERE t.name = 'notices'")" = 0 ] ||
  fail "the notice's marker was kept"
"$LINLI" --dir "$W/c07" status >"$W/st2"
grep -q "SCHEMA .*kept unsealed: table 'meal_points'" "$W/st2" || fail "status does not show the change: $(cat "$W/st2")"
"$LINLI" --dir "$W/c07" status --json | grep -q '"schema_changed":\[{"table":"meal_points"' ||
  fail "status --json does not show the change"
echo "2: commit kept meal_points' changes (exit 4, named), sealed the notice; status shows it"

# ---- 3. under serve ----
street_run hub "$PORT" c07
hubhas() { [ "$(q hub "SELECT count(*) FROM notices WHERE id = '$1'")" = 1 ]; }
wait_until 30 hubhas n1 || fail "the hub never got the notice"
q c07 "UPDATE meal_points SET capacity = 40 WHERE id = 'm1'"
wait_until 20 grep -q "kept unsealed: table 'meal_points'" "$W/c07.log" || fail "serve's log does not say what is kept"
[ "$(q hub "SELECT hours FROM meal_points WHERE id = 'm1'")" = "11:00-13:00" ] || fail "a change of meal_points was sealed"
echo "3: serve kept them too and said so"

# ---- 4. the way back ----
q c07 "ALTER TABLE meal_points DROP COLUMN note"
hubm1() { [ "$(q hub "SELECT hours || '/' || capacity FROM meal_points WHERE id = 'm1'")" = "11:00-12:30/40" ]; }
wait_until 30 hubm1 || fail "after DROP COLUMN the kept changes did not reach the hub: $(q hub "SELECT * FROM meal_points")"
"$LINLI" --dir "$W/c07" status >"$W/st4"
grep -q "SCHEMA" "$W/st4" && fail "status still names a changed table: $(cat "$W/st4")"
echo "4: after the way back the kept changes reached the hub"
echo "ok $T ($(($(date +%s) - t0)) s)"
