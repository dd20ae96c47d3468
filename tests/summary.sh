#!/bin/sh
# Adds up the RESULT lines of the given test logs and prints the closing line.
pass=0; fail=0
for log in "$@"; do
  r=$(grep '^RESULT ' "$log" | tail -n 1)
  [ -n "$r" ] || { echo "no result in $log"; fail=$((fail + 1)); continue; }
  set -- $r
  pass=$((pass + $2)); fail=$((fail + $3))
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
