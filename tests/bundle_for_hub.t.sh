#!/bin/sh
# bundle_for_hub: `bundle export --for <hub>` on a committee carries the
# committee's own commits to the hub (finding 1 of issue 9: it carried only
# street commits, and the hub imported "0 commit(s)" and exited 0).
#  1. A fresh committee, before it holds any roster, exports for the hub as
#     README says (--for hub), and by the hub's key; the hub imports each and
#     holds the committee's rows.
#  2. After it imported the hub's bundle (the roster: the hub is named
#     'street' there), it exports --for street; the hub imports the new
#     rows. --for an unknown name fails and says what to type.
#  3. --for a committee carries that committee's scope and the street's,
#     nothing of another committee.
set -eu
T=bundle_for_hub
. "$(dirname "$0")/lib.sh"
t_begin
L() { d=$1; shift; "$LINLI" --dir "$W/$d" "$@"; }

L hub init --role hub --name street >/dev/null
hk=$(L hub id)
for c in c07 c08; do
  L $c init --role committee --name $c --scope $c --hub-key "$hk" >/dev/null
  L hub roster add $c "$(L $c id)" --scope $c >/dev/null
done
visit() { q "$1" "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('$2', '$3', 'R-1', '2025-03-01')"; }
has() { [ "$(q "$1" "SELECT count(*) FROM care_visits WHERE id = '$2'")" = 1 ]; }

# 1. no roster on c07 yet
[ "$(q c07 "SELECT count(*) FROM roster")" = 0 ] || fail "c07 already holds a roster (test setup)"
visit c07 v1 c07
L c07 bundle export --for hub "$W/c07-1.bundle" || fail "export --for hub without a roster failed"
L hub bundle import "$W/c07-1.bundle" >"$W/out1" || fail "the hub refused c07's bundle"
cat "$W/out1"
grep -q "1 commit(s) applied" "$W/out1" || fail "the hub applied no commit of c07's"
has hub v1 || fail "the hub lacks c07's row v1 after the import"
visit c07 v2 c07
L c07 bundle export --for "$hk" "$W/c07-2.bundle" || fail "export --for <hub key> failed"
L hub bundle import "$W/c07-2.bundle" >/dev/null || fail "the hub refused c07's second bundle"
has hub v2 || fail "the hub lacks c07's row v2 after the import"

# 2. with the roster: the hub by its roster name
L hub bundle export --for c07 "$W/hub-c07.bundle" >/dev/null
L c07 bundle import "$W/hub-c07.bundle" >/dev/null || fail "c07 refused the hub's bundle"
[ "$(q c07 "SELECT role FROM roster WHERE name = 'street'")" = hub ] || fail "c07 does not hold the hub's roster row"
visit c07 v3 c07
L c07 bundle export --for street "$W/c07-3.bundle" >"$W/out3" || fail "export --for street failed"
L hub bundle import "$W/c07-3.bundle" >"$W/out4" || fail "the hub refused c07's third bundle"
grep -q "1 commit(s) applied" "$W/out4" || fail "the hub applied $(cat "$W/out4"), expected c07's new commit"
has hub v3 || fail "the hub lacks c07's row v3 after --for street"
rc=0
L c07 bundle export --for nobody "$W/x.bundle" 2>"$W/err" || rc=$?
[ $rc = 4 ] || fail "--for an unknown name exited $rc, expected 4"
grep -q "'hub'" "$W/err" || fail "--for an unknown name does not say what to type: $(cat "$W/err")"
[ ! -e "$W/x.bundle" ] || fail "--for an unknown name wrote a file"

# 3. the hub's export for c08 carries c08's scope and the street's only
visit c08 w1 c08
L c08 bundle export --for hub "$W/c08.bundle" >/dev/null
L hub bundle import "$W/c08.bundle" >/dev/null
q hub "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('h8', 'c08', 'R-9', '2025-03-02')"
L hub bundle export --for c08 "$W/hub-c08.bundle" >/dev/null
L c08 bundle import "$W/hub-c08.bundle" >/dev/null || fail "c08 refused the hub's bundle"
has c08 h8 || fail "c08 lacks the hub's row of its scope"
[ "$(q c08 "SELECT count(*) FROM care_visits WHERE scope = 'c07'")" = 0 ] || fail "c08 received rows of c07"
[ "$(q c08 "SELECT count(*) FROM linli_log WHERE scope = 'c07'")" = 0 ] || fail "the hub's bundle for c08 carried c07's commits"
echo "ok $T ($(($(date +%s) - t0)) s)"
