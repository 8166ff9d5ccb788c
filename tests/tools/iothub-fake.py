#!/usr/bin/env python3
# tests/tools/iothub-fake.py PORTFILE - a fake IoT Hub twin query for the
# answers twin-emulator never gives: POST /devices/query answers, by the
# query text, "bad" -> twins that are not objects or lack their ids (page 1
# of 2), "garbage" -> a page that is not JSON. Writes its port to PORTFILE.
import http.server
import json
import sys


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        q = json.loads(self.rfile.read(n) or b"{}").get("query", "")
        cont = self.headers.get("x-ms-continuation")
        if "garbage" in q:
            body, more = b"[{\"deviceId\":\"a\",", None
        elif cont is None:
            body = json.dumps([{"deviceId": "a", "version": 1}, 7,
                               {"version": 2}]).encode()
            more = "p2"
        else:
            body = json.dumps([{"deviceId": "b", "version": 3},
                               {"deviceId": "c", "moduleId": 5}]).encode()
            more = None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if more:
            self.send_header("x-ms-continuation", more)
        self.end_headers()
        self.wfile.write(body)


s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
