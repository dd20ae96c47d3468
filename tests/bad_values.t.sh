#!/bin/sh
# bad_values: a value SQLite accepts but another replica would refuse or
# store differently is refused where it is written, in the staff member's
# own sqlite3 session, with a message naming table and column; nothing of
# it is captured; the node goes on (findings 3, 4 and 11 of issue 9).
#  - '约30' in an INTEGER column (which its CHECK lets through), a BLOB in a
#    TEXT column, text with a NUL byte, a value over LI_VALUE_BYTES_MAX, a
#    row over LI_ROW_BYTES_MAX, and an UPDATE of a good row to a bad value;
#  - control: good rows of the same table are captured, sealed, carried in
#    a bundle to the hub and imported; both sides' digests of c07 are equal.
set -eu
T=bad_values
. "$(dirname "$0")/lib.sh"
t_begin

"$LINLI" --dir "$W/hub" init --role hub --name street >/dev/null
hk=$("$LINLI" --dir "$W/hub" id)
"$LINLI" --dir "$W/c07" init --role committee --name c07 --scope c07 --hub-key "$hk" >/dev/null
"$LINLI" --dir "$W/hub" roster add c07 "$("$LINLI" --dir "$W/c07" id)" --scope c07 >/dev/null
"$LINLI" --dir "$W/hub" bundle export --for c07 "$W/roster.bundle" >/dev/null
"$LINLI" --dir "$W/c07" bundle import "$W/roster.bundle" >/dev/null
q c07 "INSERT INTO meal_points(id, scope, place, capacity, hours) VALUES ('good', 'c07', '社区食堂', 30, '11:00-13:00')"
"$LINLI" --dir "$W/c07" commit >/dev/null
dirty0=$(q c07 "SELECT count(*) FROM linli_dirty")

# refused: "statement~what the message names"
n=0
while IFS='~' read -r sql want; do
  n=$((n + 1))
  if out=$(sqlite3 -bail "$W/c07/replica.db" "$sql" 2>&1); then fail "case $n was accepted: $sql"; fi
  echo "$out" | grep -q "linli: meal_points[.:] *$want" || fail "case $n: the message does not name meal_points, $want: $out"
done <<'CASES'
INSERT INTO meal_points(id, scope, place, capacity) VALUES ('b1', 'c07', '食堂', '约30')~capacity: an INTEGER column takes a number
INSERT INTO meal_points(id, scope, place, hours) VALUES ('b2', 'c07', '食堂', x'0102')~hours: a TEXT column takes text or NULL, not a blob
INSERT INTO meal_points(id, scope, place, hours) VALUES ('b3', 'c07', '食堂', 'a' || char(0) || 'b')~hours: text with a NUL byte
INSERT INTO meal_points(id, scope, place, hours) VALUES ('b4', 'c07', '食堂', printf('%.*c', 1100000, 'x'))~hours: a value over
INSERT INTO meal_points(id, scope, place, hours) VALUES ('b5', 'c07', printf('%.*c', 800000, 'x'), printf('%.*c', 800000, 'y'))~a row over
UPDATE meal_points SET capacity = '约40' WHERE id = 'good'~capacity: an INTEGER column takes a number
CASES
[ "$(q c07 "SELECT count(*) FROM meal_points WHERE id LIKE 'b%'")" = 0 ] || fail "a refused row is in the table"
[ "$(q c07 "SELECT capacity FROM meal_points WHERE id = 'good'")" = 30 ] || fail "the refused UPDATE changed the row"
[ "$(q c07 "SELECT count(*) FROM linli_dirty")" = "$dirty0" ] || fail "a refused write left a change marker"
echo "$n bad writes refused at the source, each naming table and column; nothing captured"

# control: the node goes on, and the hub takes everything
q c07 "INSERT INTO meal_points(id, scope, place, capacity) VALUES ('good2', 'c07', '老年食堂', 12)"
"$LINLI" --dir "$W/c07" commit >/dev/null || fail "commit after the refusals failed"
"$LINLI" --dir "$W/c07" bundle export --for hub "$W/c07.bundle" >/dev/null
"$LINLI" --dir "$W/hub" bundle import "$W/c07.bundle" >"$W/import.out" || fail "the hub refused: $(cat "$W/import.out")"
[ "$(q hub "SELECT count(*) FROM linli_refused")" = 0 ] || fail "the hub refused a row"
a=$("$LINLI" --dir "$W/c07" digest --scope c07)
b=$("$LINLI" --dir "$W/hub" digest --scope c07)
[ "$a" = "$b" ] || fail "digests differ: c07 $a, hub $b"
echo "control: good rows sealed, carried and imported; digests equal ($a)"
echo "ok $T ($(($(date +%s) - t0)) s)"
