#!/bin/sh
# conformance: a second implementation written from docs/protocol.md and
# proto/*.proto alone (tests/conformance/client.py: Python, its own protobuf
# encoder and decoder, PyNaCl for Ed25519 and the CURVE key map, pyzmq)
# checks the spec's test vectors, then syncs with a real hub over CURVE as
# committee c07, whose key is the spec's test key: Hello (with a field the
# hub must skip), pulls and verifies every commit the hub offers (the roster,
# a hub row of c07), pushes a signed commit that the hub applies (the row is
# then in the hub's replica), and checks that bad input is refused with the
# documented codes (bad_signature, gap, out_of_scope, wrong_network, decode,
# version, protocol), a replay counted as a duplicate and a row refused alone.
# The test fails whenever the hub and the spec disagree.
set -eu
T=conformance
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
# python3-zmq and python3-nacl are Debian packages (scripts/deps.sh installs
# them for make test): the first python3 that has both
PY=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import zmq, nacl.signing, nacl.bindings' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP: no python3 with the modules zmq and nacl (apt-get install python3-zmq python3-nacl)"
  exit 77
fi
t_begin street
CLIENT="$PY $root/tests/conformance/client.py $root/docs/protocol.md $root/proto"

$CLIENT vectors || fail "the spec's test vectors do not check out"

PORT=$(street_port)
"$LINLI" --dir "$W/hub" init --role hub --name street --listen "tcp://127.0.0.1:$PORT" >/dev/null
"$LINLI" --dir "$W/hub" roster add c07 "$($CLIENT key-text)" --scope c07 >/dev/null
sed -i 's/^seal_interval_ms = .*/seal_interval_ms = 300/' "$W/hub/linli.conf"
q hub "INSERT INTO hazards(id, scope, category, location, found_on) VALUES ('hub-h1', 'c07', '消防', '菜场后门', '2025-03-06')"
"$LINLI" --dir "$W/hub" commit >/dev/null
street_start_bg hub "$LINLI" --dir "$W/hub" serve
listening() { "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null; }
wait_until 20 listening || fail "the hub does not listen"

LINLI_NETWORK=$("$LINLI" --dir "$W/hub" id) $CLIENT sync "tcp://127.0.0.1:$PORT" >"$W/client.log" 2>&1 ||
  { cat "$W/client.log"; fail "the hub and docs/protocol.md disagree (client.py sync)"; }
cat "$W/client.log"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'conf-1' AND scope = 'c07' AND outcome = 'conformance'")" = 1 ] ||
  fail "the pushed row is not in the hub's replica"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'conf-2'")" = 0 ] || fail "the refused row is in the hub's replica"
[ "$(q hub "SELECT count(*) FROM linli_refused WHERE tbl = 'care_visits' AND reason = 'constraint'")" = 1 ] ||
  fail "the hub did not record the row refused alone"
[ "$(q hub "SELECT count(*) FROM care_visits WHERE id IN ('conf-5', 'conf-8', 'conf-9')")" = 0 ] ||
  fail "a refused commit's row is in the hub's replica"
echo "ok $T ($(($(date +%s) - t0)) s)"
