# Shell helpers shared by the networked demo and the integration tests:
# start a street of real `linli serve` processes on loopback, wait for
# convergence, stop everything. Source it with LINLI and LINLI_PROXY set.
# Every process started is recorded in $W/pids and killed by street_stop.

street_port() {
  # a free loopback port: ask the kernel through a throwaway listener
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

street_start_bg() { # name cmd...: runs in the background, logs to $W/name.log
  name=$1; shift
  "$@" >>"$W/$name.log" 2>&1 &
  echo "$! $name" >>"$W/pids"
  # bash would report each kill -9 of ours as a job notice
  if [ -n "${BASH_VERSION:-}" ]; then disown $! 2>/dev/null || true; fi
}

street_pid() { awk -v n="$1" '$2 == n { p = $1 } END { print p }' "$W/pids"; }

street_stop() {
  [ -f "$W/pids" ] || return 0
  while read -r pid name; do kill -TERM "$pid" 2>/dev/null || true; done <"$W/pids"
  i=0
  while [ $i -lt 50 ]; do
    alive=0
    while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive=1 || true; done <"$W/pids"
    [ $alive = 0 ] && break
    sleep 0.1; i=$((i + 1))
  done
  while read -r pid name; do kill -KILL "$pid" 2>/dev/null || true; done <"$W/pids"
  wait 2>/dev/null || true
  rm -f "$W/pids"
}

# street_init HUBDIR PORT c01 c02 ...: a hub listening on PORT and committees
# connecting through their own proxy (port recorded in $W/NAME.proxyport).
street_init() {
  hubdir=$1; port=$2; shift 2
  "$LINLI" --dir "$W/$hubdir" init --role hub --name street --listen "tcp://127.0.0.1:$port" >/dev/null
  hk=$("$LINLI" --dir "$W/$hubdir" id)
  for c in "$@"; do
    pp=$(street_port)
    echo "$pp" >"$W/$c.proxyport"
    "$LINLI" --dir "$W/$c" init --role committee --name "$c" --scope "$c" --hub-key "$hk" \
      --hub "tcp://127.0.0.1:$pp" >/dev/null
    "$LINLI" --dir "$W/$hubdir" roster add "$c" "$("$LINLI" --dir "$W/$c" id)" --scope "$c" >/dev/null
    sed -i 's/^seal_interval_ms = .*/seal_interval_ms = 300/; s/^peer_timeout_ms = .*/peer_timeout_ms = 4000/; s/^heartbeat_ms = .*/heartbeat_ms = 1000/' "$W/$c/linli.conf"
  done
  sed -i 's/^seal_interval_ms = .*/seal_interval_ms = 300/; s/^peer_timeout_ms = .*/peer_timeout_ms = 4000/; s/^heartbeat_ms = .*/heartbeat_ms = 1000/' "$W/$hubdir/linli.conf"
}

street_run() { # hubdir port committees...: start hub, proxies, committees
  hubdir=$1; port=$2; shift 2
  street_start_bg "$hubdir" "$LINLI" --dir "$W/$hubdir" serve
  for c in "$@"; do
    street_start_bg "proxy-$c" "$LINLI_PROXY" --listen "$(cat "$W/$c.proxyport")" --to "$port"
    street_start_bg "$c" "$LINLI" --dir "$W/$c" serve
  done
}

street_cut() { kill -USR1 "$(street_pid "proxy-$1")"; }
street_heal() { kill -USR2 "$(street_pid "proxy-$1")"; }

# street_converged HUBDIR c01 ...: every committee's digest of its scope and
# of 'street' equals the hub's
street_converged() {
  hubdir=$1; shift
  "$LINLI" --dir "$W/$hubdir" digest >"$W/digest.hub" 2>/dev/null || return 1
  for c in "$@"; do
    "$LINLI" --dir "$W/$c" digest >"$W/digest.$c" 2>/dev/null || return 1
    for s in "$c" street; do
      a=$(grep "^$s " "$W/digest.hub"); b=$(grep "^$s " "$W/digest.$c")
      [ "$a" = "$b" ] || return 1
    done
  done
  return 0
}

# street_wait_converged SECONDS HUBDIR c01 ...: also requires nothing unsealed
street_wait_converged() {
  secs=$1; shift
  i=0
  while [ $i -lt $((secs * 5)) ]; do
    if street_converged "$@"; then
      dirty=0
      for d in "$@"; do
        n=$(sqlite3 "$W/$d/replica.db" "SELECT count(*) FROM linli_dirty" 2>/dev/null || echo 1)
        [ "$n" = 0 ] || dirty=1
      done
      [ $dirty = 0 ] && street_converged "$@" && return 0
    fi
    sleep 0.2; i=$((i + 1))
  done
  return 1
}
