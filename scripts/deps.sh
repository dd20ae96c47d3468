#!/bin/sh
# Installs the Debian packages linli needs, only those missing, and says so.
# Detection: pkg-config for libraries, command -v for tools.
set -eu
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_hdr() { [ -f "/usr/include/$1" ] || missing="$missing $2"; }
need_py() { # MODULE PACKAGE: a Python module of python3 or of Debian's /usr/bin/python3
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 && "$py" -c "import $1" 2>/dev/null && return 0
  done
  missing="$missing $2"
}
need_cmd pkg-config pkg-config
need_cmd cc gcc
need_cmd make make
need_pc libzmq libzmq3-dev
need_pc sqlite3 libsqlite3-dev
need_pc libsodium libsodium-dev
need_pc libprotobuf-c libprotobuf-c-dev
need_pc inih libinih-dev
need_pc libmicrohttpd libmicrohttpd-dev   # linli web: the dashboard's HTTP server
need_pc libutf8proc libutf8proc-dev
need_pc cmocka libcmocka-dev
need_cmd protoc-c protobuf-c-compiler
need_cmd sqlite3 sqlite3
need_cmd python3 python3
if [ -n "${LINLI_NEED_PACKAGING:-}" ]; then   # make install (man page), make deb, the unit checks
  need_cmd scdoc scdoc
  need_cmd dpkg-buildpackage dpkg-dev
  need_cmd dh debhelper
  need_cmd fakeroot fakeroot
  need_cmd systemd-analyze systemd
fi
if [ -n "${LINLI_NEED_CLANG:-}" ]; then
  need_cmd faketime faketime   # tests/clock_ahead.t.sh: a committee PC with its date days ahead
  need_cmd chromium chromium   # tests/web_browser.t.sh: every dashboard page in a real browser
  need_cmd curl curl           # tests/web_http.t.sh: headers, methods, limits
  [ -n "$(ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc 2>/dev/null)" ] || missing="$missing fonts-wqy-microhei"  # Chinese in the screenshots
  # tests/conformance.t.sh: the spec's second implementation (Python) talks to a real hub over CURVE;
  # Debian's modules live in /usr/bin/python3's path, which may not be the first python3 on PATH
  need_py zmq python3-zmq
  need_py nacl.signing python3-nacl
  need_cmd clang clang
  [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || missing="$missing libclang-rt-dev"
fi
if [ -z "$missing" ]; then
  exit 0
fi
echo "linli: installing missing Debian packages (without recommended ones):$missing"
if [ "$(id -u)" != 0 ]; then
  echo "linli: not root; run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
installed_kb() { dpkg-query -W -f='${Installed-Size}\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
before=$(installed_kb)
npkg_before=$(dpkg-query -W -f='.\n' 2>/dev/null | wc -l)
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
after=$(installed_kb)
npkg=$(( $(dpkg-query -W -f='.\n' 2>/dev/null | wc -l) - npkg_before ))
echo "linli: installed:$missing ($npkg package(s) with their dependencies, $(( (after - before) / 1024 )) MB on disk)"
