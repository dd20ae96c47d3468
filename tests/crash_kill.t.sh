#!/bin/sh
# crash_kill: kill -9 during `linli commit`, of the hub while it applies a
# large backlog from a committee, and during `linli bundle import`, many
# times over, loses nothing and applies nothing twice. The work is
# simulations/crash_kill.sh (which says what is checked); this runs it with
# CI-sized counts: 50,000 rows and 10 hub kills in the normal build (about
# 40 s), fewer under ASan (LINLI_BUILD containing "asan"). The long run:
#   KILLS=60 COMMIT_KILLS=20 IMPORT_KILLS=20 LINLI=build/linli \
#     LINLI_PROXY=build/sim/proxy sh simulations/crash_kill.sh
set -eu
: "${LINLI:?}" "${LINLI_PROXY:?}" "${LINLI_SCRIPTS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
case "${LINLI_BUILD:-}" in
*asan*) set -- --rows 20000 --extra 5000 --kills 5 --commit-kills 3 --import-kills 3 --budget 150 ;;
*) set -- --rows 50000 --extra 12500 --kills 10 --commit-kills 5 --import-kills 4 --budget 120 ;;
esac
exec sh "$root/simulations/crash_kill.sh" "$@"
