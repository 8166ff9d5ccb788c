#!/usr/bin/python3
# Send events to twin-emulator's Event Hubs AMQP endpoint with Debian's
# python3-qpid-proton (fast to start, for the fault tests).
# Usage: eh-send.py AMQP-URL HUB PARTITIONS FIRST COUNT [BODY]
# Event i (FIRST <= i < FIRST+COUNT) goes to partition i % PARTITIONS with
# the JSON body {"n": i, "version": i} (or BODY, sent as is) and IoT Hub's
# twin-change properties. EH_CA: the CA file for amqps. Prints "sent COUNT".
import json, os, sys
from proton import Message, SSLDomain
from proton.utils import BlockingConnection

url, hub, parts, first, count = sys.argv[1:6]
body = sys.argv[6].encode() if len(sys.argv) > 6 else None
ssl = None
if os.environ.get("EH_CA"):  # amqps: trust this CA
    ssl = SSLDomain(SSLDomain.MODE_CLIENT)
    ssl.set_trusted_ca_db(os.environ["EH_CA"])
    ssl.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
c = BlockingConnection(url, ssl_domain=ssl, sasl_enabled=True, allowed_mechs="PLAIN",
    user="RootManageSharedAccessKey", password="SAS_KEY_VALUE", timeout=60)
senders = {}
for i in range(int(first), int(first) + int(count)):
    p = i % int(parts)
    if p not in senders:
        senders[p] = c.create_sender("%s/Partitions/%d" % (hub, p))
    b = body if body is not None else json.dumps({"n": i, "version": i}).encode()
    senders[p].send(Message(body=b, content_type="application/json",
        properties={"iothub-message-schema": "twinChangeNotification",
                    "deviceId": "dev-%d" % (i % 7), "opType": "updateTwin",
                    "hubName": "hub1", "n": i}))
c.close()
print("sent %s" % count)
