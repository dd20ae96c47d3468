#!/bin/sh
# bundle_chains: one refused chain in a bundle no longer blocks the others
# (finding 2 of issue 9). The hub tracks a table the committee lacks and
# writes a row of it, in the committee's scope, next to a meal point; it
# also writes a street notice. The committee imports the hub's bundle: the
# hub's chain of the committee's scope stops at that commit (schema), named
# on stderr with its seq, and the command exits 4; the roster and the notice
# (the street chain) and the hub's earlier meal point are applied, the meal
# point of the refused commit is not. A damaged copy of the same file still
# changes nothing and exits 4 too; importing the file again applies nothing
# new and names the same chain.
set -eu
: "${LINLI:?}"
T=bundle_chains
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-$T.XXXXXX")
. "$(dirname "$0")/lib.sh"
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
t0=$(date +%s)
L() { d=$1; shift; "$LINLI" --dir "$W/$d" "$@"; }

"$LINLI" --dir "$W/hub" init --role hub --name street >/dev/null
hk=$("$LINLI" --dir "$W/hub" id)
"$LINLI" --dir "$W/c07" init --role committee --name c07 --scope c07 --hub-key "$hk" >/dev/null
"$LINLI" --dir "$W/hub" roster add c07 "$("$LINLI" --dir "$W/c07" id)" --scope c07 >/dev/null
q hub "INSERT INTO meal_points(id, scope, place) VALUES ('m1', 'c07', '社区食堂')"
"$LINLI" --dir "$W/hub" commit >/dev/null
q hub "CREATE TABLE hub_only(id TEXT PRIMARY KEY, scope TEXT NOT NULL, note TEXT)"
"$LINLI" --dir "$W/hub" track hub_only >/dev/null
q hub "INSERT INTO meal_points(id, scope, place) VALUES ('m2', 'c07', '老年食堂');
INSERT INTO hub_only(id, scope, note) VALUES ('x1', 'c07', 'only the hub tracks this');
INSERT INTO notices(id, scope, title) VALUES ('n1', 'street', '防汛通知');"
"$LINLI" --dir "$W/hub" bundle export --for c07 "$W/hub-c07.bundle" >/dev/null

rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/hub-c07.bundle" >"$W/out" 2>"$W/err" || rc=$?
cat "$W/err"
[ $rc = 4 ] || fail "import exited $rc, expected 4 (a chain was refused)"
grep -q "1 chain(s) stopped" "$W/err" || fail "stderr does not say how many chains stopped"
grep -q "commit c07#2 by .* schema: .*hub_only" "$W/err" || fail "stderr does not name the refused chain c07#2 and why"
[ "$(q c07 "SELECT count(*) FROM notices WHERE id = 'n1'")" = 1 ] || fail "the street chain (notice n1) was not applied"
[ "$(q c07 "SELECT count(*) FROM roster WHERE name = 'c07'")" = 1 ] || fail "the roster was not applied"
[ "$(q c07 "SELECT count(*) FROM meal_points WHERE id = 'm1'")" = 1 ] || fail "the hub's c07#1 (m1) was not applied"
[ "$(q c07 "SELECT count(*) FROM meal_points WHERE id = 'm2'")" = 0 ] || fail "the refused commit's meal point m2 was kept"
[ "$(q c07 "SELECT n FROM linli_rejects WHERE reason = 'schema'")" = 1 ] || fail "the refusal was not counted"

# a damaged copy: refused whole, nothing changes, exit 4
before=$(L c07 digest)
cp "$W/hub-c07.bundle" "$W/bad.bundle"
size=$(wc -c <"$W/bad.bundle")
printf 'X' | dd of="$W/bad.bundle" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/bad.bundle" >/dev/null 2>"$W/err2" || rc=$?
[ $rc = 4 ] || fail "a damaged bundle exited $rc, expected 4"
grep -q "nothing was applied" "$W/err2" || fail "a damaged bundle does not say that nothing was applied"
[ "$(L c07 digest)" = "$before" ] || fail "a damaged bundle changed the replica"

# again: nothing new, the same chain named
rc=0
"$LINLI" --dir "$W/c07" bundle import "$W/hub-c07.bundle" >"$W/out3" 2>"$W/err3" || rc=$?
[ $rc = 4 ] || fail "the second import exited $rc, expected 4"
grep -q "0 commit(s) applied" "$W/out3" || fail "the second import applied something: $(cat "$W/out3")"
grep -q "commit c07#2 by" "$W/err3" || fail "the second import does not name the stopped chain"
echo "ok $T ($(($(date +%s) - t0)) s)"
