#!/bin/sh
# The simulator must be able to fail: each deliberate-bug build
# (make: build/linli-sim-bug-*) is caught within a bounded number of seeds,
# and the replay command it prints reproduces the failure.
set -eu
case "${LINLI_BUILD:-}" in
*asan*) echo "SKIP: the deliberate-bug builds are made in the normal build only"; exit 77 ;;
esac
MAX=${LINLI_SIM_BUG_SEEDS:-100}
found=0
for bin in "$LINLI_BUILD"/linli-sim-bug-*; do
  [ -x "$bin" ] || continue
  found=1
  if out=$("$bin" --seeds "1..$MAX" 2>&1); then
    echo "$(basename "$bin"): no seed of 1..$MAX caught the deliberate bug"; exit 1
  fi
  replay=$(echo "$out" | grep '^replay: ' | head -n 1 | sed 's/^replay: //')
  first=$(echo "$out" | grep 'FAILED' | head -n 1)
  echo "$(basename "$bin"): caught: $first"
  [ -n "$replay" ] || { echo "no replay command printed"; exit 1; }
  if sh -c "$replay" >/dev/null 2>&1; then echo "replay did not reproduce: $replay"; exit 1; fi
  echo "  replay reproduces it: $replay"
done
[ $found = 1 ] || { echo "no deliberate-bug builds found in $LINLI_BUILD"; exit 1; }
