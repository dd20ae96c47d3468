#!/bin/sh
# Runs the libFuzzer harnesses built in BUILD (make fuzz-build). For each:
# first replays every input under tests/fuzz/regressions/NAME (crashes found
# before, now fixed), then fuzzes for SECONDS starting from a copy of
# tests/fuzz/corpus/NAME in BUILD/corpus/NAME (the repository's corpus is
# never modified). Prints the executions of each harness; a crash, leak,
# sanitizer report or timeout leaves its input in BUILD/artifacts/NAME/.
#   sh tests/fuzz/run.sh BUILD SECONDS [NAME...]    (default: every harness)
# Exit status: 0 when no harness failed.
set -u
B=${1:?usage: run.sh BUILD SECONDS [NAME...]}
secs=${2:?usage: run.sh BUILD SECONDS [NAME...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -eq 0 ]; then
  for f in "$root"/tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c); n=${n#fuzz_}
    [ "$n" = util ] || set -- "$@" "$n"
  done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=0; total=0; failed=""
for name in "$@"; do
  bin=$B/fuzz_$name
  if [ ! -x "$bin" ]; then
    echo "FAIL fuzz_$name: $bin is not built (make fuzz-build)"; fail=$((fail + 1)); failed="$failed $name"; continue
  fi
  art=$B/artifacts/$name
  mkdir -p "$art" "$B/corpus"
  log=$B/fuzz_$name.log
  reg=$root/tests/fuzz/regressions/$name
  nreg=0
  if [ -d "$reg" ]; then nreg=$(find "$reg" -type f | wc -l); fi
  if [ "$nreg" -gt 0 ]; then
    if ! "$bin" -artifact_prefix="$art/" $(find "$reg" -type f | sort) > "$B/fuzz_$name.replay.log" 2>&1; then
      echo "FAIL fuzz_$name: a regression input crashes again (tests/fuzz/regressions/$name):"
      grep -a -E "ERROR|runtime error|Running:|SUMMARY" "$B/fuzz_$name.replay.log" | tail -n 20
      fail=$((fail + 1)); failed="$failed $name"; continue
    fi
  fi
  rm -rf "$B/corpus/$name"
  cp -r "$root/tests/fuzz/corpus/$name" "$B/corpus/$name"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$art/" "$B/corpus/$name" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -a -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*/cov \1, ft \2/p')
  units=$(find "$B/corpus/$name" -type f | wc -l)
  total=$((total + ${execs:-0}))
  if [ $rc -ne 0 ]; then
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL fuzz_$name: exit $rc after ${execs:-?} executions; input in $art/ (log $log):"
    grep -a -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -n 10
    grep -a -E "^    #[0-9]+ " "$log" | head -n 12
  else
    echo "ok   fuzz_$name: ${execs:-?} executions in ${secs}s (${cov:-cov ?}, corpus $units, regressions replayed $nreg)"
  fi
done
echo "fuzz: $# harnesses, $total executions, $fail failed${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
