#!/bin/sh
# web_http: the dashboard at the HTTP level, with curl. On a hub with a few
# records: the security headers on every answer (a page, a 404, a 405);
# every method but GET and HEAD refused with 405; path traversal 404; an
# over-long URL, too many headers and an idle half-sent request refused by
# the LI_WEB_* limits; /api/report, /api/status and /report.csv the same as
# the CLI's; the password rule (a non-loopback address refused without one,
# before anything is bound); the login (cookie HttpOnly SameSite=Strict,
# failures rate-limited); `report` in Chinese under LANG=zh_CN.UTF-8.
set -eu
T=web_http
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl is not installed (make test installs it)"; exit 77; }
t_begin street

"$LINLI" --dir "$W/hub" init --role hub --name street >/dev/null
"$LINLI" --dir "$W/hub" roster add c01 "$("$LINLI" --dir "$W/c01k" init --role committee --name c01 --scope c01 \
  --hub-key "$("$LINLI" --dir "$W/hub" id)" >/dev/null && "$LINLI" --dir "$W/c01k" id)" --scope c01 >/dev/null
q hub "INSERT INTO hazards(id,scope,category,location,found_on,deadline,stage) VALUES
  ('h1','c01','燃气','3号楼101厨房','2025-03-02','2025-03-10','整改');
INSERT INTO hotline_cases(id,scope,case_no,received_on,due_on,status,satisfaction) VALUES
  ('k1','c01','12345-1','2025-03-01','2025-03-05','已办结','好');"
"$LINLI" --dir "$W/hub" commit >/dev/null

WP=$(street_port)
start_web() {
  street_start_bg web "$LINLI" --dir "$W/hub" web --listen "127.0.0.1:$WP"
  wait_until 20 curl -s -o /dev/null "http://127.0.0.1:$WP/app.css" || fail "linli web did not start"
}
start_web
U="http://127.0.0.1:$WP"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# -- headers on every answer
for p in / /nope; do
  curl -s -D "$W/h" -o /dev/null "$U$p"
  grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" "$W/h" || fail "$p: no strict CSP"
  grep -qi '^X-Content-Type-Options: nosniff' "$W/h" || fail "$p: no nosniff"
  grep -qi '^X-Frame-Options: DENY' "$W/h" || fail "$p: no X-Frame-Options"
done
curl -s -D "$W/h" -o /dev/null -X POST "$U/"
grep -qi "^Content-Security-Policy: default-src 'none'" "$W/h" || fail "405: no CSP"
echo "headers: CSP, nosniff, DENY on a page, a 404 and a 405"

# -- methods
for m in POST PUT DELETE PATCH OPTIONS; do
  c=$(code -X "$m" "$U/"); [ "$c" = 405 ] || fail "$m / answered $c, not 405"
done
c=$(code -X POST "$U/api/status"); [ "$c" = 405 ] || fail "POST /api/status answered $c"
c=$(code -X POST --data 'password=x' "$U/login"); [ "$c" = 405 ] || fail "POST /login without a password set answered $c"
curl -s -D "$W/h" -o /dev/null -X DELETE "$U/hazards"
grep -qi '^Allow: GET, HEAD' "$W/h" || fail "405 without Allow"
[ "$(curl -s -I "$U/" | head -n 1 | tr -d '\r')" = "HTTP/1.1 200 OK" ] || fail "HEAD / is not 200"
echo "methods: POST PUT DELETE PATCH OPTIONS -> 405 (Allow: GET, HEAD); HEAD -> 200"

# -- traversal: nothing is served from files; every such path is 404
for p in "/../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/app.css/../../linli.conf" "/..%2f..%2fetc%2fpasswd" \
  "/static/../../../key" "/record/../../replica.db"; do
  c=$(curl -s --path-as-is -o "$W/body" -w '%{http_code}' "$U$p")
  [ "$c" = 404 ] || fail "traversal $p answered $c"
  grep -q "root:" "$W/body" && fail "traversal $p served a file"
done
echo "traversal: 6 paths -> 404"

# -- limits (li_limits.h LI_WEB_*)
long=$(python3 -c 'print("a" * 3000)')
c=$(code "$U/$long"); [ "$c" = 414 ] || fail "a 3000-byte URL answered $c, not 414"
set --
i=0; while [ $i -lt 70 ]; do set -- "$@" -H "X-H$i: v"; i=$((i + 1)); done
c=$(code "$@" "$U/"); [ "$c" = 431 ] || fail "70 headers answered $c, not 431"
big=$(python3 -c 'print("b" * 40000)')
c=$(code -H "X-Big: $big" "$U/"); case $c in 413 | 414 | 431) ;; *) fail "a 40 KB header answered $c" ;; esac
# a slow client: half a request, then silence; cut after LI_WEB_IDLE_S
python3 - "$WP" <<'EOF' || fail "an idle half-sent request was not cut off"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
s.settimeout(40)          # LI_WEB_IDLE_S is 10: generous, this is not a timing test
t = time.monotonic()
data = s.recv(4096)
print("idle: half a request, cut off after %.0f s (%s)" % (time.monotonic() - t, "closed" if not data else data.split(b"\r\n")[0].decode()))
sys.exit(0 if not data or data.startswith(b"HTTP/1.1 408") else 1)
EOF
echo "limits: long URL 414, 70 headers 431, 40 KB header $c"

# -- the same JSON and CSV as the CLI
python3 - "$U" "$LINLI" "$W/hub" <<'EOF' || fail "the API differs from the CLI"
import json, subprocess, sys, urllib.request
u, linli, hub = sys.argv[1:4]
def get(p):
    r = urllib.request.urlopen(u + p, timeout=10)
    return r.headers, r.read()
def cli(*a):
    return subprocess.run([linli, "--dir", hub] + list(a), check=True, capture_output=True).stdout
VOLATILE = ("generated", "newest_commit_age", "newest_commit_age_ms", "serve_running", "serve_saved_ms", "saved_ago_ms")
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
for path, args in (("/api/report", ("report", "--json")), ("/api/status", ("status", "--json"))):
    h, body = get(path)
    assert h["Content-Type"].startswith("application/json"), h["Content-Type"]
    a, b = strip(json.loads(body)), strip(json.loads(cli(*args)))
    assert a == b, "%s differs from linli %s:\n%s\n%s" % (path, " ".join(args), a, b)
h, body = get("/report.csv")
assert body.startswith(b"\xef\xbb\xbf"), "no BOM"
assert h["Content-Type"].startswith("text/csv") and "attachment" in h["Content-Disposition"]
mine, theirs = body.decode("utf-8-sig").splitlines(), cli("report", "--csv").decode("utf-8-sig").splitlines()
age = mine[0].split(",").index("newest_commit_age")
cut = lambda rows: [",".join(c for i, c in enumerate(r.split(",")) if i != age) for r in rows]
assert cut(mine) == cut(theirs), "report.csv differs:\n%s\n%s" % (mine, theirs)
h, body = get("/hazards_overdue.csv")
assert body.startswith(b"\xef\xbb\xbf") and "3号楼101厨房" in body.decode()
print("api: /api/report and /api/status equal the CLI's JSON; /report.csv equals report --csv (UTF-8 BOM)")
EOF

# -- Chinese headings
LANG=zh_CN.UTF-8 "$LINLI" --dir "$W/hub" report | grep -q "居委会" || fail "report under zh_CN has no Chinese headings"
LANG=C "$LINLI" --dir "$W/hub" report | grep -q "committee" || fail "report under C lost its English headings"

# -- the password rule: not loopback and no password: refused before binding
for a in 0.0.0.0 192.0.2.1 "[::]"; do
  if "$LINLI" --dir "$W/hub" web --listen "$a:$WP" >"$W/np.out" 2>&1; then fail "web on $a started without a password"; fi
  grep -q "needs a password" "$W/np.out" || { cat "$W/np.out"; fail "web on $a: no clear message"; }
done
echo "password rule: 0.0.0.0, 192.0.2.1, [::] refused without a password: $(head -n 1 "$W/np.out")"
echo "short" | "$LINLI" --dir "$W/hub" web --set-password >"$W/sp.out" 2>&1 && fail "a 5-character password was taken"
echo "correct horse battery" | "$LINLI" --dir "$W/hub" web --set-password >"$W/sp.out" 2>&1 ||
  { cat "$W/sp.out"; fail "set-password failed"; }
grep -qi "password:" "$W/sp.out" && fail "set-password prompted without a terminal"
[ "$(stat -c %a "$W/hub/web.password")" = 600 ] || fail "web.password is not 0600"
grep -q "correct horse" "$W/hub/web.password" && fail "the password is stored in the clear"

# -- login (the server re-reads the password at start)
street_stop
start_web
[ "$(code "$U/")" = 303 ] || fail "a page without a session is not sent to the login"
[ "$(code "$U/api/status")" = 401 ] || fail "the API without a session is not 401"
[ "$(code "$U/login")" = 200 ] || fail "the login form is not served"
curl -s -D "$W/h" -o /dev/null --data 'password=correct+horse+battery' "$U/login"
grep -q '^HTTP/1.1 303' "$W/h" || fail "the right password does not log in"
cookie=$(sed -n 's/^Set-Cookie: \(linli_session=[0-9a-f]*\).*/\1/p' "$W/h" | tr -d '\r')
grep -i '^Set-Cookie:' "$W/h" | grep -q 'HttpOnly' || fail "the cookie is not HttpOnly"
grep -i '^Set-Cookie:' "$W/h" | grep -q 'SameSite=Strict' || fail "the cookie is not SameSite=Strict"
[ "$(code -H "Cookie: $cookie" "$U/hazards")" = 200 ] || fail "the session does not open the pages"
[ "$(code -H "Cookie: linli_session=$(python3 -c 'print("0" * 64)')" "$U/hazards")" = 303 ] || fail "a forged session opens the pages"
i=0; codes=""
while [ $i -lt 6 ]; do codes="$codes $(code --data 'password=wrong-guess' "$U/login")"; i=$((i + 1)); done
[ "$codes" = " 401 401 401 401 401 429" ] || fail "failed logins are not rate-limited: $codes"
[ "$(code --data 'password=correct+horse+battery' "$U/login")" = 429 ] || fail "the limit lets a login through"
echo "login: 303 to /login without a session, cookie HttpOnly SameSite=Strict, failures:$codes"
echo "ok $T ($(($(date +%s) - t0)) s)"
