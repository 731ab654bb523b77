#!/usr/bin/python3
"""slowdns.py: a slow DNS server for bench/run.

    slowdns.py [-d MS] [-z ZONES] [-a ADDRESS] [-p PORT] [-s TEXT] PORTFILE STATSFILE

Answers every query over UDP on 127.0.0.1 exactly MS milliseconds (default
200) after it arrived, whatever else is in flight: queries are not answered
one after the other, each one has its own deadline (a heap of pending
replies, one thread, non-blocking socket).

Zones z0.bench .. z{ZONES-1}.bench (default 10) are DNS lists in the way of
RFC 5782: ADDRESS (default 127.0.0.2) reversed under a zone has an A record
127.0.0.2 and a TXT reason; every other name, in those zones or not, and
every other query type (PTR, A, AAAA, MX, TXT...) gets NXDOMAIN.  The name of
a listed address with another query type gets an empty answer (NODATA).
With -s, a TXT query for a name outside those zones is answered TEXT (an
SPF record, for the SPF variant), after the same delay.

After binding, the port (PORT, default 0: one the kernel picks) is written to
PORTFILE (written to a temporary name and renamed, so a reader sees the whole
line).  On SIGTERM or SIGINT it writes to STATSFILE one line of key=value:
queries received, answered, dropped (malformed), by kind, the largest
number of queries in flight at once, and the lateness of the answers (time
past their deadline: median, p95, max, in ms), then exits 0.
"""
import getopt
import heapq
import os
import selectors
import signal
import socket
import struct
import sys
import time


def usage():
    sys.stderr.write("usage: slowdns.py [-d ms] [-z zones] [-a address] "
                     "[-p port] [-s text] portfile statsfile\n")
    sys.exit(2)


def parse_question(pkt):
    """(id, flags, labels, qtype, qclass, end of question) or None."""
    if len(pkt) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", pkt[:6])
    if flags & 0x8000 or qd != 1:        # a response, or not one question
        return None
    labels, i = [], 12
    while True:
        if i >= len(pkt):
            return None
        n = pkt[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 or i + 1 + n > len(pkt):
            return None
        labels.append(pkt[i + 1:i + 1 + n])
        i += 1 + n
    if i + 4 > len(pkt):
        return None
    qtype, qclass = struct.unpack("!HH", pkt[i:i + 4])
    return qid, flags, labels, qtype, qclass, i + 4


A, TXT = 1, 16


def main():
    try:
        opts, args = getopt.getopt(sys.argv[1:], "d:z:a:p:s:")
    except getopt.GetoptError:
        usage()
    delay, nzones, listed, port, spf = 0.2, 10, "127.0.0.2", 0, None
    for o, v in opts:
        if o == "-d":
            delay = float(v) / 1000
        elif o == "-z":
            nzones = int(v)
        elif o == "-a":
            listed = v
        elif o == "-p":
            port = int(v)
        elif o == "-s":
            spf = v.encode()[:255]
    if len(args) != 2:
        usage()
    portfile, statsfile = args

    zones = {b"z%d.bench" % i for i in range(nzones)}
    rev = ".".join(reversed(listed.split("."))).encode()
    stats = {"received": 0, "answered": 0, "dropped": 0, "zone_a": 0,
             "listed": 0, "other": 0, "spf": 0, "max_in_flight": 0}
    lateness = []

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(tmp, portfile)

    def stop(signum, frame):
        lateness.sort()
        n = len(lateness)

        def pick(q):
            return "%.1f" % (lateness[min(n - 1, int(q * n))] * 1e3) if n else "-"
        with open(statsfile, "w") as f:
            f.write(" ".join("%s=%d" % kv for kv in stats.items()) +
                    " late_median_ms=%s late_p95_ms=%s late_max_ms=%s\n" %
                    (pick(0.5), pick(0.95), "%.1f" % (lateness[-1] * 1e3) if n else "-"))
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def reply(pkt):
        q = parse_question(pkt)
        if q is None:
            return None
        qid, flags, labels, qtype, qclass, end = q
        name = b".".join(labels).lower()
        rcode, answers = 3, []                 # NXDOMAIN
        parts = name.split(b".", 4)
        zone = parts[4] if len(parts) == 5 else b""
        if zone in zones:
            stats["zone_a" if qtype == A else "other"] += 1
            if b".".join(parts[:4]) == rev:
                stats["listed"] += 1
                rcode = 0
                if qtype == A:
                    answers.append((A, bytes([127, 0, 0, 2])))
                elif qtype == TXT:
                    txt = b"listed by " + zone + b" (bench/slowdns.py)"
                    answers.append((TXT, bytes([len(txt)]) + txt))
        elif spf is not None and qtype == TXT:
            stats["spf"] += 1
            rcode = 0
            answers.append((TXT, bytes([len(spf)]) + spf))
        else:
            stats["other"] += 1
        # QR, the opcode and RD copied, AA, RA
        rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
        out = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0)
        out += pkt[12:end]
        for t, rdata in answers:
            out += struct.pack("!HHHIH", 0xC00C, t, 1, 60, len(rdata)) + rdata
        return out

    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    pending, seq = [], 0
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            due, _, out, addr = heapq.heappop(pending)
            try:
                sock.sendto(out, addr)
                stats["answered"] += 1
            except OSError:
                stats["dropped"] += 1
            lateness.append(time.monotonic() - due)
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else None
        if not sel.select(timeout):
            continue
        while True:
            try:
                pkt, addr = sock.recvfrom(4096)
            except BlockingIOError:
                break
            arrived = time.monotonic()
            stats["received"] += 1
            out = reply(pkt)
            if out is None:
                stats["dropped"] += 1
                continue
            seq += 1
            heapq.heappush(pending, (arrived + delay, seq, out, addr))
            if len(pending) > stats["max_in_flight"]:
                stats["max_in_flight"] = len(pending)


if __name__ == "__main__":
    main()
