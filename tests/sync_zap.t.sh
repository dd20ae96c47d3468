#!/bin/sh
# sync_zap: a committee initialised with the street's hub key but absent from
# the hub's roster runs `linli serve` next to an admitted one. The hub's ZAP
# handler refuses its key at the CURVE handshake ("refused connection from
# ... not in the roster" in the hub's log), so it never receives anything
# (no roster, no notice, only its own commits in its log) and the hub holds
# nothing of it, while the admitted committee syncs as usual.
set -eu
T=sync_zap
. "$(dirname "$0")/lib.sh"
t_begin street

keyhex() { # the node's public key as the hex of linli_log.origin
  python3 -c 'import base64, sys; k = sys.argv[1]; print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex().upper())' \
    "$("$LINLI" --dir "$W/$1" id)"
}
logged() { grep -q "$2" "$W/$1.log" 2>/dev/null; }
curve_z85() { # the node's CURVE public key (derived from its Ed25519 key) in Z85, as the hub logs it
  python3 -c '
import base64, sys
k = sys.argv[1]
y = int.from_bytes(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)), "little") & ((1 << 255) - 1)
p = 2 ** 255 - 19
u = (1 + y) * pow(1 - y, p - 2, p) % p
b = u.to_bytes(32, "little")
z = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
out = ""
for i in range(0, 32, 4):
    v = int.from_bytes(b[i:i + 4], "big")
    out += "".join(z[v // 85 ** e % 85] for e in range(4, -1, -1))
print(out)' "$("$LINLI" --dir "$W/$1" id)"
}

PORT=$(street_port)
street_init hub "$PORT" c01
HK=$("$LINLI" --dir "$W/hub" id)
# x09: the right hub key and endpoint, but nobody ran 'roster add'
"$LINLI" --dir "$W/x09" init --role committee --name x09 --scope x09 --hub-key "$HK" \
  --hub "tcp://127.0.0.1:$PORT" >/dev/null
sed -i 's/^seal_interval_ms = .*/seal_interval_ms = 300/; s/^peer_timeout_ms = .*/peer_timeout_ms = 4000/; s/^heartbeat_ms = .*/heartbeat_ms = 1000/' \
  "$W/x09/linli.conf"
street_run hub "$PORT" c01
street_start_bg x09 "$LINLI" --dir "$W/x09" serve

q hub "INSERT INTO notices(id,scope,title) VALUES ('n-1','street','燃气安全专项检查');
INSERT INTO hazards(id,scope,category,location,found_on) VALUES ('hub-h1','c01','消防','菜场后门','2025-03-06');"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c01-v1','c01','R-0012','2025-03-01');"
q x09 "INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('x09-v1','x09','R-0001','2025-03-01');
INSERT INTO hazards(id,scope,category,location,found_on) VALUES ('x09-h1','x09','燃气','某处','2025-03-02');"

street_wait_converged 30 hub c01 || fail "hub and the admitted c01 did not converge within 30 s"
wait_until 20 logged hub "refused connection from .*: CURVE key .* not in the roster" ||
  fail "the hub's log never says it refused x09's key"
wait_until 10 logged x09 "hub refused our key" || fail "x09's log never says the hub refused its key"
XZ=$(curve_z85 x09)
# the operator's way to match the refused key: linli id --curve on the PC
[ "$("$LINLI" --dir "$W/x09" id --curve)" = "$XZ" ] || fail "linli id --curve on x09 does not print $XZ"
grep "refused connection from" "$W/hub.log" | grep -qF "key $XZ not in the roster" ||
  fail "the hub's refusal does not name x09's key ($XZ)"
grep "refused connection from" "$W/hub.log" | grep -qF "key $(curve_z85 c01) " && fail "the hub refused c01's key"
sleep 2 # give x09 every chance to get something it should not
grep -q "peer x09\|sync x09" "$W/hub.log" && fail "the hub started a session with x09"

# x09 got nothing: no roster, no notice, no hazard, no commit but its own
XK=$(keyhex x09)
[ "$(q x09 "SELECT count(*) FROM roster")" = 0 ] || fail "x09 holds roster rows"
[ "$(q x09 "SELECT count(*) FROM notices")" = 0 ] || fail "x09 holds street notices"
[ "$(q x09 "SELECT count(*) FROM hazards WHERE scope <> 'x09'")" = 0 ] || fail "x09 holds hazards of another scope"
[ "$(q x09 "SELECT count(*) FROM linli_log WHERE hex(origin) <> '$XK' OR scope <> 'x09'")" = 0 ] ||
  fail "x09's log holds commits that are not its own"
# never having heard the hub, x09 keeps its own writes unsealed (it cannot
# know whether the street already holds commits of its key: a restored
# backup must not fork its chain), and nothing is lost
[ "$(q x09 "SELECT count(*) FROM linli_dirty")" -ge 2 ] || fail "x09 lost its unsealed writes"
[ "$(q x09 "SELECT count(*) FROM care_visits WHERE id = 'x09-v1'")" = 1 ] || fail "x09 lost its row"
[ "$(q x09 "SELECT coalesce(sum(commits_recv + commits_sent), 0) FROM linli_peers")" = 0 ] ||
  fail "x09 records commits exchanged with the hub"

# the hub holds nothing of x09, and its roster still lacks it
for tb in care_visits hazards; do
  [ "$(q hub "SELECT count(*) FROM $tb WHERE scope = 'x09'")" = 0 ] || fail "the hub holds x09's $tb"
done
[ "$(q hub "SELECT count(*) FROM linli_log WHERE hex(origin) = '$XK' OR scope = 'x09'")" = 0 ] ||
  fail "the hub's log holds x09's commits"
[ "$(q hub "SELECT count(*) FROM linli_peers WHERE name = 'x09'")" = 0 ] || fail "the hub lists x09 as a peer"
[ "$(q hub "SELECT count(*) FROM roster WHERE name = 'x09'")" = 0 ] || fail "x09 is in the hub's roster"

# the admitted committee went on normally
[ "$(q c01 "SELECT count(*) FROM notices WHERE id = 'n-1'")" = 1 ] || fail "c01 lacks the notice"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'c01-v1'")" = 1 ] || fail "the hub lacks c01's visit"
kill -0 "$(street_pid hub)" 2>/dev/null || fail "the hub died"
echo "hub: $(grep -c 'refused connection from' "$W/hub.log") refusal(s) logged, e.g.:"
grep -m1 'refused connection from' "$W/hub.log"
# stop everything; no sanitizer may have spoken (ASan build: leaks are reported at exit)
street_stop
san=$(grep -l "Sanitizer\|runtime error:" "$W"/*.log "$W"/*.out 2>/dev/null || true)
[ -z "$san" ] || fail "sanitizer reports in: $san"
echo "ok $T ($(($(date +%s) - t0)) s)"
