#!/bin/sh
# Fuzz smoke: builds the libFuzzer harnesses (make fuzz-build), replays every
# input that once crashed one (tests/fuzz/regressions/) and fuzzes each
# harness for a few seconds from its seed corpus; fails on any crash, leak,
# sanitizer report or timeout. tests/run.sh runs the scenarios once per
# build; this runs in the normal-build pass only (the harnesses carry
# ASan/UBSan of their own). It needs clang and the libFuzzer runtime, which
# `make test` installs (LINLI_NEED_CLANG=1 scripts/deps.sh): without them it
# fails, it does not pass silently.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
case "${LINLI_BUILD:-}" in
*/asan)
  echo "SKIP: fuzz smoke runs in the normal-build pass only (the harnesses carry ASan/UBSan of their own)"
  exit 77
  ;;
esac
if ! command -v clang >/dev/null 2>&1 ||
  [ -z "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ]; then
  echo "fuzz smoke: clang or the libFuzzer runtime is missing;" \
    "install them with: LINLI_NEED_CLANG=1 sh scripts/deps.sh (make test does)" >&2
  exit 1
fi
cd "$root" || exit 1
mkdir -p build
if ! make --no-print-directory fuzz-build > build/fuzz-build.log 2>&1; then
  echo "fuzz smoke: make fuzz-build failed:"
  tail -n 30 build/fuzz-build.log
  exit 1
fi
exec sh tests/fuzz/run.sh build/fuzz "${LINLI_FUZZ_SMOKE_SECONDS:-4}"
