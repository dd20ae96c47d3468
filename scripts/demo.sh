#!/bin/sh
# `make demo`: a street hub and three committees as real `linli serve`
# processes on loopback (CURVE over ZeroMQ). Committees write with the plain
# sqlite3 shell; one committee is cut off, both sides write (a conflicting
# edit and a hazard the street assigns to the cut-off committee), the street
# office adds a column (hazards.photo_ref) with a signed schema migration
# while c03 is away, the link heals, and everyone catches up and migrates
# by themselves. Then the hub's report and a
# convergence check, and the street's dashboard (`linli web`) on loopback.
# Leaves no process behind; with DEMO_WEB_KEEP=1 (`make demo-web`) the
# street and its dashboard stay up until Ctrl-C.
set -eu
LINLI=${1:-build/linli}
LINLI_PROXY=${2:-build/sim/proxy}
case $LINLI in /*) ;; *) LINLI="$(pwd)/$LINLI" ;; esac
case $LINLI_PROXY in /*) ;; *) LINLI_PROXY="$(pwd)/$LINLI_PROXY" ;; esac
W=$(mktemp -d "${TMPDIR:-/tmp}/linli-demo.XXXXXX")
. "$(dirname "$0")/street.sh"
trap 'street_stop; rm -rf "$W"' EXIT INT TERM
say() { printf '\n== %s\n' "$*"; }
# .timeout: the daemon holds the write lock for a moment every 0.5 s (seal, peer
# state); without a busy timeout the sqlite3 shell fails with "database is locked"
q() { sqlite3 -bail -cmd '.timeout 10000' "$W/$1/replica.db" "$2"; }
t0=$(date +%s)

say "a street hub and committees c01 c02 c03 (keys, roster, CURVE on loopback)"
PORT=$(street_port)
street_init hub "$PORT" c01 c02 c03
"$LINLI" --dir "$W/hub" roster list
street_run hub "$PORT" c01 c02 c03

say "committees write with sqlite3; the street issues a notice"
q c01 "INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome) VALUES
  ('c01-v1','c01','R-0012',date('now'),'探访','居家安全，无异常'),
  ('c01-v2','c01','R-0031',date('now'),'助餐','午餐送达');
INSERT INTO hazards(id,scope,category,location,found_on,deadline,stage) VALUES
  ('c01-h1','c01','燃气','3号楼101厨房','2025-03-02','2025-03-10','整改');"
q c02 "INSERT INTO hotline_cases(id,scope,case_no,category,received_on,due_on,status,satisfaction) VALUES
  ('c02-k1','c02','12345-0301','噪声扰民','2025-03-01','2025-03-08','已办结','好'),
  ('c02-k2','c02','12345-0302','垃圾分类','2025-03-02','2025-03-09','办理中',NULL);
INSERT INTO disputes(id,scope,parties_ref,category,status,opened_on) VALUES
  ('c02-d1','c02','P-07/P-09','邻里','调解中','2025-03-03');"
q c03 "INSERT INTO hazards(id,scope,category,location,found_on,deadline) VALUES
  ('c03-h1','c03','电动自行车','5号楼楼道','2025-03-05','2025-03-20');
INSERT INTO care_visits(id,scope,resident_ref,visited_on) VALUES ('c03-v1','c03','R-0101',date('now'));"
q hub "INSERT INTO notices(id,scope,title,body,audience,issued_by) VALUES
  ('n-2025-01','street','燃气安全专项检查','请各居民区本周内完成排查','all','街道安委办'),
  ('n-2025-02','street','12345 工单月度复盘','请 c01、c02 报送本月超期工单原因','c01,c02','街道网格中心');"
q c01 "INSERT INTO meal_points(id,scope,place,capacity,hours,status) VALUES
  ('c01-m1','c01','社区食堂（长乐路）',80,'11:00-13:00','运营');
INSERT INTO enterprise_visits(id,scope,enterprise,building,visited_on,issues,follow_up) VALUES
  ('c01-e1','c01','某某科技有限公司','长乐大厦','2025-03-04','停车位紧张','已协调物业');
INSERT INTO hotline_cases(id,scope,case_no,category,received_on,due_on,status,satisfaction) VALUES
  ('c01-k1','c01','12345-0303','电梯故障','2025-03-02','2025-03-05','已办结','差');"
street_wait_converged 30 hub c01 c02 c03 || { echo "did not converge"; exit 1; }
echo "converged: every committee holds its rows and the notice"

say "c03 is cut off from the network"
street_cut c03
sleep 5
q c03 "INSERT INTO care_visits(id,scope,resident_ref,visited_on,outcome) VALUES ('c03-v2','c03','R-0102',date('now'),'断网期间记录');
UPDATE hazards SET stage='整改', description='充电线私拉，已通知物业' WHERE id='c03-h1';
INSERT INTO notice_acks(notice_id,scope,acked_on,acked_by) VALUES ('n-2025-01','c03',date('now'),'c03');"
q hub "UPDATE hazards SET stage='交办', assigned_to='物业公司' WHERE id='c03-h1';
INSERT INTO hazards(id,scope,category,location,found_on,deadline,stage,assigned_to) VALUES
  ('c03-h2','c03','消防','菜场后门通道','2025-03-06','2025-03-12','交办','c03');"
q c01 "UPDATE care_visits SET follow_up=1 WHERE id='c01-v2'"

say "while c03 is cut off, the street office adds hazards.photo_ref (a signed schema migration)"
cat >"$W/photo_ref.sql" <<'EOF2'
-- 2026 work plan: a photo of every hazard found
ALTER TABLE hazards ADD COLUMN photo_ref TEXT DEFAULT '';
EOF2
"$LINLI" --dir "$W/hub" schema apply "$W/photo_ref.sql"
at_v2() { [ "$(q "$1" "SELECT value FROM linli_meta WHERE key='schema_version'")" = 2 ]; }
for c in c01 c02; do
  i=0; while ! at_v2 $c && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
  at_v2 $c || { echo "$c did not get the migration"; exit 1; }
done
echo "c01 and c02 (online) migrated within seconds; c03 (cut off) is still at version $(q c03 "SELECT value FROM linli_meta WHERE key='schema_version'") and keeps writing"
q hub "UPDATE hazards SET photo_ref='photos/c03-h2.jpg' WHERE id='c03-h2'"
q c01 "UPDATE hazards SET photo_ref='photos/c01-h1.jpg' WHERE id='c01-h1'"
q c03 "INSERT INTO hazards(id,scope,category,location,found_on,deadline) VALUES
  ('c03-h3','c03','九小场所','便利店仓库','2025-03-07','2025-03-21');"
sleep 2
echo "c03's view while cut off:"
"$LINLI" --dir "$W/c03" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({k: s[k] for k in ("name","peers") if k in s}, ensure_ascii=False, indent=1))'

say "the link returns; nobody runs a command"
street_heal c03
street_wait_converged 40 hub c01 c02 c03 || { echo "did not converge after healing"; exit 1; }
at_v2 c03 || { echo "c03 did not get the migration after the heal"; exit 1; }
echo "c03 caught up, migrated to street schema version 2 with the hub's photo_ref; its hazard written under version 1 arrived:"
q c03 "SELECT id, stage, photo_ref FROM hazards ORDER BY id"
q hub "SELECT id, stage, photo_ref FROM hazards WHERE scope='c03' ORDER BY id"
"$LINLI" --dir "$W/hub" schema show
"$LINLI" --dir "$W/c03" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({k: s[k] for k in ("name","peers") if k in s}, ensure_ascii=False, indent=1))'

say "the conflicting edit: both replicas chose the same value; the loser is kept"
q hub "SELECT id, stage, assigned_to, description FROM hazards WHERE id='c03-h1'"
q c03 "SELECT id, stage, assigned_to, description FROM hazards WHERE id='c03-h1'"
"$LINLI" --dir "$W/c03" conflicts

say "the street's report"
"$LINLI" --dir "$W/hub" report

say "convergence check: per-scope content hashes"
printf '%-8s %-10s %-66s %s\n' node scope hash rows
for c in c01 c02 c03; do
  for s in "$c" street; do
    printf '%-8s %s\n' hub "$(grep "^$s " "$W/digest.hub")"
    printf '%-8s %s\n' "$c" "$(grep "^$s " "$W/digest.$c")"
  done
done
street_converged hub c01 c02 c03 && echo "CONVERGED: every committee equals the hub on every scope it reads"

say "the street's dashboard (linli web, read-only, beside serve)"
WEB_PORT=$(street_port)
street_start_bg web "$LINLI" --dir "$W/hub" web --listen "127.0.0.1:$WEB_PORT"
i=0; while ! grep -q "dashboard" "$W/web.log" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
python3 - "$WEB_PORT" <<'EOF2'
import re, sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
for path, name in (("/", "总览"), ("/hazards", "隐患"), ("/hotline", "12345"), ("/care", "关爱"), ("/notices", "通知")):
    html = urllib.request.urlopen(base + path, timeout=10).read().decode()
    figs = len(re.findall(r'data-fig="', html))
    print("  %-10s %-5s %6d bytes, %2d figures from the report" % (path, name, len(html), figs))
EOF2
if [ "${DEMO_WEB_KEEP:-}" = 1 ]; then
  echo "dashboard: http://127.0.0.1:$WEB_PORT/   (the street keeps running; Ctrl-C stops everything)"
  trap 'echo; street_stop; rm -rf "$W"; exit 0' INT TERM
  while :; do sleep 1; done
fi
street_stop
echo "dashboard was at: http://127.0.0.1:$WEB_PORT/  (stopped with the street; 'make demo-web' keeps both up until Ctrl-C)"
echo "all processes stopped; demo took $(( $(date +%s) - t0 )) s"
