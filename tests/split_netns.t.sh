#!/bin/sh
# The namespace variant of the split test (simulations/split_netns.sh), a
# short run, in the normal build's pass. Skipped (exit 77, with the reason)
# in the ASan pass, and where namespaces cannot be made or entered.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
case "${LINLI_BUILD:-}" in
*asan*) echo "SKIP: the namespace variant runs in the normal build's pass only"; exit 77 ;;
esac
exec bash "$root/simulations/split_netns.sh" --seconds 15 --seed 5
