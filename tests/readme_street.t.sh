#!/bin/sh
# readme_street: the README's "Running a street" walk-through, as written,
# from nothing to a committee's row at the hub (issue 11).
#  1. `make deb` builds the package from this tree (into a build dir of the
#     test's own); the walk-through's `apt-get install ./linli_*.deb`
#     installs it (the linli user, /usr/bin/linli, the man page, the unit).
#  2. `systemd-analyze verify` passes on the installed units (serve, web).
#  3. The commands between the README's walkthrough markers run one after
#     another with `set -e`, on this one machine: the node directories
#     /var/lib/linli/* live under a temporary root, the hub listens on a
#     free loopback port instead of 0.0.0.0:7700 and HUB_ADDR is 127.0.0.1,
#     the USB stick is a temporary directory. Where systemd is not PID 1 (a
#     container, CI), `systemctl enable --now linli-serve@NAME` runs what the
#     installed unit runs (its ExecStart, as its User) and `journalctl -u`
#     shows that process's output; the test says so.
#  4. The end: c07's row is at the hub (over the network), c09's hazard is
#     at the hub and the hub's roster at c09 (over the USB stick), and both
#     committees' digests equal the hub's.
# Skipped (exit 77, with the reason) when not root, in the ASan pass (the
# package is built without sanitizers), or without the packaging tools.
# Afterwards the package is purged again if it was not installed before.
set -eu
T=readme_street
root=$(cd "$(dirname "$0")/.." && pwd)
case "${LINLI_BUILD:-}" in *asan*) echo "SKIP: packaging is tested in the normal build's pass"; exit 77 ;; esac
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (dpkg -i, the linli system user)"; exit 77; }
for c in dpkg-buildpackage dh scdoc fakeroot runuser sqlite3 systemd-analyze; do
  command -v $c >/dev/null 2>&1 ||
    { echo "SKIP: $c is missing (LINLI_NEED_PACKAGING=1 sh scripts/deps.sh installs the tools)"; exit 77; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-$T.XXXXXX")
chmod 755 "$W"
had_pkg=0
dpkg -s linli >/dev/null 2>&1 && had_pkg=1
pids=""
cleanup() {
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  [ $had_pkg = 1 ] || dpkg --purge linli >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL $T: $*"; for f in "$W"/*.service.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; exit 1; }
t0=$(date +%s)

# ---- 1. the package ----
mkdir -p "$W/src"
(cd "$root" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$W/src"
(cd "$W/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$W/deb.log" 2>&1) ||
  { tail -n 30 "$W/deb.log"; fail "make deb's dpkg-buildpackage failed"; }
DEB=$(ls "$W"/linli_*_*.deb | head -n 1)
[ -f "$DEB" ] || fail "no .deb was built"
echo "1: built $(basename "$DEB")"

# ---- 3. the walk-through, as written ----
sed -n '/<!-- walkthrough:begin -->/,/<!-- walkthrough:end -->/p' "$root/README.md" |
  sed '1,2d;$d' | sed '$d' >"$W/walk.sh"
grep -q "systemctl enable --now linli-serve@hub" "$W/walk.sh" || fail "the README's walk-through was not found"
R="$W/root"
mkdir -p "$R/var/lib" "$R/usb"
chmod 755 "$R" "$R/var" "$R/var/lib"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the substitutions the header lists, and nothing else
sed -e "s|\./linli_[0-9.]*_amd64\.deb|$DEB|" \
    -e "s|/var/lib/linli|$R/var/lib/linli|g" \
    -e "s|tcp://0\.0\.0\.0:7700|tcp://127.0.0.1:$PORT|g" \
    -e "s|:7700|:$PORT|g" \
    -e "s|^HUB_ADDR=.*|HUB_ADDR=127.0.0.1|" \
    -e "s|^USB=.*|USB=$R/usb|" "$W/walk.sh" >"$W/walk.run.sh"
pid1=$(ps -p 1 -o comm= 2>/dev/null || echo "?")
cat >"$W/prelude.sh" <<EOF
set -eu
systemctl() { # enable --now linli-serve@NAME, as the installed unit would run it
  [ "\$1 \$2" = "enable --now" ] || { echo "walk-through: unexpected systemctl \$*" >&2; return 1; }
  unit=/lib/systemd/system/\${3%%@*}@.service; inst=\${3#*@}
  user=\$(sed -n 's/^User=//p' "\$unit"); exe=\$(sed -n 's/^ExecStart=//p' "\$unit")
  exe=\$(printf '%s' "\$exe" | sed -e "s|%i|\$inst|g" -e "s|/var/lib/linli|$R/var/lib/linli|g")
  echo "   (systemd is not PID 1 here ($pid1): running the unit's ExecStart as \$user: \$exe)"
  runuser -u "\$user" -- sh -c "umask 0007; exec \$exe" >>"$W/\$inst.service.log" 2>&1 &
  echo \$! >>"$W/pids"
}
journalctl() { [ "\$1" = -u ] && tail -n 5 "$W/\${2#linli-serve@}.service.log"; }
EOF
# right after the install: the nodes' parent under R, as the package made /var/lib/linli
sed -i "/apt-get install/a install -d -o linli -g linli -m 2770 $R/var/lib/linli" "$W/walk.run.sh"
chmod 1777 "$R/usb"
cat "$W/prelude.sh" "$W/walk.run.sh" >"$W/run.sh"
( sh "$W/run.sh" >"$W/walk.out" 2>&1 ) || rc=$?
pids=$(cat "$W/pids" 2>/dev/null || true)
sed 's/^/   | /' "$W/walk.out"
[ "${rc:-0}" = 0 ] || fail "the walk-through stopped (exit ${rc:-0}) at: $(tail -n 3 "$W/walk.out")"
echo "3: the walk-through ran as written"

# ---- 2. the installed unit ----
command -v linli >/dev/null && [ "$(command -v linli)" = /usr/bin/linli ] || fail "linli is not /usr/bin/linli"
getent passwd linli >/dev/null || fail "the package did not create the user linli"
man_opt=""
command -v man >/dev/null 2>&1 || man_opt="--man=no" # man-db is not installed: the page itself is checked below
for u in linli-serve@hub.service linli-web@hub.service; do
  systemd-analyze verify $man_opt "$u" >"$W/verify.out" 2>&1 || fail "systemd-analyze verify $u: $(cat "$W/verify.out")"
done
[ -s /usr/share/man/man1/linli.1.gz ] || fail "no man page"
zcat /usr/share/man/man1/linli.1.gz | grep -q '^\.TH' || fail "the man page is not roff"
echo "2: systemd-analyze verify ${man_opt:+($man_opt, man-db absent) }passes on linli-serve@.service and linli-web@.service; man page installed"

# ---- 4. the end ----
q() { runuser -u linli -- sqlite3 -cmd '.timeout 10000' "$R/var/lib/linli/$1/replica.db" "$2"; }
has_row() { [ "$(q hub "SELECT count(*) FROM care_visits WHERE id = 'v-0001' AND scope = 'c07'")" = 1 ]; }
i=0; while ! has_row && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
has_row || fail "c07's row did not reach the hub"
[ "$(q hub "SELECT count(*) FROM hazards WHERE id = 'h-0001' AND scope = 'c09'")" = 1 ] || fail "c09's hazard is not at the hub"
[ "$(q c09 "SELECT count(*) FROM roster WHERE name = 'c09'")" = 1 ] || fail "the hub's data did not reach c09"
L() { runuser -u linli -- linli "$@"; }
same() { a=$(L --dir "$R/var/lib/linli/hub" digest --scope "$1"); b=$(L --dir "$R/var/lib/linli/$2" digest --scope "$1"); [ "$a" = "$b" ]; }
i=0; while ! { same c07 c07 && same street c07; } && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
same c07 c07 && same street c07 || fail "c07's digests differ from the hub's"
same c09 c09 || fail "c09's digest differs from the hub's"
echo "4: c07's row reached the hub over the network, c09's over the USB stick; digests equal"
grep -q '"committees"' "$W/walk.out" || fail "the dashboard's /api/report did not answer in the walk-through"
echo "4: the dashboard (linli-web@hub) answered /api/report"
echo "ok $T ($(($(date +%s) - t0)) s)"
