#!/usr/bin/python3
# A receiver whose CBS token expires (a SAS token of 2 s, never renewed) is
# detached by twin-emulator with amqp:unauthorized-access once an event
# comes after the expiry, as the service does. Usage: eh-expire.py URL HUB
import base64, hashlib, hmac, sys, time, urllib.parse
from proton import Message
from proton.utils import BlockingConnection

url, hub = sys.argv[1:3]
host = url.split("//", 1)[1]
aud = "sb://%s/%s" % (host, hub)
se = str(int(time.time()) + 2)
sig = base64.b64encode(hmac.new(b"SAS_KEY_VALUE", (urllib.parse.quote_plus(aud) +
    "\n" + se).encode(), hashlib.sha256).digest()).decode()
tok = "SharedAccessSignature sr=%s&sig=%s&se=%s&skn=RootManageSharedAccessKey" % (
    urllib.parse.quote_plus(aud), urllib.parse.quote_plus(sig), se)
c = BlockingConnection(url, sasl_enabled=True, allowed_mechs="ANONYMOUS", timeout=30)
cbs = c.create_sender("$cbs")
rx = c.create_receiver("$cbs", name="cbs-reply")
cbs.send(Message(address="$cbs", reply_to="cbs-reply", body=tok, properties={
    "operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": aud}))
r = c.create_receiver("%s/ConsumerGroups/$Default/Partitions/0" % hub)
time.sleep(3)
s = BlockingConnection(url, sasl_enabled=True, allowed_mechs="PLAIN",
    user="RootManageSharedAccessKey", password="SAS_KEY_VALUE", timeout=30)
s.create_sender("%s/Partitions/0" % hub).send(Message(body=b'{"n":-1}'))
s.close()
try:
    while True:
        r.receive(timeout=10)
except Exception as e:
    if "unauthorized-access" in str(e) and "expired" in str(e):
        print("detached: %s" % e)
        sys.exit(0)
    print("not detached as expected: %r" % e)
    sys.exit(1)
