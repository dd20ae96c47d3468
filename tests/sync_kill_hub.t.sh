#!/bin/sh
# sync_kill_hub: kill -9 of the hub in the middle of a large sync loses
# nothing and applies nothing twice. c01 writes 30,000 care_visits rows in
# one sqlite3 transaction (sealed into several commits, sent one commit per
# batch); once the hub's log holds some but not all of them, the hub is
# killed with SIGKILL and started again. The street converges by itself and
# then: the hub holds all 30,000 rows, `linli verify` and PRAGMA
# integrity_check pass on both sides, no (origin, scope, seq) is stored twice,
# and the hub holds exactly c01's chain (as many commits as c01's own seq).
set -eu
T=sync_kill_hub
. "$(dirname "$0")/lib.sh"
t_begin street
ROWS=30000

keyhex() { # the node's public key as the hex of linli_log.origin
  python3 -c 'import base64, sys; k = sys.argv[1]; print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex().upper())' \
    "$("$LINLI" --dir "$W/$1" id)"
}

PORT=$(street_port)
street_init hub "$PORT" c01 c02
# one commit per batch: the hub applies (and acknowledges) them one by one
sed -i 's/^batch_rows_max = .*/batch_rows_max = 1/' "$W/c01/linli.conf"
street_run hub "$PORT" c01 c02
q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','通知');"
street_wait_converged 30 hub c01 c02 || fail "the street did not converge at first"
K1=$(keyhex c01)

q c01 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome)
  SELECT printf('big-%05d', i), 'c01', printf('R-%05d', i % 997), '2025-05-01', '探访', '居家安全，无异常' FROM n;"

# wait until c01 has sealed and the hub holds some but not all of the commits
total=0 held=0 end=$(($(date +%s) + 60))
while :; do
  [ "$(date +%s)" -lt "$end" ] || fail "c01 never sealed its $ROWS rows / the hub never started receiving (hub holds $held)"
  total=$(q c01 "SELECT coalesce(max(seq), 0) FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")
  held=$(q hub "SELECT count(*) FROM linli_log WHERE hex(origin) = '$K1' AND scope = 'c01'")
  if [ "$total" -gt 1 ] && [ "$held" -ge 1 ]; then
    [ "$held" -lt "$total" ] || fail "missed the window: the hub held all $total commits before it could be killed"
    break
  fi
  sleep 0.02
done
kill -KILL "$(street_pid hub)"
echo "killed the hub (SIGKILL) holding $held of c01's $total commits"
sleep 0.5
street_start_bg hub "$LINLI" --dir "$W/hub" serve
q c02 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c02-after','c02','R-1','2025-05-02');"
street_wait_converged 90 hub c01 c02 || fail "no convergence within 90 s after the hub restarted"
echo "converged $(($(date +%s) - t0)) s after start"

n=$(q hub "SELECT count(*) FROM care_visits WHERE scope = 'c01' AND id LIKE 'big-%'")
[ "$n" = "$ROWS" ] || fail "the hub holds $n of c01's $ROWS rows"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'c02-after'")" = 1 ] || fail "the restarted hub lacks c02's row"
for d in hub c01; do
  "$LINLI" --dir "$W/$d" verify >"$W/verify-$d.out" 2>&1 || { cat "$W/verify-$d.out"; fail "linli verify failed on $d"; }
  ic=$(q "$d" "PRAGMA integrity_check")
  [ "$ic" = ok ] || fail "integrity_check on $d: $ic"
  dup=$(q "$d" "SELECT count(*) FROM (SELECT 1 FROM linli_log GROUP BY origin, scope, seq HAVING count(*) > 1)")
  [ "$dup" = 0 ] || fail "$d stores $dup commit position(s) twice"
done
mine=$(q c01 "SELECT seq FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")
onhub=$(q hub "SELECT count(*) || ' ' || max(seq) FROM linli_log WHERE hex(origin) = '$K1' AND scope = 'c01'")
[ "$onhub" = "$mine $mine" ] || fail "the hub holds '$onhub' (count, max seq) of c01's chain, c01 is at #$mine"
[ "$(q hub "SELECT seq FROM linli_vv WHERE hex(origin) = '$K1' AND scope = 'c01'")" = "$mine" ] ||
  fail "the hub's chain head for c01 is not #$mine"
[ "$(q hub "SELECT count(*) FROM linli_conflicts")" = 0 ] || fail "the hub recorded conflicts (a commit applied twice?)"
echo "hub: $ROWS rows, c01's chain #1..#$mine once each, verify and integrity_check ok"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
