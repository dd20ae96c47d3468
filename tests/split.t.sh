#!/bin/sh
# Real-process split test (simulations/split.sh) as part of make test: a
# short run. The namespace variant is tests/split_netns.t.sh.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
case "$LINLI_BUILD" in
  *asan*) bash "$root/simulations/split.sh" --seconds 20 --seed 11 ;;
  *)
    bash "$root/simulations/split.sh" --seconds 30 --seed 7 ;;
esac
