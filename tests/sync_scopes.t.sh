#!/bin/sh
# sync_scopes: committee c01 never receives a row of committee c02's scope.
# c02 writes in every tracked table (before and while c01 is connected, so
# both the first exchange and the hub's live fan-out are exercised) and the
# hub writes in c02's scope too. After convergence c01's replica holds no
# row of scope c02 in any tracked table and no commit, chain, clock or
# evidence entry of scope c02; it rejected nothing (so nothing out of scope
# was even offered), and the hub's count of commits sent to c01 equals what
# c01 received, which equals the hub's commits of scopes c01 and street that
# c01 did not write.
set -eu
T=sync_scopes
. "$(dirname "$0")/lib.sh"
t_begin street

keyhex() { # the node's public key as the hex of linli_log.origin
  python3 -c 'import base64, sys; k = sys.argv[1]; print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex().upper())' \
    "$("$LINLI" --dir "$W/$1" id)"
}
# one row of scope $2 in every table of the street schema, ids prefixed $3
rows_in() {
  q "$1" "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('$3-v','$2','R-1','2025-03-01');
INSERT INTO meal_points(id,scope,place) VALUES ('$3-m','$2','食堂');
INSERT INTO hazards(id,scope,category,location,found_on) VALUES ('$3-h','$2','燃气','1号楼','2025-03-02');
INSERT INTO hotline_cases(id,scope,case_no,received_on) VALUES ('$3-k','$2','12345-1','2025-03-03');
INSERT INTO disputes(id,scope,parties_ref,opened_on) VALUES ('$3-d','$2','P-1','2025-03-04');
INSERT INTO enterprise_visits(id,scope,enterprise,visited_on) VALUES ('$3-e','$2','某公司','2025-03-05');
INSERT INTO notice_acks(notice_id,scope,acked_on) VALUES ('n-$3','$2','2025-03-06');"
}

PORT=$(street_port)
street_init hub "$PORT" c01 c02 c03
TABLES=$(q c01 "SELECT name FROM linli_tables ORDER BY name")
[ -n "$TABLES" ] || fail "no tracked tables in c01"
rows_in c02 c02 c02a # before anyone runs: sent in the first exchange
street_run hub "$PORT" c01 c02 c03
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','通知');"
rows_in hub c02 hub2 # the hub writes in c02's scope
rows_in hub c01 hub1 # ... and in c01's
rows_in c01 c01 c01a
rows_in c03 c03 c03a
street_wait_converged 30 hub c01 c02 c03 || fail "the street did not converge within 30 s"
rows_in c02 c02 c02b # while c01 is connected: the hub's live fan-out
q c02 "UPDATE hazards SET stage='整改' WHERE id='c02a-h'; DELETE FROM disputes WHERE id='c02a-d';"
street_wait_converged 30 hub c01 c02 c03 || fail "the street did not converge again within 30 s"
[ "$(q hub "SELECT count(*) FROM hazards WHERE scope='c02'")" = 3 ] || fail "the hub lacks c02's hazards (test setup)"
[ "$(q c02 "SELECT count(*) FROM hazards WHERE id='hub2-h'")" = 1 ] || fail "c02 lacks the hub's row in its scope"
[ "$(q c01 "SELECT count(*) FROM hazards WHERE id='hub1-h'")" = 1 ] || fail "c01 lacks the hub's row in its scope"

# c01 holds nothing of c02 (nor of c03), table by table
for cc in c01 c03; do
  other=c02
  for tb in $TABLES; do
    n=$(q "$cc" "SELECT count(*) FROM \"$tb\" WHERE scope = '$other'")
    [ "$n" = 0 ] || fail "$cc holds $n row(s) of $other's scope in $tb"
    n=$(q "$cc" "SELECT count(*) FROM \"$tb\" WHERE scope NOT IN ('$cc', 'street')")
    [ "$n" = 0 ] || fail "$cc holds $n row(s) of a scope it does not read in $tb"
  done
  for it in linli_log linli_vv linli_clock linli_evidence linli_dirty; do
    n=$(q "$cc" "SELECT count(*) FROM $it WHERE scope NOT IN ('$cc', 'street')")
    [ "$n" = 0 ] || fail "$cc's $it holds $n entr(ies) of another committee's scope"
  done
  n=$(q "$cc" "SELECT count(*) FROM linli_conflicts WHERE pk LIKE '%c02%'")
  [ "$n" = 0 ] || fail "$cc's linli_conflicts mentions c02's rows"
  "$LINLI" --dir "$W/$cc" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
bad = [c for c in s["chains"] if c["scope"] not in (sys.argv[1], "street")]
assert not bad, "chains of other scopes: %r" % bad
assert not s["rejected"], "rejected inputs: %r" % s["rejected"]
p = [p for p in s["peers"] if p["name"] == "hub"][0]
assert p["rejected_in"] == 0 and p["rejected_out"] == 0, "rejections with the hub: %r" % p
' "$cc" || fail "$cc's status shows other scopes or rejections"
done

# what c01 was sent: the hub counts commits it sent c01 (applied there); c01
# received exactly those, and they are exactly the hub's commits of c01's
# scope and 'street' that c01 did not write
K1=$(keyhex c01)
got=$(q c01 "SELECT count(*) FROM linli_log WHERE hex(origin) <> '$K1'")
want=$(q hub "SELECT count(*) FROM linli_log WHERE scope IN ('c01','street') AND hex(origin) <> '$K1'")
[ "$got" = "$want" ] || fail "c01 received $got commit(s), the hub holds $want of c01's scopes"
same=$(q hub "SELECT group_concat(hex(hash)) FROM (SELECT hash FROM linli_log WHERE scope IN ('c01','street')
  AND hex(origin) <> '$K1' ORDER BY hash)")
mine=$(q c01 "SELECT group_concat(hex(hash)) FROM (SELECT hash FROM linli_log WHERE hex(origin) <> '$K1' ORDER BY hash)")
[ "$same" = "$mine" ] || fail "the commits c01 received are not the hub's commits of its scopes"
sent_ok() {
  sent=$(q hub "SELECT commits_sent FROM linli_peers WHERE name = 'c01'")
  [ "$sent" = "$want" ]
}
wait_until 5 sent_ok || fail "the hub says it sent c01 $sent commit(s), c01 holds $want from the hub"
echo "c01: $got commit(s) received, all of scopes c01/street; none of c02's $(q hub "SELECT count(*) FROM linli_log WHERE scope='c02'")"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
