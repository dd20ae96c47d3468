#!/bin/sh
# bundle_chains: nothing a bundle brings blocks more than it must (finding 2
# of issue 9).
#  1. The hub tracks a table of its own (a street schema migration, issue
#     10) and writes a row of it in the committee's scope, next to two meal
#     points, one of which a rule of the committee's own (a local trigger)
#     refuses; it also writes a street notice. The committee imports the
#     hub's bundle: it migrates and gets the new table's row; the meal
#     point its rule refuses is refused alone (linli_refused, constraint,
#     said on stdout) and everything else, the same commit's other rows
#     too, is applied; exit 0.
#  2. A chain that does stop: the committee lost the meal point m1 with
#     capture off, and the hub's next commit of scope c07 updates it (the
#     replica is found inconsistent, `tampered`). The import stops that
#     chain there, named on stderr with its seq, and exits 4; the street
#     chain (a second notice) is applied, the stopped commit's new meal
#     point is not. A damaged copy of the same file still changes nothing
#     and exits 4 too; importing the file again applies nothing new and
#     names the same chain.
set -eu
T=bundle_chains
. "$(dirname "$0")/lib.sh"
t_begin
L() { d=$1; shift; "$LINLI" --dir "$W/$d" "$@"; }

"$LINLI" --dir "$W/hub" init --role hub --name street >/dev/null
hk=$("$LINLI" --dir "$W/hub" id)
"$LINLI" --dir "$W/c07" init --role committee --name c07 --scope c07 --hub-key "$hk" >/dev/null
"$LINLI" --dir "$W/hub" roster add c07 "$("$LINLI" --dir "$W/c07" id)" --scope c07 >/dev/null
q hub "INSERT INTO meal_points(id, scope, place) VALUES ('m1', 'c07', '社区食堂')"
"$LINLI" --dir "$W/hub" commit >/dev/null
q hub "CREATE TABLE hub_only(id TEXT, scope TEXT NOT NULL, note TEXT, PRIMARY KEY (id, scope))"
"$LINLI" --dir "$W/hub" track hub_only >/dev/null
q c07 "CREATE TRIGGER c07_rule BEFORE INSERT ON meal_points WHEN NEW.place LIKE '%停用%'
  BEGIN SELECT RAISE(ABORT, 'c07: a closed point is not registered'); END"
q hub "INSERT INTO meal_points(id, scope, place) VALUES ('m2', 'c07', '老年食堂');
INSERT INTO meal_points(id, scope, place) VALUES ('m9', 'c07', '旧食堂(停用)');
INSERT INTO hub_only(id, scope, note) VALUES ('x1', 'c07', 'the street tracks this now');
INSERT INTO notices(id, scope, title) VALUES ('n1', 'street', '防汛通知');"
"$LINLI" --dir "$W/hub" bundle export --for c07 "$W/hub-c07.bundle" >/dev/null

# ---- 1. a row of a table the committee lacks: refused alone ----
"$LINLI" --dir "$W/c07" bundle import "$W/hub-c07.bundle" >"$W/out" 2>"$W/err" ||
  fail "import exited $?: $(cat "$W/err")"
cat "$W/out"
grep -q "1 row change(s) refused alone" "$W/out" || fail "stdout does not say a row change was refused"
[ "$(q c07 "SELECT count(*) FROM linli_refused WHERE tbl = 'meal_points' AND reason = 'constraint'")" = 1 ] ||
  fail "the refused meal point is not in linli_refused: $(q c07 "SELECT tbl, reason, message FROM linli_refused")"
[ "$(q c07 "SELECT note FROM hub_only WHERE id = 'x1'")" = "the street tracks this now" ] ||
  fail "the migrated table's row was not applied"
[ "$(q c07 "SELECT count(*) FROM notices WHERE id = 'n1'")" = 1 ] || fail "the street chain (notice n1) was not applied"
[ "$(q c07 "SELECT count(*) FROM roster WHERE name = 'c07'")" = 1 ] || fail "the roster was not applied"
[ "$(q c07 "SELECT count(*) FROM meal_points WHERE id IN ('m1', 'm2')")" = 2 ] || fail "the meal points were not applied"
[ "$(q c07 "SELECT count(*) FROM linli_rejects")" = 0 ] || fail "a commit was refused"
echo "1: the committee migrated and got the new table's row; the row its own rule refuses was refused alone, everything else applied"

# ---- 2. a chain that stops ----
q c07 "INSERT INTO linli_applying VALUES(1); DELETE FROM meal_points WHERE id = 'm1'; DELETE FROM linli_applying"
q hub "UPDATE meal_points SET place = '新食堂' WHERE id = 'm1';
INSERT INTO meal_points(id, scope, place) VALUES ('m3', 'c07', '助餐点');
INSERT INTO notices(id, scope, title) VALUES ('n2', 'street', '第二个通知');"
"$LINLI" --dir "$W/hub" bundle export --for c07 "$W/hub-c07b.bundle" >/dev/null
rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/hub-c07b.bundle" >"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/err2"
[ $rc = 4 ] || fail "import exited $rc, expected 4 (a chain was stopped)"
grep -q "1 chain(s) stopped" "$W/err2" || fail "stderr does not say how many chains stopped"
grep -q "commit c07#3 by .* tampered: .*meal_points" "$W/err2" || fail "stderr does not name the stopped chain c07#3 and why"
[ "$(q c07 "SELECT count(*) FROM notices WHERE id = 'n2'")" = 1 ] || fail "the street chain (notice n2) was not applied"
[ "$(q c07 "SELECT count(*) FROM meal_points WHERE id = 'm3'")" = 0 ] || fail "the stopped commit's meal point m3 was kept"
[ "$(q c07 "SELECT n FROM linli_rejects WHERE reason = 'tampered'")" = 1 ] || fail "the stop was not counted"

# a damaged copy: refused whole, nothing changes, exit 4
before=$(L c07 digest)
cp "$W/hub-c07b.bundle" "$W/bad.bundle"
size=$(wc -c <"$W/bad.bundle")
printf 'X' | dd of="$W/bad.bundle" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/bad.bundle" >/dev/null 2>"$W/err3" || rc=$?
[ $rc = 4 ] || fail "a damaged bundle exited $rc, expected 4"
grep -q "nothing was applied" "$W/err3" || fail "a damaged bundle does not say that nothing was applied"
[ "$(L c07 digest)" = "$before" ] || fail "a damaged bundle changed the replica"

# again: nothing new, the same chain named
rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/hub-c07b.bundle" >"$W/out4" 2>"$W/err4" || rc=$?
[ $rc = 4 ] || fail "the second import exited $rc, expected 4"
grep -q "0 commit(s) applied" "$W/out4" || fail "the second import applied something: $(cat "$W/out4")"
grep -q "commit c07#3 by" "$W/err4" || fail "the second import does not name the stopped chain"
echo "2: the stopped chain was named, exit 4, the street chain applied"
echo "ok $T ($(($(date +%s) - t0)) s)"
