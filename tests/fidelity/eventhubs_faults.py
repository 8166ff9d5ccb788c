#!/usr/bin/python3
import atexit, os
# twin-emulator's Event Hubs AMQP endpoint under its fault settings
# (POST /_admin/faults), driven by Debian's python3-qpid-proton; prints TAP.
# Usage: eventhubs_faults.py AMQP-URL ADMIN-URL
# error_rate 1: new links are refused and sent events rejected with
# com.microsoft:server-busy; drop_rate 1: connections are dropped; with the
# faults off again everything works and no rejected event was stored.
import json, sys, urllib.request
from proton import Message, symbol
from proton.utils import BlockingConnection

url, admin = sys.argv[1:3]
n = failed = 0
def ok(c, name):
    global n, failed
    n += 1
    failed += 0 if c else 1
    print("%sok %d - amqp faults: %s" % ("" if c else "not ", n, name))

def faults(**kw):
    req = urllib.request.Request(admin + "/_admin/faults", data=json.dumps(kw).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()

def connect():
    return BlockingConnection(url, sasl_enabled=True, allowed_mechs="PLAIN",
        user="RootManageSharedAccessKey", password="SAS_KEY_VALUE", timeout=30)

def events(p, want):
    # read until `want` events came (each waited for generously), then
    # check that no further one follows
    c = connect()
    r = c.create_receiver("hubf/ConsumerGroups/$Default/Partitions/%d" % p)
    got = []
    try:
        while len(got) < want:
            got.append(r.receive(timeout=30).body)
        try:
            got.append(r.receive(timeout=0.5).body)
        except Exception:
            pass
    finally:
        c.close()
    return got

# error_rate 1: a sender link is refused, and so is a receiver link
faults(error_rate=1)
c = connect()
try:
    c.create_sender("hubf/Partitions/0")
    ok(False, "error_rate 1: a sender link is refused")
except Exception as e:
    ok("server-busy" in str(e), "error_rate 1: a sender link is refused (%s)" % e)
try:
    c.create_receiver("hubf/ConsumerGroups/$Default/Partitions/0")
    ok(False, "error_rate 1: a receiver link is refused")
except Exception as e:
    ok("server-busy" in str(e), "error_rate 1: a receiver link is refused (%s)" % e)
c.close()

# a sender attached before the fault: its events are rejected, not stored
faults(error_rate=0)
c = connect()
s = c.create_sender("hubf/Partitions/0")
s.send(Message(body=b"before"))
faults(error_rate=1)
try:
    s.send(Message(body=b"rejected"))
    ok(False, "error_rate 1: an event sent is rejected")
except Exception as e:
    ok("server-busy" in str(e) or "reject" in str(e).lower(),
       "error_rate 1: an event sent is rejected (%s)" % e)
c.close()

# drop_rate 1: the connection of a sender is dropped on its next event
faults(error_rate=0, drop_rate=0)
c = connect()
s = c.create_sender("hubf/Partitions/0")
faults(drop_rate=1)
try:
    s.send(Message(body=b"dropped"))
    ok(False, "drop_rate 1: the connection is dropped")
except Exception as e:
    ok(True, "drop_rate 1: the connection is dropped (%s)" % type(e).__name__)
try:
    c.close()
except Exception:
    pass

# and a receiver's connection is dropped after it was sent events
faults(drop_rate=0)
c = connect()
s = c.create_sender("hubf/Partitions/1")
for i in range(3):
    s.send(Message(body=("p1-%d" % i).encode()))
c.close()
faults(drop_rate=1)
c = connect()
r = c.create_receiver("hubf/ConsumerGroups/$Default/Partitions/1")
dropped = False
try:
    for i in range(4):
        r.receive(timeout=30)
except Exception as e:
    dropped = True
ok(dropped, "drop_rate 1: a receiver's connection is dropped")
try:
    c.close()
except Exception:
    pass

# faults off: all works again; only the accepted events were stored
faults(drop_rate=0, error_rate=0)
got = events(0, 1)
ok(got == [b"before"], "neither the rejected nor the dropped event was stored: %r" % got)
got = events(1, 3)
ok(got == [b"p1-0", b"p1-1", b"p1-2"], "the receiver reads every event after the faults: %r" % got)
print("1..%d" % n)
sys.stdout.flush()
os._exit(1 if failed else 0)  # no proton __del__ noise at shutdown
