#!/bin/sh
# The deterministic simulator as part of the test suite: LINLI_SIM_SEEDS
# seeds (200 by default; fewer under ASan, where every seed is slower),
# every fault kind on; plus determinism: one seed twice gives one trace hash,
# another seed another.
set -eu
SIM="$LINLI_BUILD/linli-sim"
case "$LINLI_BUILD" in *asan*) N=${LINLI_SIM_SEEDS_ASAN:-25} ;; *) N=${LINLI_SIM_SEEDS:-200} ;; esac
out=$("$SIM" --seeds "1..$N" --jobs 2 2>&1) || { echo "$out" | tail -n 40; exit 1; }
echo "$out" | tail -n 25
# every fault kind was injected at least once
bad=$(echo "$out" | awk '/^  [a-z_]+ +[0-9]+$/ && $2 == 0 { print $1 }')
if [ -n "$bad" ]; then echo "fault kinds never injected: $bad"; exit 1; fi
a=$("$SIM" --seed 7 | head -n 1 | sed 's/.*trace \([0-9a-f]*\).*/\1/')
b=$("$SIM" --seed 7 | head -n 1 | sed 's/.*trace \([0-9a-f]*\).*/\1/')
c=$("$SIM" --seed 8 | head -n 1 | sed 's/.*trace \([0-9a-f]*\).*/\1/')
echo "trace hashes: seed 7: $a, again: $b; seed 8: $c"
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "the same seed gave different traces"; exit 1; }
[ "$a" != "$c" ] || { echo "different seeds gave the same trace"; exit 1; }
