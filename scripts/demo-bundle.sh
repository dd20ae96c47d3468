#!/bin/sh
# The offline walk-through: a hub and two committees exchange bundle files
# (as stations without a network do with a USB stick). Edits on both sides,
# a conflicting edit, a tampered bundle refused, then the converged state.
set -eu
LINLI=${1:-build/linli}
case $LINLI in /*) ;; *) LINLI="$(pwd)/$LINLI" ;; esac
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-demo.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
say() { printf '\n== %s\n' "$*"; }
q() { sqlite3 -bail "$1/replica.db" "$2"; }

say "street hub and committees c07, c08"
"$LINLI" --dir hub init --role hub --name street >/dev/null
HK=$("$LINLI" --dir hub id)
for c in c07 c08; do
  "$LINLI" --dir $c init --role committee --name $c --scope $c --hub-key "$HK" >/dev/null
  "$LINLI" --dir hub roster add $c "$("$LINLI" --dir $c id)" --scope $c
done
"$LINLI" --dir hub roster list

say "committees write with the plain sqlite3 shell (captured by triggers)"
q c07 "INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome) VALUES
  ('c07-v1','c07','R-0012','2025-03-03','探访','居家安全，无异常'),
  ('c07-v2','c07','R-0031','2025-03-04','助餐','午餐送达');
INSERT INTO hazards(id,scope,category,location,found_on,deadline) VALUES
  ('c07-h1','c07','电动自行车','5号楼楼道','2025-03-05','2025-03-20');
UPDATE care_visits SET follow_up=1 WHERE id='c07-v2';
DELETE FROM care_visits WHERE id='c07-v1';"
q c08 "INSERT INTO hotline_cases(id,scope,case_no,category,received_on,due_on) VALUES
  ('c08-k1','c08','12345-2025-0301','噪声扰民','2025-03-01','2025-03-08');"
q c08 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('x','c07','R-9','2025-03-01')" 2>&1 | sed 's/^/  refused as expected: /' || true
"$LINLI" --dir c07 commit
"$LINLI" --dir c08 commit

say "USB sticks to the hub"
"$LINLI" --dir c07 bundle export c07.bundle
"$LINLI" --dir c08 bundle export c08.bundle
"$LINLI" --dir hub bundle import c07.bundle
"$LINLI" --dir hub bundle import c08.bundle
"$LINLI" --dir hub bundle import c07.bundle

say "a bundle altered in transit is refused and changes nothing"
cp c07.bundle bad.bundle
printf 'X' | dd of=bad.bundle bs=1 seek=200 conv=notrunc 2>/dev/null
"$LINLI" --dir hub bundle import bad.bundle || echo "  (exit $?)"

say "the street assigns the hazard (交办) while c07 edits it too"
"$LINLI" --dir hub bundle export --for c07 hub-c07.bundle
"$LINLI" --dir c07 bundle import hub-c07.bundle
q hub "UPDATE hazards SET stage='交办', assigned_to='物业公司' WHERE id='c07-h1'"
q c07 "UPDATE hazards SET stage='整改', description='充电线私拉' WHERE id='c07-h1'"
"$LINLI" --dir hub commit
"$LINLI" --dir c07 commit
"$LINLI" --dir hub bundle export --for c07 hub-c07.bundle
"$LINLI" --dir c07 bundle export c07.bundle
"$LINLI" --dir c07 bundle import hub-c07.bundle
"$LINLI" --dir hub bundle import c07.bundle

say "both sides agree, and the losing value is kept for review"
q hub "SELECT id, stage, assigned_to, description FROM hazards"
q c07 "SELECT id, stage, assigned_to, description FROM hazards"
"$LINLI" --dir c07 conflicts

say "audit and verification"
"$LINLI" --dir hub log --table hazards
"$LINLI" --dir hub verify

say "convergence check (scope c07 content on hub and c07)"
h1=$(q hub "SELECT group_concat(quote(id)||quote(stage)||quote(assigned_to)||quote(description), ';') FROM (SELECT * FROM hazards WHERE scope='c07' ORDER BY id)")
h2=$(q c07 "SELECT group_concat(quote(id)||quote(stage)||quote(assigned_to)||quote(description), ';') FROM (SELECT * FROM hazards WHERE scope='c07' ORDER BY id)")
if [ "$h1" = "$h2" ]; then echo "converged: hub and c07 hold the same c07 rows"; else echo "NOT converged"; exit 1; fi
