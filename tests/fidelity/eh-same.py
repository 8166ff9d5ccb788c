#!/usr/bin/python3
# Are two ingest-eventhub outputs (NDJSON records, or dead letters) the
# same events, modulo the transport's positions? Drops _meta.src's
# offset-like fields (offset, timestamp, sequenceNumber, amqpOffset), the
# broker's x-opt-* annotations in system and the dead letter's source and
# line, then compares the sorted records exactly (numbers as written).
# Usage: eh-same.py A B; exit 0 when equal, else prints the difference.
import json, sys

def norm(o):
    r = o.get("record", o)
    src = r.get("_meta", {}).get("src", {})
    for k in ("offset", "timestamp", "sequenceNumber", "amqpOffset"):
        src.pop(k, None)
    r["system"] = {k: v for k, v in (r.get("system") or {}).items()
                   if not k.startswith("x-opt-")}
    if "error" in o:
        o["error"].pop("source", None)
        o["error"].pop("line", None)
    return json.dumps(o, sort_keys=True, ensure_ascii=False)

def load(f):
    # int/float kept as written: compare the text of numbers
    return sorted(norm(json.loads(l, parse_float=lambda s: ["#num", s], parse_int=lambda s: ["#num", s])) for l in open(f, encoding="utf-8"))

a, b = load(sys.argv[1]), load(sys.argv[2])
if a == b and a:
    print("same %d" % len(a))
    sys.exit(0)
print("%s: %d, %s: %d" % (sys.argv[1], len(a), sys.argv[2], len(b)))
for x in sorted(set(a) ^ set(b))[:6]:
    print(("only in A: " if x in a else "only in B: ") + x)
sys.exit(1)
