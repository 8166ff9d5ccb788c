#!/usr/bin/python3
# Read the events IoT Hub routing put into twin-emulator's built-in Event
# Hub, over AMQP with Debian's python3-qpid-proton (SASL PLAIN with the
# emulator's Event Hubs key), and print one JSON line per event: partition,
# sequence number, partition key, content type and encoding, application
# properties, annotations and the body (parsed JSON).
# Usage: iothub_events.py AMQP-URL HUB PARTITIONS WANT
# Reads every partition from the start until WANT events were seen (or 30 s).
import json, sys, time
from proton import symbol, Timeout
from proton.utils import BlockingConnection

url, hub, nparts, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = BlockingConnection(url, sasl_enabled=True, allowed_mechs="PLAIN",
    user="RootManageSharedAccessKey", password="SAS_KEY_VALUE")
rs = [c.create_receiver("%s/ConsumerGroups/$Default/Partitions/%d" % (hub, p))
      for p in range(nparts)]
got = []
deadline = time.time() + 30
while len(got) < want and time.time() < deadline:
    for p, r in enumerate(rs):
        try:
            m = r.receive(timeout=0.2)
        except Timeout:
            continue
        def plain(v):
            return int(v) if isinstance(v, int) else str(v) if v is not None else None
        annos = {str(k): plain(v) for k, v in (m.annotations or {}).items()}
        body = m.body
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode("utf-8")
        got.append({"partition": p, "seq": annos.get("x-opt-sequence-number"),
            "pkey": annos.get("x-opt-partition-key"),
            "content_type": m.content_type, "content_encoding": m.content_encoding,
            "props": {str(k): plain(v) for k, v in (m.properties or {}).items()},
            "annos": annos, "body": json.loads(body)})
c.close()
got.sort(key=lambda e: (e["partition"], e["seq"]))
for e in got:
    print(json.dumps(e))
sys.exit(0 if len(got) >= want else 1)
