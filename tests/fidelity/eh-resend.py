#!/usr/bin/python3
# Send again, to twin-emulator's Event Hubs AMQP endpoint, the events that
# ingest-eventhub read from Kafka: its NDJSON records and dead letters
# (whose body is the raw body in base64), each to the same partition, in
# partition and offset order, with the same body bytes, application
# properties (JSON types as AMQP types: null, boolean, long, or ulong past
# 2^63-1, double, string), message-id, content-type and annotations.
# Usage: eh-resend.py AMQP-URL HUB FILE... ; prints "sent N".
import base64, json, sys
from proton import Message, symbol, ulong
from proton.utils import BlockingConnection

url, hub = sys.argv[1:3]
evs = []
for f in sys.argv[3:]:
    for line in open(f, encoding="utf-8"):
        o = json.loads(line)
        if "record" in o:	# a dead letter
            r = o["record"]
            body = base64.b64decode(r["body"]) if isinstance(r.get("body"), str) else \
                json.dumps(r.get("body"), separators=(",", ":")).encode()
        else:
            r = o
            body = json.dumps(r["body"], separators=(",", ":"), ensure_ascii=False).encode()
        src = r["_meta"]["src"]
        evs.append((src["partition"], src["offset"], body, r))
evs.sort(key=lambda e: (e[0], e[1]))
def typed(v):
    return ulong(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 1 << 63 else v
c = BlockingConnection(url, sasl_enabled=True, allowed_mechs="PLAIN",
    user="RootManageSharedAccessKey", password="SAS_KEY_VALUE", timeout=60)
senders = {}
for p, _, body, r in evs:
    if p not in senders:
        senders[p] = c.create_sender("%s/Partitions/%d" % (hub, p))
    sysp = dict(r.get("system") or {})
    m = Message(body=body, properties={k: typed(v) for k, v in (r.get("properties") or {}).items()})
    m.inferred = True	# a data section, as Event Hubs' Kafka endpoint gives
    if "content-type" in sysp:
        m.content_type = sysp.pop("content-type")
    if "message-id" in sysp:
        m.id = sysp.pop("message-id")
    m.annotations = {symbol(k): v for k, v in sysp.items() if not k.startswith("x-opt-")}
    senders[p].send(m)
c.close()
print("sent %d" % len(evs))
