#!/usr/bin/env python3
"""A tiny LOB HTTP API for extract-lob's tests (loopback, port 0).

Usage: lob-http.py PORTFILE [RECORDS]
Serves RECORDS (default 25) records {"id": i, "name": "org i"} as:
  /odata?page=N        {"value":[...10...], "@odata.nextLink": "/odata?page=N+1"}
  /link?page=N         a JSON array, next page in a Link: rel="next" header
  /offset?offset=&limit=  a JSON array slice
  /flaky?page=N        like /odata, but every first try of a page is a 503
                       (even pages) or a 429 with Retry-After: 1 (odd)
  /auth/...            like /odata, needs "Authorization: Bearer tok" or
                       Basic u:p or "X-Api-Key: k"
  /broken              not JSON;  /down  always 500
  POST /TENANT/oauth2/v2.0/token   a token endpoint (client secret "sekrit")
  /p[?bad=1]           two records (and a non-object with bad=1), no next
  /foreign?to=PORT     one record, the next link on http://127.0.0.1:PORT
  /redirect?to=PORT    302 to http://127.0.0.1:PORT/odata
Every request is logged to PORTFILE.log as "METHOD PATH AUTH", and with all
its headers to PORTFILE.hdr ("METHOD PATH", "Name: value" lines, "--").
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORTFILE = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 25
RECS = [{"id": i, "name": "org %d" % i} for i in range(1, N + 1)]
SEEN = set()


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        auth = self.headers.get("Authorization", "") or self.headers.get("X-Api-Key", "")
        with open(PORTFILE + ".log", "a") as f:
            f.write("GET %s %s\n" % (self.path, auth))
        with open(PORTFILE + ".hdr", "a") as f:
            f.write("GET %s\n" % self.path)
            for k, v in self.headers.items():
                f.write("%s: %s\n" % (k, v))
            f.write("--\n")
        page = int(q.get("page", "0"))
        path = u.path
        if path.startswith("/auth/"):
            ok = auth in ("Bearer tok", "k",
                          "Basic " + base64.b64encode(b"u:p").decode())
            if not ok:
                return self.send(401, {"error": "unauthorized"})
            path = path[5:]
        if path == "/flaky":
            if self.path not in SEEN:
                SEEN.add(self.path)
                if page % 2 == 0:
                    return self.send(503, {"error": "busy"})
                return self.send(429, {"error": "slow down"}, [("Retry-After", "1")])
            path = "/odata"
        if path == "/odata":
            items = RECS[page * 10:page * 10 + 10]
            body = {"value": items}
            if page * 10 + 10 < N:
                body["@odata.nextLink"] = "%s?page=%d" % (u.path, page + 1)
            return self.send(200, body)
        if path == "/link":
            items = RECS[page * 10:page * 10 + 10]
            h = []
            if page * 10 + 10 < N:
                h.append(("Link", '<http://127.0.0.1:%d/link?page=%d>; rel="next"'
                          % (self.server.server_port, page + 1)))
            return self.send(200, items, h)
        if path == "/offset":
            o, l = int(q.get("offset", 0)), int(q.get("limit", 10))
            return self.send(200, {"data": {"rows": RECS[o:o + l]}})
        if path == "/p":
            items = [{"id": 1}, {"id": 2}] + ([3] if "bad" in q else [])
            return self.send(200, {"value": items})
        if path == "/foreign":
            return self.send(200, {"value": [{"id": 1}], "@odata.nextLink":
                                   "http://127.0.0.1:%s/odata?page=2" % q["to"]})
        if path == "/redirect":
            return self.send(302, {}, [("Location", "http://127.0.0.1:%s/odata" % q["to"])])
        if path == "/broken":
            return self.send(200, b"<html>not json")
        if path == "/down":
            return self.send(500, {"error": "down"})
        self.send(404, {"error": "no such path"})


    def do_POST(self):
        # an Entra ID token endpoint: /{tenant}/oauth2/v2.0/token
        n = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(n).decode())
        with open(PORTFILE + ".log", "a") as f:
            f.write("POST %s %s\n" % (self.path, form.get("scope", [""])[0]))
        if not self.path.endswith("/oauth2/v2.0/token"):
            return self.send(404, {"error": "no such path"})
        if form.get("client_secret", [""])[0] != "sekrit":
            return self.send(401, {"error": "invalid_client"})
        self.send(200, {"access_token": "tok", "expires_in": 3600,
                        "token_type": "Bearer"})


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_port))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
