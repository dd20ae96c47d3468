#!/bin/sh
# Runs every test of one build directory: the cmocka binaries under
# BUILD/tests and the shell scenarios tests/*.t.sh (which get the linli
# binary in $LINLI). Prints each result and a closing "N passed, N failed".
# Exit status: 0 when nothing failed.
set -u
B=${1:-build}
LOG=${2:-$B/test.log}
: > "$LOG"
pass=0; fail=0; failed=""
root=$(cd "$(dirname "$0")/.." && pwd)
export LINLI="$root/$B/linli"
export LINLI_BUILD="$root/$B"
export LINLI_PROXY="$root/$B/sim/proxy"
export LINLI_SCRIPTS="$root/scripts"
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  out=$("$t" 2>&1); rc=$?
  echo "$out" >> "$LOG"
  p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  p=${p:-0}; f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$f" -ne 0 ]; then
    failed="$failed $(basename "$t")"
    echo "FAIL $(basename "$t") ($f failed)"; echo "$out" | grep -E "FAIL|ERROR|error|Assert|Sanitizer" | head -n 20
  else
    echo "ok   $(basename "$t") ($p tests)"
  fi
done
for t in "$root"/tests/*.t.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t")
  out=$(sh "$t" 2>&1); rc=$?
  { echo "== $name"; echo "$out"; } >> "$LOG"
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL $name (exit $rc)"; echo "$out" | tail -n 25
  fi
done
echo "$B: $pass passed, $fail failed${failed:+ (failed:$failed)}"
echo "RESULT $pass $fail" >> "$LOG"
[ $fail -eq 0 ]
