#!/bin/sh
# Real-process split tests (simulations/split.sh, simulations/split_netns.sh)
# as part of make test: a short run of each. The namespace variant runs in
# the normal build's pass only (it says so when it cannot run at all).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
case "$LINLI_BUILD" in
  *asan*) bash "$root/simulations/split.sh" --seconds 20 --seed 11 ;;
  *)
    bash "$root/simulations/split.sh" --seconds 30 --seed 7
    bash "$root/simulations/split_netns.sh" --seconds 15 --seed 5
    ;;
esac
