#!/bin/bash
# The namespace variant of the real-process split test: the hub and every
# committee in a network namespace of its own, each committee joined to the
# hub by a veth pair (addresses 10.77.N.1/.2, which exist only inside these
# namespaces). Splits are real link failures (ip link set down); where the
# kernel has netem, every link also gets loss and latency. Needs root and
# `ip netns` that works (it probes `ip netns exec` itself: inside a chroot
# a namespace can be made but not entered); where it cannot run it prints
# "SKIP: why" and exits 77, which tests/run.sh counts as skipped.
#
#   simulations/split_netns.sh [--seconds N] [--committees K] [--seed S]
set -u
SECONDS_RUN=30; K=3; SEED=$$
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --committees) K=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--committees K] [--seed S]"; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
LINLI=${LINLI:-$here/build/linli}
skip() { echo "SKIP: namespace variant: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
P="lns$$"
ip netns add "${P}h" 2>/dev/null || skip "cannot create network namespaces here"
if ! timeout 10 ip netns exec "${P}h" true 2>/dev/null; then
  ip netns del "${P}h" 2>/dev/null
  skip "a namespace can be made but not entered here (ip netns exec fails: a chroot or a container without /sys?)"
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-netns.XXXXXX")
. "$here/scripts/street.sh"
cleanup() {
  street_stop
  for i in $(seq 1 "$K"); do ip netns del "${P}c$i" 2>/dev/null; done
  ip netns del "${P}h" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
RANDOM=$SEED
echo "namespace split test: $K committees, ${SECONDS_RUN}s, seed $SEED (replay: $0 --seconds $SECONDS_RUN --committees $K --seed $SEED)"
ip netns exec "${P}h" ip link set lo up
PORT=7700
netem=1
for i in $(seq 1 "$K"); do
  ns="${P}c$i"
  ip netns add "$ns"
  ip link add "${P}h$i" type veth peer name "${P}c$i"
  ip link set "${P}h$i" netns "${P}h"
  ip link set "${P}c$i" netns "$ns"
  ip netns exec "${P}h" ip addr add "10.77.$i.1/30" dev "${P}h$i"
  ip netns exec "$ns" ip addr add "10.77.$i.2/30" dev "${P}c$i"
  ip netns exec "${P}h" ip link set "${P}h$i" up
  ip netns exec "$ns" ip link set "${P}c$i" up
  ip netns exec "$ns" ip link set lo up
  if [ $netem = 1 ] && ! ip netns exec "$ns" tc qdisc add dev "${P}c$i" root netem delay 40ms 20ms loss 2% 2>/dev/null; then
    netem=0
  fi
done
if [ $netem = 1 ]; then echo "netem: 40±20 ms latency and 2% loss on every link"
else echo "netem unavailable (this kernel has no sch_netem): links get real cuts but no loss or latency"; fi

"$LINLI" --dir "$W/hub" init --role hub --name street --listen "tcp://0.0.0.0:$PORT" >/dev/null
HK=$("$LINLI" --dir "$W/hub" id)
CS=""
for i in $(seq 1 "$K"); do
  c="c0$i"; CS="$CS $c"
  "$LINLI" --dir "$W/$c" init --role committee --name "$c" --scope "$c" --hub-key "$HK" --hub "tcp://10.77.$i.1:$PORT" >/dev/null
  "$LINLI" --dir "$W/hub" roster add "$c" "$("$LINLI" --dir "$W/$c" id)" --scope "$c" >/dev/null
  sed -i 's/^seal_interval_ms = .*/seal_interval_ms = 300/; s/^peer_timeout_ms = .*/peer_timeout_ms = 4000/; s/^heartbeat_ms = .*/heartbeat_ms = 1000/' "$W/$c/linli.conf"
done
street_start_bg hub ip netns exec "${P}h" "$LINLI" --dir "$W/hub" serve
for i in $(seq 1 "$K"); do street_start_bg "c0$i" ip netns exec "${P}c$i" "$LINLI" --dir "$W/c0$i" serve; done

q() { sqlite3 -bail "$W/$1/replica.db" "$2" >/dev/null 2>>"$W/sql-errors.log" || true; }
cuts=0; heals=0
end=$(( $(date +%s) + SECONDS_RUN ))
while [ "$(date +%s)" -lt "$end" ]; do
  for i in $(seq 1 "$K"); do
    c="c0$i"; n=$(( RANDOM % 15 ))
    q "$c" "INSERT OR REPLACE INTO care_visits(id,scope,resident_ref,visited_on,outcome) VALUES('$c-v$n','$c','R-$RANDOM','2025-03-10','记录 $RANDOM')"
  done
  q hub "INSERT OR REPLACE INTO notices(id,scope,title,audience) VALUES('n$(( RANDOM % 3 ))','street','通知 $RANDOM','all')"
  i=$(( RANDOM % K + 1 ))
  case $(( RANDOM % 8 )) in
    0) ip netns exec "${P}h" ip link set "${P}h$i" down; cuts=$((cuts + 1)) ;;
    1|2) ip netns exec "${P}h" ip link set "${P}h$i" up; heals=$((heals + 1)) ;;
  esac
  sleep 0.3
done
for i in $(seq 1 "$K"); do ip netns exec "${P}h" ip link set "${P}h$i" up; done
echo "link cuts: $cuts, heals: $heals"
t0=$(date +%s)
street_wait_converged 120 hub $CS || { echo "FAILED: no convergence within 120 s"; for n in hub $CS; do tail -n 10 "$W/$n.log"; done; exit 1; }
echo "converged $(( $(date +%s) - t0 )) s after healing"
for n in hub $CS; do
  [ "$(sqlite3 "$W/$n/replica.db" 'PRAGMA integrity_check')" = ok ] || { echo "FAILED: integrity_check on $n"; exit 1; }
done
echo "namespace split test passed"
