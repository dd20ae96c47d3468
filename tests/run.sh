#!/bin/sh
# Runs every test of one build directory: the cmocka binaries under
# BUILD/tests and the shell scenarios tests/*.t.sh (which get the linli
# binary in $LINLI). Every test runs whatever failed before it.
#
# A test passes (exit 0), fails, or is skipped: a shell scenario that
# cannot run here exits 77 after a line "SKIP: why" (the automake
# convention); a cmocka test that calls skip() is counted as skipped too.
# A skip is never counted as passed, and its reason is printed.
# A failure prints the test's own last 40 lines and the command that
# replays it. The closing line: "BUILD: N passed, N failed, N skipped".
# LINLI_TESTS (make test TESTS='...'): shell patterns of the test names to
# run (e.g. 'test_merge schema_*'); empty runs every test.
# Exit status: 0 when nothing failed.
set -u
B=${1:-build}
LOG=${2:-$B/test.log}
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
pass=0; fail=0; skip=0; failed=""
root=$(cd "$(dirname "$0")/.." && pwd)
export LINLI="$root/$B/linli"
export LINLI_BUILD="$root/$B"
export LINLI_PROXY="$root/$B/sim/proxy"
export LINLI_SCRIPTS="$root/scripts"
env_line="LINLI=$LINLI LINLI_BUILD=$LINLI_BUILD LINLI_PROXY=$LINLI_PROXY LINLI_SCRIPTS=$LINLI_SCRIPTS"
[ -n "${ASAN_OPTIONS:-}" ] && env_line="ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=${UBSAN_OPTIONS:-} $env_line"

wanted() { # NAME: whether LINLI_TESTS selects it
  [ -z "${LINLI_TESTS:-}" ] && return 0
  for pat in $LINLI_TESTS; do
    case $1 in $pat | $pat.t.sh) return 0 ;; esac
  done
  return 1
}

failure() { # NAME REPLAY OUTPUT
  fail=$((fail + 1)); failed="$failed $1"
  echo "FAIL $1"
  echo "$3" | tail -n 40 | sed 's/^/  | /'
  echo "  replay: $2"
}

if [ "${LINLI_BUILD_RC:-0}" != 0 ] || ! ls "$B"/tests/test_* >/dev/null 2>&1; then
  failure "build of $B" "make B=$B check-build" "the build failed (exit ${LINLI_BUILD_RC:-?}); the tests it built still run"
fi
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  wanted "$name" || continue
  out=$("$t" 2>&1); rc=$?
  { echo "== $name"; echo "$out"; } >> "$LOG"
  p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  s=$(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)); skip=$((skip + s))
  if [ "$f" -ne 0 ]; then
    fail=$((fail + f - 1))
    failure "$name ($f failed)" "$env_line $t" "$out"
  elif [ "$s" -ne 0 ]; then
    echo "ok   $name ($p tests, $s skipped: $(echo "$out" | grep -m 1 -i 'skip' | cut -c 1-100))"
  else
    echo "ok   $name ($p tests)"
  fi
done
for t in "$root"/tests/*.t.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t")
  wanted "$name" || continue
  out=$(sh "$t" 2>&1); rc=$?
  { echo "== $name (exit $rc)"; echo "$out"; } >> "$LOG"
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   $name"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1))
    why=$(echo "$out" | sed -n 's/^SKIP: //p' | tail -n 1)
    echo "skip $name: ${why:-no reason given}"
  else
    failure "$name (exit $rc)" "$env_line sh tests/$name" "$out"
  fi
done
echo "$B: $pass passed, $fail failed, $skip skipped${failed:+ (failed:$failed)}"
echo "RESULT $pass $fail $skip" >> "$LOG"
[ $fail -eq 0 ]
