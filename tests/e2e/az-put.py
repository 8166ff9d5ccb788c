#!/usr/bin/env python3
"""az-put.py - test helper: create a container and upload files to Azurite
with SharedKey, signed here with the standard library (independently of
twinpipe's code).

    az-put.py URL CONTAINER                 create the container (201 or 409)
    az-put.py URL CONTAINER NAME FILE ...   upload FILE as blob NAME (pairs)

URL is Azurite's account URL (http://127.0.0.1:PORT/devstoreaccount1);
the account key comes from AZ_KEY.
"""
import base64, hashlib, hmac, http.client, os, sys, urllib.parse
from email.utils import formatdate

def req(method, url, body=b"", extra=None, query=None):
    key = base64.b64decode(os.environ["AZ_KEY"])
    u = urllib.parse.urlsplit(url)
    account = u.path.split("/")[1]
    hdrs = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    hdrs.update(extra or {})
    canon_h = "".join(f"{k}:{v}\n" for k, v in sorted(hdrs.items()) if k.startswith("x-ms-"))
    canon_r = f"/{account}{u.path}"
    for k, v in sorted((query or {}).items()):
        canon_r += f"\n{k}:{v}"
    clen = str(len(body)) if body else ""
    ctype = hdrs.get("Content-Type", "")
    sts = "\n".join([method, "", "", clen, "", ctype, "", "", "", "", "", ""]) + "\n" + canon_h + canon_r
    sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
    hdrs["Authorization"] = f"SharedKey {account}:{sig}"
    path = u.path + ("?" + urllib.parse.urlencode(query) if query else "")
    hdrs["Content-Length"] = str(len(body))
    global conn
    for attempt in (1, 2):	# one persistent connection per process
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (http.client.HTTPException, OSError):
            conn = None
            if attempt == 2:
                raise

conn = None

def main():
    url, container = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 3:
        st = req("PUT", f"{url}/{container}", extra={"Content-Type": "application/octet-stream"}, query={"restype": "container"})
        if st not in (201, 409):
            sys.exit(f"create container: HTTP {st}")
        return
    args = sys.argv[3:]
    for name, path in zip(args[0::2], args[1::2]):
        with open(path, "rb") as f:
            body = f.read()
        st = req("PUT", f"{url}/{container}/{urllib.parse.quote(name)}", body,
                 {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/json"})
        if st != 201:
            sys.exit(f"upload {name}: HTTP {st}")

main()
