#!/bin/sh
# Installs the Debian packages linli needs, only those missing, and says so.
# Detection: pkg-config for libraries, command -v for tools.
set -eu
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_hdr() { [ -f "/usr/include/$1" ] || missing="$missing $2"; }
need_cmd pkg-config pkg-config
need_cmd cc gcc
need_cmd make make
need_pc libzmq libzmq3-dev
need_pc sqlite3 libsqlite3-dev
need_pc libsodium libsodium-dev
need_pc libprotobuf-c libprotobuf-c-dev
need_pc inih libinih-dev
need_pc libutf8proc libutf8proc-dev
need_pc cmocka libcmocka-dev
need_cmd protoc-c protobuf-c-compiler
need_cmd sqlite3 sqlite3
need_cmd python3 python3
if [ -n "${LINLI_NEED_CLANG:-}" ]; then
  need_cmd faketime faketime   # tests/clock_ahead.t.sh: a committee PC with its date days ahead
  need_cmd clang clang
  [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || missing="$missing libclang-rt-dev"
fi
if [ -z "$missing" ]; then
  exit 0
fi
echo "linli: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "linli: not root; run as root:  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q $missing
echo "linli: installed:$missing"
