# Traffic stand-ins for tests/e2e.rs, which passes this file to `python3 -c`
# (so that any uid can run it, wherever the checkout lives). It only moves
# bytes and reports what it saw; every decision is the Rust harness's.
#
#   listen NAME SPEC...   SPEC = tcp:PORT | udp:PORT | tcp:ADDR:PORT | udp:ADDR:PORT
#       Binds every SPEC (0.0.0.0 when no ADDR), prints "ready", then answers
#       each TCP connection with one line and closes it, and each UDP datagram
#       with one datagram:
#           NAME uid=U port=P orig=IP:PORT   (TCP; SO_ORIGINAL_DST, the address
#                                             the client asked for before NAT)
#           NAME uid=U port=P got=PAYLOAD    (UDP)
#       Exits by itself after 60 s, in case the harness died without killing it.
#   connect SPEC...       SPEC = tcp:IP:PORT | udp:IP:PORT
#       Tries every SPEC at once (one thread each, 0.8 s per socket step, 1.7 s
#       in all) and prints one line per SPEC, in order: the answer, or
#       "error: ...".
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
STEP = 0.8  # seconds per connect or receive


def parse(spec):
    proto, _, rest = spec.partition(":")
    addr, _, port = rest.rpartition(":")
    return proto, addr or "0.0.0.0", int(port)


def original_dst(conn):
    try:
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError as e:
        return "?(%s)" % e.strerror
    port, packed = struct.unpack_from("!2xH4s", raw)
    return "%s:%d" % (socket.inet_ntoa(packed), port)


def listen(name, specs):
    signal.alarm(60)
    socks = {}
    for spec in specs:
        proto, addr, port = parse(spec)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        if proto == "tcp":
            s.listen(16)
        socks[s] = (proto, port)
    print("ready", flush=True)
    uid = os.getuid()
    while True:
        readable, _, _ = select.select(list(socks), [], [])
        for s in readable:
            proto, port = socks[s]
            if proto == "tcp":
                conn, _ = s.accept()
                line = "%s uid=%d port=%d orig=%s\n" % (name, uid, port, original_dst(conn))
                try:
                    conn.sendall(line.encode())
                except OSError:
                    pass
                conn.close()
            else:
                data, peer = s.recvfrom(512)
                got = data.decode(errors="replace").strip()
                line = "%s uid=%d port=%d got=%s\n" % (name, uid, port, got)
                s.sendto(line.encode(), peer)


def attempt(spec, results, i):
    proto, addr, port = parse(spec)
    try:
        if proto == "tcp":
            with socket.create_connection((addr, port), timeout=STEP) as s:
                s.settimeout(STEP)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(512)
                    if not chunk:
                        break
                    data += chunk
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(STEP)
                # Connected: only an answer from addr:port (after NAT is
                # undone) is received.
                s.connect((addr, port))
                s.send(("probe-%d" % i).encode())
                data = s.recv(512)
        results[i] = data.decode(errors="replace").strip() or "error: empty answer"
    except OSError as e:
        results[i] = "error: %s" % (e.strerror or type(e).__name__)


def connect(specs):
    results = ["error: no answer"] * len(specs)
    threads = [threading.Thread(target=attempt, args=(s, results, i)) for i, s in enumerate(specs)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 2 * STEP + 0.1
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    print("\n".join(results), flush=True)
    # A thread still waiting must not hold the process open.
    os._exit(0)


if sys.argv[1] == "listen":
    listen(sys.argv[2], sys.argv[3:])
else:
    connect(sys.argv[2:])
