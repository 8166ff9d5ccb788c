#!/usr/bin/env python3
"""lib-adt-spec.py - replay one ADT specification fixture against twin-emulator.

usage: lib-adt-spec.py BASE_URL OUTDIR FIXTURE.json...

Each fixture is replayed in turn; OUTDIR/NAME.ok is written for one that
held, OUTDIR/NAME.fail (saying what differed) for one that did not.

A fixture (tests/fixtures/adt-spec/*.json) holds one example of Microsoft's
ADT data-plane specification (or one status code the specification lists):

  example   the example file it comes from (null for a listed status code)
  source    where in the specification it comes from
  note      where the fixture departs from the example, and why
  setup     names of files in _setup/ whose steps run first, then
  steps     more steps; every step must answer its "status" (default: 2xx)
  request   the request of the example: method, path (percent-encoded,
            without api-version), headers, body
  status    the documented status
  headers   response headers to compare
  body      the documented body, or the fields of it to compare
  after     more requests with their status and body, checking the state
            the example leaves

Bodies compare as subsets: every key given must be there with a matching
value, extra keys are allowed, arrays must match element by element and in
length. Placeholder strings stand for what cannot match: "<time>" (ADT's
2022-02-28T00:30:00.1234567Z form), "<etag>" (W/"guid"), "<string>",
"<any>" (present), "<absent>" (key not there), "<null-or-url>",
"<one-of:A|B>". "${name}" is the value a step saved with "save":
{"name": "field"}. The emulator is emptied (relationships, twins, models)
before a fixture runs. Exit 0 if every fixture held, 1 otherwise.
"""
import json
import os
import re
import sys
import urllib.error
import urllib.request

API = "api-version=2023-10-31"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
ETAG = re.compile(r'^W/"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$')
URL = re.compile(r"^https?://[^/]+/")


class Failed(Exception):
    pass


def call(base, method, path, headers=None, body=None):
    url = base + path + ("&" if "?" in path else "?") + API
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        ctype = "application/json-patch+json" if method == "PATCH" else "application/json"
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, str(v))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, hdrs, parsed


def subst(v, saved):
    if isinstance(v, str):
        m = re.fullmatch(r"\$\{(\w+)\}", v)
        if m:
            return saved[m.group(1)]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(saved[m.group(1)]), v)
    if isinstance(v, list):
        return [subst(x, saved) for x in v]
    if isinstance(v, dict):
        return {k: subst(x, saved) for k, x in v.items()}
    return v


def match(exp, act, where):
    if isinstance(exp, str) and exp.startswith("<") and exp.endswith(">"):
        ok = {
            "<time>": lambda: isinstance(act, str) and TIME.match(act),
            "<etag>": lambda: isinstance(act, str) and ETAG.match(act),
            "<string>": lambda: isinstance(act, str),
            "<any>": lambda: True,
            "<null-or-url>": lambda: act is None or (isinstance(act, str) and URL.match(act)),
        }.get(exp)
        if ok is None and exp.startswith("<one-of:"):
            ok = lambda: act in exp[8:-1].split("|")
        if ok is None:
            raise Failed("%s: unknown placeholder %s" % (where, exp))
        if not ok():
            raise Failed("%s: %r is not %s" % (where, act, exp))
        return
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            raise Failed("%s: expected an object, got %r" % (where, act))
        for k, v in exp.items():
            if v == "<absent>":
                if k in act:
                    raise Failed("%s.%s: should be absent, is %r" % (where, k, act[k]))
                continue
            if k not in act:
                if v == "<null-or-url>":
                    continue
                raise Failed("%s.%s: missing (expected %r)" % (where, k, v))
            match(v, act[k], "%s.%s" % (where, k))
        return
    if isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            raise Failed("%s: expected %d items, got %r" % (where, len(exp), act))
        for i, (e, a) in enumerate(zip(exp, act)):
            match(e, a, "%s[%d]" % (where, i))
        return
    if exp != act or isinstance(exp, bool) != isinstance(act, bool):
        raise Failed("%s: expected %r, got %r" % (where, exp, act))


def reset(base):
    """Delete every relationship, twin and model (bounded rounds)."""
    for _ in range(20):
        st, _, b = call(base, "POST", "/query", None, {"query": "SELECT * FROM RELATIONSHIPS"})
        rels = b["value"] if st == 200 else []
        for r in rels:
            call(base, "DELETE", "/digitaltwins/%s/relationships/%s" % (
                q(r["$sourceId"]), q(r["$relationshipId"])))
        st, _, b = call(base, "POST", "/query", None, {"query": "SELECT * FROM DIGITALTWINS"})
        twins = b["value"] if st == 200 else []
        for t in twins:
            call(base, "DELETE", "/digitaltwins/%s" % q(t["$dtId"]))
        st, _, b = call(base, "GET", "/models")
        models = b["value"] if st == 200 else []
        for m in reversed(models):
            call(base, "DELETE", "/models/%s" % q(m["id"]))
        if not rels and not twins and not models:
            return
    raise Failed("could not empty the emulator")


def q(s):
    return urllib.request.quote(s, safe="")


def step(base, s, saved, what):
    st, hdrs, body = call(base, s["method"], subst(s["path"], saved),
                          subst(s.get("headers"), saved), subst(s.get("body"), saved))
    want = s.get("status")
    if (want is None and not 200 <= st < 300) or (want is not None and st != want):
        raise Failed("%s %s %s: status %d (%s)" % (what, s["method"], s["path"], st, body))
    for name, field in s.get("save", {}).items():
        saved[name] = body[field]
    return st, hdrs, body


def check(base, fx, saved, what):
    st, hdrs, body = step(base, dict(fx["request"], status=fx["status"]), saved, what)
    for k, v in fx.get("headers", {}).items():
        match(v, hdrs.get(k), "%s header %s" % (what, k))
    if "body" in fx:
        match(subst(fx["body"], saved), body, what + " body")


def replay(base, path):
    with open(path) as f:
        fx = json.load(f)
    saved = {}
    reset(base)
    for name in fx.get("setup", []):
        with open(os.path.join(os.path.dirname(path), "_setup", name + ".json")) as f:
            for s in json.load(f)["steps"]:
                step(base, s, saved, "setup " + name)
    for s in fx.get("steps", []):
        step(base, s, saved, "step")
    check(base, fx, saved, "request")
    for i, a in enumerate(fx.get("after", [])):
        check(base, a, saved, "after[%d]" % i)


def main():
    base, out, rc = sys.argv[1], sys.argv[2], 0
    for path in sys.argv[3:]:
        name = os.path.join(out, os.path.basename(path)[:-5])
        try:
            replay(base, path)
            open(name + ".ok", "w").close()
        except (Failed, KeyError, ValueError, TypeError, OSError) as e:
            with open(name + ".fail", "w") as f:
                f.write("%s: %s: %s\n" % (os.path.basename(path), type(e).__name__, e))
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
