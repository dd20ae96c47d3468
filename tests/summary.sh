#!/bin/sh
# Adds up the RESULT lines of the given test logs (tests/run.sh writes one
# per pass) and prints the closing line "N passed, N failed, N skipped". A
# pass that left no result (its build failed) counts as one failure.
pass=0; fail=0; skip=0
for log in "$@"; do
  r=$(grep '^RESULT ' "$log" 2>/dev/null | tail -n 1)
  [ -n "$r" ] || { echo "no result in $log (the pass did not run to its end)"; fail=$((fail + 1)); continue; }
  set -- $r
  pass=$((pass + $2)); fail=$((fail + $3)); skip=$((skip + ${4:-0}))
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
