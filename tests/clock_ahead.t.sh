#!/bin/sh
# clock_ahead: a committee PC whose date is days ahead seals nothing until
# the date is right, and loses nothing (finding 6 of issue 9).
#  1. Control: c07 with the right date writes a visit; the hub gets it.
#  2. c07's `serve` runs with its date 3 days ahead (libfaketime; its
#     monotonic clock is left alone). It hears the hub's clock in the
#     Hello, and a visit written now stays unsealed: status says the clock
#     is ahead (text and JSON), its log says so in both languages, the hub
#     never sees the row and holds nothing for the clock.
#  3. The date corrected (serve restarted without faketime): the visit is
#     sealed with a sane stamp and reaches the hub; sealing is open.
set -eu
T=clock_ahead
. "$(dirname "$0")/lib.sh"
t_begin street
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FT" ] || fail "libfaketime is missing (scripts/deps.sh installs the faketime package)"
visit() { q c07 "INSERT INTO care_visits(id, scope, resident_ref, visited_on) VALUES ('$1', 'c07', 'R-$1', '2025-03-01')"; }
hubhas() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id = '$1'")" = 1 ]; }
stop_one() { kill -TERM "$(street_pid "$1")"; wait_until 10 sh -c "! kill -0 $(street_pid "$1") 2>/dev/null"; }

PORT=$(street_port)
street_init hub "$PORT" c07
street_run hub "$PORT" c07
visit a1
wait_until 30 hubhas a1 || fail "control: the hub never got a1"
echo "1: control: a visit written with the right date reached the hub"

stop_one c07
# libfaketime preloaded into linli itself (so that its pid is linli's);
# ASan's runtime must come first, libfaketime comes after it
LD_PRELOAD="$FT" FAKETIME="+3d" FAKETIME_DONT_FAKE_MONOTONIC=1 \
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" street_start_bg c07 "$LINLI" --dir "$W/c07" serve
ahead() { "$LINLI" --dir "$W/c07" status | grep -q "this computer's clock is 3 days ahead"; }
wait_until 30 ahead || fail "c07's status does not say its clock is ahead: $("$LINLI" --dir "$W/c07" status)"
visit b1
sleep 2
"$LINLI" --dir "$W/c07" status >"$W/st2"
grep -q "unsealed    1 row change" "$W/st2" || fail "the visit was sealed with the date ahead: $(cat "$W/st2")"
"$LINLI" --dir "$W/c07" status --json | grep -q '"clock_ahead_ms":2[0-9]\{8\}' || fail "status --json lacks clock_ahead_ms"
grep -q "本机时钟比街道服务器快" "$W/c07.log" || fail "c07's log does not say it in Chinese"
hubhas b1 && fail "the hub got b1 sealed with the date ahead"
[ "$(q hub "SELECT count(*) FROM linli_rejects WHERE reason = 'clock_ahead'")" = 0 ] || fail "the hub held a commit for the clock"
echo "2: 3 days ahead: nothing sealed, status and log say why"

stop_one c07
street_start_bg c07 "$LINLI" --dir "$W/c07" serve
wait_until 30 hubhas b1 || fail "after the date was corrected, b1 never reached the hub"
"$LINLI" --dir "$W/c07" status | grep -q "^sealing     open" || fail "sealing is not open: $("$LINLI" --dir "$W/c07" status)"
echo "3: date corrected: the kept visit reached the hub"
echo "ok $T ($(($(date +%s) - t0)) s)"
