#!/usr/bin/env bash
# extract-lob http: a relative next link is resolved against the page's URL
# as RFC 3986 5.2 says and its dot segments are removed ("%2E" too), so the
# request goes to the canonical URL (requests are sent as built: libcurl
# normalises nothing).
. "$(dirname "$0")/../lib.sh"
test_require python3 "the test API is a python3 http.server" || { test_done; exit 1; }

cat >api.py <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
log = open(sys.argv[2], "a", buffering=1)
PAGES = {
    "/api/v1/p1": ([{"id": 1}], "./sub/../%2E%2E/v1/p2"),
    "/api/v1/p2": ([{"id": 2}], "/api/v1/../v1/./p3?x=/../"),
    "/api/v1/p3?x=/../": ([{"id": 3}], None),
}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        log.write(self.path + "\n")
        if self.path not in PAGES:
            body = b'{"error":"no such page"}'; self.send_response(404)
        else:
            items, nxt = PAGES[self.path]
            page = {"value": items}
            if nxt: page["next"] = nxt
            body = json.dumps(page).encode(); self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
test_bg python3 api.py "$TEST_DIR/port" "$TEST_DIR/req.log" >/dev/null 2>&1
test_wait_for 60 "test -s \"$TEST_DIR/port\"" || true
U=http://127.0.0.1:$(cat "$TEST_DIR/port")

test_expect_success 'the test API listens' '
	test -n "$(cat port)"
'
test_expect_success 'next links with dot segments: the canonical URLs are requested' '
	extract-lob --run-id r1 --next .next "$U/api/v1/p1" >out 2>err &&
	jq -r "select(.id) | .id" out >ids && printf "1\n2\n3\n" >want && test_cmp want ids &&
	printf "%s\n" /api/v1/p1 /api/v1/p2 "/api/v1/p3?x=/../" >want.log &&
	test_cmp want.log req.log
'
test_done
