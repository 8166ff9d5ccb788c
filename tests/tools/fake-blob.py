#!/usr/bin/env python3
# tests/tools/fake-blob.py - a tiny Blob Storage stand-in for the archive
# tests that Azurite cannot do: an Entra token endpoint, and faults.
#   fake-blob.py LOG [FAULT...]    prints its URL on stdout, then serves
# FAULTs: 503-first (the first Put Blob gets 503), lose-first (the first
# Put Blob is stored but the connection is closed before the answer),
# hang-puts (no Put Blob is ever answered: a run to kill), 403-xml (every
# Put Blob gets 403 AuthenticationFailed with Azure's XML error body).
# Every request is logged to LOG as one JSON line: method, path, scope
# (token requests) and the Authorization header.
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

log = open(sys.argv[1], "a", buffering=1)
faults = set(sys.argv[2:])
blobs = {}
lock = threading.Lock()
seen_put = [0]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""
    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD": self.wfile.write(body)
    def note(self, **kw):
        d = {"method": self.command, "path": self.path,
             "auth": self.headers.get("Authorization")}
        d.update(kw); log.write(json.dumps(d) + "\n")
    def do_POST(self):
        form = parse_qs(self.body().decode())
        self.note(scope=form.get("scope", [None])[0])
        self.reply(200, json.dumps({"token_type": "Bearer", "expires_in": 3600,
            "access_token": "tok-123"}).encode(), [("Content-Type", "application/json")])
    def do_PUT(self):
        data = self.body(); u = urlparse(self.path); q = parse_qs(u.query)
        self.note()
        if q.get("restype") == ["container"]:
            return self.reply(201)
        if "comp" in q:
            return self.reply(400)
        if "hang-puts" in faults:
            time.sleep(3600)
        if "403-xml" in faults:
            return self.reply(403, (
                '<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                'AuthenticationFailed</Code><Message>Server failed to '
                'authenticate the request. Make sure the value of '
                'Authorization header is formed correctly including the '
                'signature.\nRequestId:8a1e0000-0000-0000-0000-000000000000\n'
                'Time:2026-01-01T00:00:00.0000000Z</Message>'
                '<AuthenticationErrorDetail>The MAC signature found in the '
                'HTTP request is not the same as any computed signature.'
                '</AuthenticationErrorDetail></Error>').encode(),
                [("x-ms-error-code", "AuthenticationFailed"),
                 ("Content-Type", "application/xml")])
        with lock:
            seen_put[0] += 1; first = seen_put[0] == 1
            if first and "503-first" in faults:
                return self.reply(503, b"busy")
            if u.path in blobs and self.headers.get("If-None-Match") == "*":
                return self.reply(409, b"", [("x-ms-error-code", "BlobAlreadyExists")])
            blobs[u.path] = (data, self.headers.get("x-ms-meta-sha256"))
        if first and "lose-first" in faults:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(201)
    def do_HEAD(self):
        u = urlparse(self.path); self.note()
        if u.path not in blobs: return self.reply(404)
        h = [("x-ms-meta-sha256", blobs[u.path][1])] if blobs[u.path][1] else []
        self.reply(200, b"", h)
    def do_GET(self):
        u = urlparse(self.path); self.note()
        if u.path not in blobs: return self.reply(404)
        self.reply(200, blobs[u.path][0])

ThreadingHTTPServer.daemon_threads = True
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
