# Helpers shared by the shell scenarios tests/*.t.sh, sourced with T set
# to the scenario's name; t_begin makes its work dir W.

# t_begin [street]: a scenario's opening. Checks the variables tests/run.sh
# exports, makes the work dir W, sets t0 (for the closing "ok T (N s)"),
# and removes W on exit; with "street", sources scripts/street.sh too and
# stops the street's processes first.
t_begin() {
  : "${LINLI:?}" "${T:?}"
  W=$(mktemp -d "${TMPDIR:-/tmp}/linli-$T.XXXXXX")
  t0=$(date +%s)
  if [ "${1:-}" = street ]; then
    : "${LINLI_PROXY:?}" "${LINLI_SCRIPTS:?}"
    . "$LINLI_SCRIPTS/street.sh"
    trap 'street_stop; rm -rf "$W"' EXIT
  else
    trap 'rm -rf "$W"' EXIT
  fi
  trap 'exit 1' INT TERM
}

q() { sqlite3 -bail -cmd '.timeout 10000' "$W/$1/replica.db" "$2"; }
fail() {
  echo "FAIL $T: $*"
  for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- tail $f"; tail -n 25 "$f"; }; done
  exit 1
}
wait_until() { # SECONDS CMD...: true as soon as CMD is, false after SECONDS
  wu_end=$(($(date +%s) + $1)); shift
  while :; do
    "$@" && return 0
    [ "$(date +%s)" -lt "$wu_end" ] || return 1
    sleep 0.2
  done
}
# "STATE REACHABLE WE_LACK THEY_LACK" of the hub in a committee's status --json
hub_view() {
  "$LINLI" --dir "$W/$1" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
p = [p for p in s["peers"] if p["name"] == "hub"]
print("none" if not p else "%s %s %d %d" % (p[0]["state"], str(p[0]["reachable"]).lower(),
      p[0]["commits_we_lack"], p[0]["commits_they_lack"]))'
}
