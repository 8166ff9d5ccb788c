#!/usr/bin/python3
# Drive twin-emulator's Event Hubs AMQP endpoint with Debian's
# python3-qpid-proton; prints TAP. Usage: eventhubs_py.py AMQP-URL JWT MODE
# MODE "first": CBS with a jwt, send, selector forms, epochs;
# MODE "again": after a restart on the same --db, the events are still there.
import sys
from proton import Message, symbol, Described, ulong
from proton.utils import BlockingConnection
from proton.reactor import Filter, LinkOption

url, jwt, mode = sys.argv[1:4]
n = failed = 0
def ok(c, name):
    global n, failed
    n += 1
    failed += 0 if c else 1
    print("%sok %d - python proton: %s" % ("" if c else "not ", n, name))

class Epoch(LinkOption):
    def __init__(s, e): s.e = e
    def apply(s, link): link.properties = {symbol("com.microsoft:epoch"): s.e}

c = BlockingConnection(url, sasl_enabled=True, allowed_mechs="ANONYMOUS")
# claims-based security with a token from the emulator's token endpoint
cbs = c.create_sender("$cbs")
rr = c.create_receiver("$cbs", dynamic=False, name="cbs-reply")
cbs.send(Message(body=jwt, id="1", reply_to="cbs-reply",
    properties={"operation": "put-token", "type": "jwt", "name": "sb://localhost/hub1"}))
rep = rr.receive(timeout=10)
ok(rep.properties.get("status-code") in (200, 202), "put-token jwt accepted")
cbs.send(Message(body="garbage", id="2", reply_to="cbs-reply",
    properties={"operation": "put-token", "type": "jwt", "name": "sb://localhost/hub1"}))
rep = rr.receive(timeout=10)
ok(rep.properties.get("status-code") == 401, "a bad jwt is refused with 401")

def recv_all(addr, want, filt=None, opts=None):
    # the `want` events expected, each waited for generously (a busy
    # machine), then a short look for any further one that should not come
    o = [x for x in (filt, opts) if x is not None]
    r = c.create_receiver(addr, options=o or None)
    got = []
    try:
        while len(got) < want:
            got.append(r.receive(timeout=30))
    except Exception:
        pass
    try:
        got.append(r.receive(timeout=0.5))
    except Exception:
        pass
    r.close()
    return got

def sel(expr, ulong_descriptor=False):
    d = ulong(0x0000468C00000004) if ulong_descriptor else symbol("apache.org:selector-filter:string")
    return Filter({symbol("apache.org:selector-filter:string"): Described(d, expr)})

P = "hub1/ConsumerGroups/$Default/Partitions/0"
if mode == "first":
    s = c.create_sender("hub1/Partitions/0")
    for i in range(4):
        s.send(Message(body=("e%d" % i).encode(), properties={"i": i}))
    got = recv_all(P, 4)
    ok([m.body for m in got] == [b"e0", b"e1", b"e2", b"e3"], "no filter: from the start")
    seqs = [m.annotations[symbol("x-opt-sequence-number")] for m in got]
    offs = [m.annotations[symbol("x-opt-offset")] for m in got]
    ok(seqs == [0, 1, 2, 3], "sequence numbers 0..3")
    got = recv_all(P, 2, sel("amqp.annotation.x-opt-sequence-number > '1'"))
    ok([m.body for m in got] == [b"e2", b"e3"], "sequence number > (exclusive)")
    got = recv_all(P, 3, sel("amqp.annotation.x-opt-sequence-number >= '1'", True))
    ok([m.body for m in got] == [b"e1", b"e2", b"e3"], ">= (inclusive), ulong descriptor")
    got = recv_all(P, 1, sel("amqp.annotation.x-opt-offset > '%s'" % offs[2]))
    ok([m.body for m in got] == [b"e3"], "offset >")
    got = recv_all(P, 0, sel("amqp.annotation.x-opt-offset > '@latest'"))
    ok(got == [], "@latest: nothing old")
    got = recv_all(P, 4, sel("amqp.annotation.x-opt-enqueued-time > '0'"))
    ok(len(got) == 4, "enqueued time > 0: all")
    try:
        recv_all(P, 0, sel("amqp.annotation.x-opt-offset ~ 'x'"))
        ok(False, "a bad selector is refused")
    except Exception as e:
        ok("invalid-field" in str(e), "a bad selector is refused: %s" % e)
    # epochs: a higher one detaches the older receiver; a lower one is refused
    c2 = BlockingConnection(url, sasl_enabled=True, allowed_mechs="PLAIN",
        user="RootManageSharedAccessKey", password="SAS_KEY_VALUE")
    r1 = c.create_receiver(P, name="epoch-5", options=Epoch(5))
    r2 = c2.create_receiver(P, options=Epoch(6))
    try:
        while True:
            r1.receive(timeout=30)
    except Exception as e:
        ok("amqp:link:stolen" in str(e), "epoch 6 detaches epoch 5: %s" % e)
    try:
        c.create_receiver(P, name="low-epoch", options=Epoch(4))
        ok(False, "a lower epoch is refused")
    except Exception as e:
        ok("amqp:link:stolen" in str(e), "a lower epoch is refused")
    c2.close()
else:
    got = recv_all(P, 4)
    ok([m.body for m in got] == [b"e0", b"e1", b"e2", b"e3"], "events kept across a restart")
    s = c.create_sender("hub1/Partitions/0")
    s.send(Message(body=b"e4"))
    got = recv_all(P, 1, sel("amqp.annotation.x-opt-sequence-number > '3'"))
    ok([m.annotations[symbol("x-opt-sequence-number")] for m in got] == [4],
        "sequence numbers go on after a restart")
c.close()
print("1..%d" % n)
sys.exit(1 if failed else 0)
