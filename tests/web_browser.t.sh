#!/bin/sh
# web_browser: the dashboard in a real browser. A street (hub, c01, c02 as
# `linli serve` on loopback) where committees wrote hostile text into their
# records (<img src=x onerror=alert(1)>, <script>, an attribute break-out, a
# formula) syncs; `linli web` runs beside serve on the hub and on c01.
# Headless Chromium (tests/web_browser.py, over the DevTools pipe) loads
# every page and checks: HTTP 200, no console error or CSP violation, no
# injected script ran (no dialog, window.__pwned unset, no element made of
# committee text, also with the CSP bypassed), the hostile text shown as
# text, and every figure equal to `linli report --json` of the same replica.
# Screenshots of each page: $LINLI_BUILD/web-shots/{hub,c01}/.
set -eu
T=web_browser
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed (make test installs it)"; exit 77; }
t_begin street

PORT=$(street_port)
street_init hub "$PORT" c01 c02
street_run hub "$PORT" c01 c02
q c01 "INSERT INTO hazards(id,scope,category,location,description,found_on,deadline,stage) VALUES
  ('c01-h1','c01','燃气','<img src=x onerror=alert(1)>','<script>window.__pwned=1</script>','2025-03-02','2025-03-10','整改'),
  ('c01-h2','c01','消防','3号楼楼道','杂物堵塞','2025-03-03','2099-12-31','排查'),
  ('c01-h3','c01','其他','\"><svg onload=alert(2)>','x','2025-03-03','2025-03-04','销号');
INSERT INTO care_visits(id,scope,resident_ref,visited_on,kind,outcome) VALUES
  ('c01-v1','c01','R-0012',date('now'),'探访','<iframe src=javascript:alert(3)>');
INSERT INTO meal_points(id,scope,place,capacity,hours,status) VALUES ('c01-m1','c01','=HYPERLINK(\"x\")',60,'11:00-13:00','运营');
INSERT INTO enterprise_visits(id,scope,enterprise,building,visited_on,issues) VALUES
  ('c01-e1','c01','</td></tr></table><script>window.__pwned=2</script>','长乐大厦','2025-03-04','停车');"
q c02 "INSERT INTO hotline_cases(id,scope,case_no,category,received_on,due_on,status,satisfaction) VALUES
  ('c02-k1','c02','12345-0301','噪声扰民','2025-03-01','2025-03-08','已办结','好'),
  ('c02-k2','c02','12345-0302','<style>body{display:none}</style>','2025-03-02','2025-03-09','办理中',NULL),
  ('c02-k3','c02','12345-0303','垃圾','2025-03-02','2025-03-09','已办结','差');
INSERT INTO disputes(id,scope,parties_ref,category,status,opened_on) VALUES
  ('c02-d1','c02','P-07/P-09','<a href=javascript:alert(4)>邻里</a>','调解中','2025-03-03');
INSERT INTO notice_acks(notice_id,scope,acked_on,acked_by) VALUES ('n-1','c02','2025-03-05','c02');"
q hub "INSERT INTO notices(id,scope,title,body,audience,issued_by) VALUES
  ('n-1','street','燃气安全专项检查<img src=x onerror=alert(5)>','请各居民区本周内完成排查','all','街道安委办');"
street_wait_converged 40 hub c01 c02 || fail "the street did not converge"

web() { # NODE: linli web on the node at a free loopback port; sets URL
  wp=$(street_port)
  street_start_bg "web-$1" "$LINLI" --dir "$W/$1" web --listen "127.0.0.1:$wp"
  URL="http://127.0.0.1:$wp"
  wait_until 20 grep -q "dashboard of" "$W/web-$1.log" || fail "linli web on $1 did not start"
}
shots=${LINLI_BUILD:-$W}/web-shots
rm -rf "$shots"

web hub
"$LINLI" --dir "$W/hub" report --json >"$W/report-hub.json"
python3 "$(dirname "$0")/web_browser.py" "$URL" "$W/report-hub.json" "$shots/hub" \
  "/|各居委会|提醒" \
  "/hazards|<img src=x onerror=alert(1)>|逾期隐患|3号楼楼道" \
  "/hotline|<style>body{display:none}</style>|好差评" \
  "/care|<iframe src=javascript:alert(3)>|=HYPERLINK(\"x\")|助餐点" \
  "/disputes|<a href=javascript:alert(4)>邻里</a>" \
  "/enterprises|</td></tr></table><script>window.__pwned=2</script>" \
  "/notices|燃气安全专项检查<img src=x onerror=alert(5)>|c02 ✓" \
  "/record?t=hazards&id=c01-h1&scope=c01|签名有效|<script>window.__pwned=1</script>" \
  >"$W/browser-hub.out" 2>&1 || { cat "$W/browser-hub.out"; fail "the hub's dashboard failed in the browser"; }
cat "$W/browser-hub.out"

# a committee's dashboard: its own scope and its link to the hub
web c01
"$LINLI" --dir "$W/c01" report --json >"$W/report-c01.json"
python3 "$(dirname "$0")/web_browser.py" "$URL" "$W/report-c01.json" "$shots/c01" \
  "/|本居委会与街道的连接" "/hazards|<img src=x onerror=alert(1)>" "/notices|燃气安全专项检查" \
  >"$W/browser-c01.out" 2>&1 || { cat "$W/browser-c01.out"; fail "c01's dashboard failed in the browser"; }
cat "$W/browser-c01.out"
grep -q "c02" "$W/report-c01.json" && fail "c01's report names c02: a committee sees its own scope only"
ls "$shots/hub"/*.png "$shots/c01"/*.png >/dev/null || fail "no screenshots"
echo "ok $T ($(($(date +%s) - t0)) s; screenshots in $shots)"
