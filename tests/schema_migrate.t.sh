#!/bin/sh
# schema_migrate: the street office changes the schema once, on the hub, and
# every committee follows (issue 10), with real processes and bundles.
#  1. Refusals change nothing: on the hub, DROP, RENAME (table and column),
#     a type change (drop and add again), a NOT NULL column without a
#     default are refused with the reason (exit 4); the schema, the version
#     and the log are as before. On a committee `schema apply` and `track`
#     of a table the street lacks are refused, saying to ask the street
#     office (or keep the table local).
#  2. c03 is cut off and keeps writing under version 1; the hub applies a
#     migration (hazards.photo_ref, a new table volunteer_hours, an index)
#     while `serve` runs: the serving committee c07 has it within seconds
#     (the time is printed) and writes to the new column and table.
#  3. The hub sets photo_ref on c03's hazard (a commit of version 2 for a
#     committee at version 1); c03 writes more under version 1.
#  4. c03 comes back: it migrates, gains the column and table with the
#     hub's data, its rows written under the old schema all arrive (the new
#     column takes its DEFAULT everywhere), and it writes to the new column
#     and table; every replica equals the hub. status and report show the
#     versions; the report names a committee that has not received it.
#  5. c09, never synced, gets the migration and then every row from one
#     bundle, writes to the new table, and its bundle reaches the hub.
#  6. A migration creating a table c07 already has as its own (my_notes,
#     from 1): c07's status names the clash and the rename that frees it;
#     after the rename c07 migrates by itself and gets the hub's row.
set -eu
T=schema_migrate
. "$(dirname "$0")/lib.sh"
t_begin street

PORT=$(street_port)
street_init hub "$PORT" c03 c07 c09
version() { q "$1" "SELECT value FROM linli_meta WHERE key = 'schema_version'"; }
schema_of() { q "$1" "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_master ORDER BY type, name"; }

# ---- 1. refusals change nothing ----
schema_of hub >"$W/schema.before"
log_before=$(q hub "SELECT count(*) FROM linli_log")
refused() { # NAME REASON-PATTERN SQL
  printf '%s\n' "$3" >"$W/$1.sql"
  rc=0
  "$LINLI" --dir "$W/hub" schema apply "$W/$1.sql" >"$W/$1.out" 2>&1 || rc=$?
  [ $rc = 4 ] || fail "$1: schema apply exited $rc, expected 4: $(cat "$W/$1.out")"
  grep -q "$2" "$W/$1.out" || fail "$1: the reason does not say '$2': $(cat "$W/$1.out")"
  schema_of hub >"$W/schema.after"
  cmp -s "$W/schema.before" "$W/schema.after" || fail "$1 changed the schema: $(diff "$W/schema.before" "$W/schema.after")"
  [ "$(version hub)" = 1 ] || fail "$1 changed the schema version"
  [ "$(q hub "SELECT count(*) FROM linli_log")" = "$log_before" ] || fail "$1 sealed a commit"
  echo "   refused $1: $(head -n 1 "$W/$1.out")"
}
refused drop_table "not additive" "DROP TABLE hazards;"
refused rename_table "RENAME" "ALTER TABLE hazards RENAME TO hazard_list;"
refused rename_column "RENAME" "ALTER TABLE hazards RENAME COLUMN location TO place;"
refused type_change "DROP COLUMN" "ALTER TABLE hazards DROP COLUMN found_by; ALTER TABLE hazards ADD COLUMN found_by INTEGER;"
refused not_null "NOT NULL column without a DEFAULT" "ALTER TABLE hazards ADD COLUMN photo_ref TEXT NOT NULL;"
refused foreign_key "foreign key" "ALTER TABLE hazards ADD COLUMN visit_id TEXT REFERENCES care_visits(id);"
refused data_change "changes rows" "UPDATE hazards SET stage = '销号';"
# a refusal anywhere in the file refuses all of it: the valid first statement is not applied either
refused second_bad "statement 2" "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT ''; DROP INDEX hazards_scope_stage;"

printf "ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';\n" >"$W/m_c07.sql"
rc=0
"$LINLI" --dir "$W/c07" schema apply "$W/m_c07.sql" >"$W/c07_apply.out" 2>&1 || rc=$?
[ $rc = 4 ] && grep -q "ask the street office" "$W/c07_apply.out" ||
  fail "a committee's schema apply: exit $rc, $(cat "$W/c07_apply.out")"
q c07 "CREATE TABLE my_notes (id TEXT NOT NULL, scope TEXT NOT NULL, body TEXT, PRIMARY KEY (id, scope))"
rc=0
"$LINLI" --dir "$W/c07" track my_notes >"$W/c07_track.out" 2>&1 || rc=$?
[ $rc = 4 ] && grep -q "ask the street office" "$W/c07_track.out" && grep -q "keep the table local" "$W/c07_track.out" ||
  fail "a committee's track of a table the street lacks: exit $rc, $(cat "$W/c07_track.out")"
[ "$(q c07 "SELECT count(*) FROM linli_tables WHERE name = 'my_notes'")" = 0 ] || fail "my_notes was tracked"
echo "1: DROP, RENAME, a type change, NOT NULL without default, a foreign key, a data change refused on the hub, nothing changed; a committee's schema apply and track refused"

# ---- 2. a migration while c03 is cut off ----
street_run hub "$PORT" c03 c07
q c03 "INSERT INTO hazards(id, scope, category, location, found_on) VALUES ('h1', 'c03', '消防', '3号楼楼道', '2026-11-20')"
q c07 "INSERT INTO hazards(id, scope, category, location, found_on) VALUES ('h7', 'c07', '燃气', '幸福里12号', '2026-11-21')"
street_wait_converged 40 hub c03 c07 || fail "no convergence before the cut"
street_cut c03
q c03 "INSERT INTO hazards(id, scope, category, location, found_on) VALUES ('h2', 'c03', '电动自行车', '车棚', '2026-11-25')"
q c03 "UPDATE hazards SET description = '堆放杂物' WHERE id = 'h1'"
cat >"$W/m1.sql" <<'EOF'
-- 2026: a photo reference on each hazard, and volunteer hours
ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';
CREATE TABLE volunteer_hours (
  id            TEXT NOT NULL,
  scope         TEXT NOT NULL,
  volunteer_ref TEXT NOT NULL,
  served_on     TEXT NOT NULL,
  hours         REAL NOT NULL DEFAULT 0 CHECK (hours >= 0),
  PRIMARY KEY (id, scope)
);
CREATE INDEX volunteer_hours_day ON volunteer_hours(scope, served_on);
EOF
m0=$(date +%s%N)
"$LINLI" --dir "$W/hub" schema apply "$W/m1.sql" >"$W/m1.out" || fail "schema apply on the hub: $(cat "$W/m1.out")"
grep -q "street schema version 2" "$W/m1.out" || fail "schema apply says: $(cat "$W/m1.out")"
at_v2() { [ "$(version "$1")" = 2 ]; }
wait_until 20 at_v2 c07 || fail "the serving committee c07 did not get the migration within 20 s"
ms=$((($(date +%s%N) - m0) / 1000000))
q c07 "UPDATE hazards SET photo_ref = 'c07/h7.jpg' WHERE id = 'h7'"
q c07 "INSERT INTO volunteer_hours(id, scope, volunteer_ref, served_on, hours) VALUES ('v7', 'c07', 'V-12', '2026-11-28', 3.5)"
hub_got_c07() { [ "$(q hub "SELECT photo_ref FROM hazards WHERE id = 'h7' AND scope = 'c07'")" = c07/h7.jpg ] &&
  [ "$(q hub "SELECT hours FROM volunteer_hours WHERE id = 'v7'")" = 3.5 ]; }
wait_until 20 hub_got_c07 || fail "c07's writes to the new column and table did not reach the hub"
[ "$(version c03)" = 1 ] || fail "c03 migrated while cut off"
echo "2: the serving committee c07 migrated $ms ms after 'schema apply' and wrote to the new column and table"

# ---- 3. version-2 commits for c03 while it is away; c03 keeps writing ----
q hub "UPDATE hazards SET stage = '交办', photo_ref = 'street/h1.jpg' WHERE id = 'h1' AND scope = 'c03'"
q c03 "INSERT INTO hazards(id, scope, category, location, found_on) VALUES ('h3', 'c03', '九小场所', '小吃店', '2026-11-29')"
q c03 "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('cv1', 'c03', 'R-3', '2026-11-29')"
sleep 1
echo "3: the hub wrote photo_ref on c03's hazard (version 2); c03 wrote more under version 1"

# ---- 4. c03 comes back ----
street_heal c03
wait_until 30 at_v2 c03 || fail "c03 did not migrate after the heal"
street_wait_converged 40 hub c03 c07 || fail "no convergence after the heal: $(cat "$W/digest.hub")"
[ "$(q c03 "SELECT stage || ' ' || photo_ref FROM hazards WHERE id = 'h1'")" = "交办 street/h1.jpg" ] ||
  fail "c03 lacks the hub's photo_ref: $(q c03 "SELECT * FROM hazards WHERE id = 'h1'")"
for id in h2 h3; do
  [ "$(q hub "SELECT count(*) FROM hazards WHERE id = '$id' AND scope = 'c03' AND photo_ref = ''")" = 1 ] ||
    fail "c03's old-schema row $id is not at the hub with the column's default: $(q hub "SELECT * FROM hazards WHERE scope = 'c03'")"
done
[ "$(q hub "SELECT description FROM hazards WHERE id = 'h1' AND scope = 'c03'")" = "堆放杂物" ] || fail "c03's old-schema update was lost"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'cv1'")" = 1 ] || fail "c03's care visit was lost"
q c03 "UPDATE hazards SET photo_ref = 'c03/h2.jpg' WHERE id = 'h2'"
q c03 "INSERT INTO volunteer_hours(id, scope, volunteer_ref, served_on, hours) VALUES ('v3', 'c03', 'V-3', '2026-11-30', 2)"
street_wait_converged 30 hub c03 c07 || fail "no convergence after c03's new-schema writes"
[ "$(q hub "SELECT photo_ref FROM hazards WHERE id = 'h2' AND scope = 'c03'")" = c03/h2.jpg ] || fail "c03's photo_ref did not arrive"
[ "$(q hub "SELECT hours FROM volunteer_hours WHERE id = 'v3' AND scope = 'c03'")" = 2.0 ] || fail "c03's volunteer hours did not arrive"
"$LINLI" --dir "$W/c03" status >"$W/st_c03"
grep -q "street schema version 2" "$W/st_c03" || fail "c03's status: $(cat "$W/st_c03")"
"$LINLI" --dir "$W/c03" schema show | grep -q "ALTER TABLE hazards ADD COLUMN photo_ref" || fail "c03's schema show lacks the migration"
reported() { "$LINLI" --dir "$W/hub" report >"$W/report" && grep -q "not received yet by: c09 (not heard)" "$W/report" &&
  ! grep -q "c03 (v1)" "$W/report"; }
wait_until 10 reported || fail "the hub's report: $(cat "$W/report")"
"$LINLI" --dir "$W/hub" report --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
v = {c["name"]: c["sync"]["schema_version"] for c in r["committees"]}
assert r["schema_version"] == 2 and v["c03"] == 2 and v["c07"] == 2 and v["c09"] is None, (r["schema_version"], v)
' || fail "report --json schema versions"
echo "4: c03 migrated after the heal, has the hub's photo_ref, its version-1 rows arrived (with the default), it wrote to the new column and table; report shows v2 and names c09"

# ---- 5. a committee never synced: one bundle ----
"$LINLI" --dir "$W/hub" bundle export --for c09 "$W/to_c09.bundle" >/dev/null || fail "bundle export for c09"
"$LINLI" --dir "$W/c09" bundle import "$W/to_c09.bundle" >"$W/c09.out" 2>&1 || fail "c09's import: $(cat "$W/c09.out")"
[ "$(version c09)" = 2 ] || fail "c09 did not migrate from the bundle: $(cat "$W/c09.out")"
"$LINLI" --dir "$W/hub" digest --scope street >"$W/d_hub"
"$LINLI" --dir "$W/c09" digest --scope street >"$W/d_c09"
cmp -s "$W/d_hub" "$W/d_c09" || fail "c09's street rows differ from the hub's: $(cat "$W/d_hub" "$W/d_c09")"
q c09 "INSERT INTO volunteer_hours(id, scope, volunteer_ref, served_on, hours) VALUES ('v9', 'c09', 'V-9', '2026-12-01', 1.5)"
q c09 "INSERT INTO hazards(id, scope, category, location, found_on, photo_ref) VALUES ('h9', 'c09', '消防', '9号楼', '2026-12-01', 'c09/h9.jpg')"
"$LINLI" --dir "$W/c09" commit >/dev/null
"$LINLI" --dir "$W/c09" bundle export --for hub "$W/from_c09.bundle" >/dev/null || fail "c09's bundle export"
"$LINLI" --dir "$W/hub" bundle import "$W/from_c09.bundle" >"$W/hub_in.out" 2>&1 || fail "the hub's import: $(cat "$W/hub_in.out")"
[ "$(q hub "SELECT hours FROM volunteer_hours WHERE id = 'v9' AND scope = 'c09'")" = 1.5 ] &&
  [ "$(q hub "SELECT photo_ref FROM hazards WHERE id = 'h9' AND scope = 'c09'")" = c09/h9.jpg ] ||
  fail "c09's rows did not reach the hub"
echo "5: c09, never synced, migrated and got every row from one bundle; its writes to the new table reached the hub"
# ---- 6. a migration a committee cannot apply yet: named, with the way out ----
printf '%s\n' "CREATE TABLE my_notes (id TEXT NOT NULL, scope TEXT NOT NULL, title TEXT, PRIMARY KEY (id, scope));" >"$W/m2.sql"
"$LINLI" --dir "$W/hub" schema apply "$W/m2.sql" >/dev/null || fail "the second migration"
q hub "INSERT INTO my_notes(id, scope, title) VALUES ('n7', 'c07', '街道下发的笔记')"
named() { "$LINLI" --dir "$W/c07" status >"$W/st_c07" && grep -q "my_notes" "$W/st_c07" &&
  grep -q "ALTER TABLE my_notes RENAME TO my_notes_local" "$W/st_c07"; }
wait_until 30 named || fail "c07's status does not name the clash and the way out: $(cat "$W/st_c07")"
[ "$(version c07)" = 2 ] || fail "c07 migrated over its own table"
q c07 "ALTER TABLE my_notes RENAME TO my_notes_local"
at_v3() { [ "$(version c07)" = 3 ] && [ "$(q c07 "SELECT title FROM my_notes WHERE id = 'n7'")" = "街道下发的笔记" ]; }
wait_until 60 at_v3 || fail "after the rename c07 did not migrate: $("$LINLI" --dir "$W/c07" status)"
named && fail "c07's status still names the clash"
echo "6: a migration clashing with a committee's own table stopped only the street chain there, status named it with the rename; after it, c07 migrated and got the hub's row"
echo "ok $T ($(($(date +%s) - t0)) s)"
