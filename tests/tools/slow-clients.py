#!/usr/bin/env python3
"""slow-clients.py - test helper: many slow (Slowloris-like) HTTPS clients
and idle TCP connections against one server, bounded in count and time.

  slow-clients.py --port P [--host H] [--cafile F] [--slow N] [--idle M]
      [--source ADDR] [--idle-source ADDR] [--interval S] [--duration S]
      [--reconnect] [--ready FILE] [--stop FILE] [--until-closed]

A slow client connects (from --source, default any), completes the TLS
handshake, sends "GET / HTTP/1.1" and then one header line every
--interval seconds, never ending the headers. An idle connection sends
nothing. --reconnect opens a new one for each the server closes (at most
--reconnect-rate a second). FILE --ready is written once every first
connection has been tried and has either its handshake done or been
closed (or 10 s after the last was tried). Stops after --duration seconds, when FILE --stop
appears, at SIGTERM, or with --until-closed when the server has closed
them all; then closes what is left and prints one JSON object of counts
on stdout (max_age_closed: the longest a connection lived before the
server closed it, seconds).
"""
import argparse
import errno
import json
import os
import selectors
import signal
import socket
import ssl
import sys
import time

stop = False


def on_term(_sig, _frm):
    global stop
    stop = True


class Conn:
    __slots__ = ("sock", "kind", "state", "t0", "last", "lines")

    def __init__(self, sock, kind):
        self.sock, self.kind = sock, kind
        self.state = "connecting"
        self.t0 = self.last = time.monotonic()
        self.lines = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--source", default="")
    ap.add_argument("--idle-source", default="")
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--reconnect", action="store_true")
    ap.add_argument("--reconnect-rate", type=int, default=100)
    ap.add_argument("--until-closed", action="store_true")
    ap.add_argument("--ready")
    ap.add_argument("--stop")
    a = ap.parse_args()
    if a.slow + a.idle > 5000 or a.duration > 300:
        sys.exit("slow-clients.py: at most 5000 connections and 300 s")
    signal.signal(signal.SIGTERM, on_term)
    ctx = None
    if a.cafile:
        ctx = ssl.create_default_context(cafile=a.cafile)
        ctx.check_hostname = False
    sel = selectors.DefaultSelector()
    st = dict(slow_opened=0, idle_opened=0, handshakes=0, connect_errors=0,
              closed_by_server=0, slow_closed_by_server=0,
              idle_closed_by_server=0, max_age_closed=0.0, peak_alive=0,
              alive_at_end=0, header_lines=0)
    conns = set()
    start = time.monotonic()

    def open_one(kind):
        src = a.source if kind == "slow" else a.idle_source
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if src:
                s.bind((src, 0))
            s.connect_ex((a.host, a.port))
        except OSError:
            st["connect_errors"] += 1
            s.close()
            return
        c = Conn(s, kind)
        st[kind + "_opened"] += 1
        conns.add(c)
        sel.register(s, selectors.EVENT_WRITE, c)

    def closed(c, by_server):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass
        conns.discard(c)
        if by_server:
            st["closed_by_server"] += 1
            st[c.kind + "_closed_by_server"] += 1
            st["max_age_closed"] = max(st["max_age_closed"],
                                       round(time.monotonic() - c.t0, 2))
            if a.reconnect and not stop:
                pending.append(c.kind)

    def step(c, ev):
        try:
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    st["connect_errors"] += 1
                    return closed(c, True)
                if c.kind == "idle" or ctx is None:
                    c.state = "open" if c.kind == "idle" else "request"
                else:
                    sel.unregister(c.sock)
                    c.sock = ctx.wrap_socket(c.sock, do_handshake_on_connect=False)
                    sel.register(c.sock, selectors.EVENT_WRITE, c)
                    c.state = "handshake"
            if c.state == "handshake":
                try:
                    c.sock.do_handshake()
                except ssl.SSLWantReadError:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    return
                except ssl.SSLWantWriteError:
                    sel.modify(c.sock, selectors.EVENT_WRITE, c)
                    return
                st["handshakes"] += 1
                c.state = "request"
            if c.state == "request":
                c.sock.send(b"GET /_admin/health HTTP/1.1\r\nHost: x\r\n")
                c.last = time.monotonic()
                c.state = "open"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                return
            if c.state == "open":
                if ev & selectors.EVENT_WRITE:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    return
                data = c.sock.recv(4096)
                if not data:
                    return closed(c, True)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return
        except (OSError, ssl.SSLError):
            return closed(c, True)

    pending = ["slow"] * a.slow + ["idle"] * a.idle
    ready_written = False
    first_done = None
    initial_left = len(pending)
    budget_t, budget = time.monotonic(), a.slow + a.idle
    while not stop:
        now = time.monotonic()
        if now - start > a.duration or (a.stop and os.path.exists(a.stop)):
            break
        if first_done is None and initial_left <= 0:
            first_done = now
        if now - budget_t >= 1:
            budget_t = now
            budget = a.slow + a.idle if first_done is None else \
                a.reconnect_rate
        # open at most 200 at a time, and only within the reconnect budget
        n = min(len(pending), 200, budget)
        for _ in range(n):
            open_one(pending.pop(0))
        budget -= n
        initial_left -= n
        st["peak_alive"] = max(st["peak_alive"], len(conns))
        if not ready_written and a.ready and first_done is not None and \
                (all(c.state == "open" for c in conns) or
                 now - first_done > 10):
            with open(a.ready, "w") as f:
                f.write("%d\n" % len(conns))
            ready_written = True
        if a.until_closed and not pending and not conns:
            break
        for key, ev in sel.select(timeout=0.2):
            step(key.data, ev)
        for c in list(conns):   # one header line every --interval seconds
            if c.kind == "slow" and c.state == "open" and \
                    now - c.last >= a.interval:
                try:
                    c.sock.send(b"X-Slow-%d: y\r\n" % c.lines)
                    c.lines += 1
                    st["header_lines"] += 1
                    c.last = now
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    closed(c, True)
    st["alive_at_end"] = len(conns)
    for c in list(conns):
        closed(c, False)
    st["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(st))


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        if e.errno == errno.EMFILE:
            sys.exit("slow-clients.py: too many open files: raise ulimit -n")
        raise
