#!/usr/bin/python3
"""rcpt.py: time of the RCPT reply, for bench/run.

    rcpt.py HOST PORT COUNT WAIT_MS

COUNT sessions, one after the other: connect to HOST:PORT, read the
greeting, wait WAIT_MS milliseconds (0: not at all), then EHLO, MAIL and
RCPT, each sent as soon as the previous reply is in, and QUIT.  Prints one
line per session:

    rcpt_ms total_ms code

rcpt_ms: from just before sending RCPT to the end of its reply; total_ms:
from just before connect to the end of the RCPT reply; code: the RCPT
reply's code.  Every wait is bounded (10 s).  Exit 0 when every session got
a 250 to RCPT, 1 otherwise (failures are reported on stderr).
"""
import sys
import time

from smtpsession import Session




def one(host, port, wait):
    t0 = time.monotonic()
    s = Session(host, port)
    try:
        greeting = s.reply()
        if not greeting[0].startswith("220"):
            raise RuntimeError("greeting %s" % greeting[0])
        if wait > 0:
            time.sleep(wait)
        for cmd in ("EHLO client.bench.example", "MAIL FROM:<bench@bench.example>"):
            r = s.command(cmd)
            if not r[-1].startswith("250"):
                raise RuntimeError("%s: %s" % (cmd.split()[0], r[-1]))
        t1 = time.monotonic()
        r = s.command("RCPT TO:<sink@sink.example>")
        t2 = time.monotonic()
        code = r[-1][:3]
        s.command("QUIT")
        # wait for the server to close, so that sessions do not overlap
        while s.sock.recv(4096):
            pass
    finally:
        s.sock.close()
    return (t2 - t1) * 1e3, (t2 - t0) * 1e3, code


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: rcpt.py host port count wait_ms\n")
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    count, wait = int(sys.argv[3]), float(sys.argv[4]) / 1000
    bad = 0
    for _ in range(count):
        try:
            rcpt, total, code = one(host, port, wait)
        except (OSError, EOFError, RuntimeError) as e:
            sys.stderr.write("rcpt.py: %s\n" % e)
            bad += 1
            continue
        print("%.3f %.3f %s" % (rcpt, total, code), flush=True)
        if code != "250":
            sys.stderr.write("rcpt.py: RCPT answered %s\n" % code)
            bad += 1
    if bad:
        sys.stderr.write("rcpt.py: %d of %d sessions failed\n" % (bad, count))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
