#!/usr/bin/python3
"""starttls.py: STARTTLS session rate, for bench/run.

    starttls.py [-p] HOST PORT SESSIONS PARALLEL SIZE

PARALLEL processes share SESSIONS sessions; each session connects, EHLO,
STARTTLS (unless -p: plain, the same session without TLS, to compare with
the same client), the TLS handshake (full: no session resumption; the
certificate is not checked), EHLO again, one message of SIZE bytes to
<sink@sink.example>, QUIT, and waits for the server to close.  Every wait is
bounded (10 s).

Prints one line per session, "session_ms handshake_ms protocol" (handshake:
from sending STARTTLS to the end of the handshake; "-" when plain), then a
last line "elapsed SECONDS ok N failed M".  Exit 0 when every session
delivered its message with 250, 1 otherwise (failures on stderr).
"""
import os
import ssl
import sys
import time

from smtpsession import Session




def one(host, port, tls, ctx, body):
    t0 = time.monotonic()
    s = Session(host, port)
    hs, proto = None, "-"
    try:
        s.expect(None, "220")
        r = s.expect(b"EHLO client.bench.example\r\n", "250")
        if tls:
            if not any(line[4:].upper().startswith("STARTTLS") for line in r):
                raise RuntimeError("no STARTTLS in the EHLO reply")
            t1 = time.monotonic()
            s.expect(b"STARTTLS\r\n", "220")
            if s.buf:
                raise RuntimeError("data after 220 to STARTTLS")
            s.sock = ctx.wrap_socket(s.sock)
            hs = (time.monotonic() - t1) * 1e3
            proto = s.sock.version() + ":" + s.sock.cipher()[0]
            s.expect(b"EHLO client.bench.example\r\n", "250")
        s.expect(b"MAIL FROM:<bench@bench.example>\r\n", "250")
        s.expect(b"RCPT TO:<sink@sink.example>\r\n", "250")
        s.expect(b"DATA\r\n", "354")
        s.expect(body, "250")
        s.expect(b"QUIT\r\n", "221")
        try:
            while s.sock.recv(4096):
                pass
        except (ssl.SSLError, ConnectionResetError):
            pass
    finally:
        s.sock.close()
    return (time.monotonic() - t0) * 1e3, hs, proto


def worker(host, port, n, tls, size, wfd):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    line = b"X" * 76 + b"\r\n"
    body = b"Subject: bench\r\n\r\n" + line * max(1, size // len(line)) + b".\r\n"
    bad = 0
    for _ in range(n):
        try:
            ms, hs, proto = one(host, port, tls, ctx, body)
            out = "%.3f %s %s\n" % (ms, "-" if hs is None else "%.3f" % hs, proto)
        except (OSError, EOFError, RuntimeError, ssl.SSLError) as e:
            sys.stderr.write("starttls.py: %s\n" % e)
            out = "failed\n"
            bad += 1
        os.write(wfd, out.encode())      # short lines: one write each, atomic
    return 1 if bad else 0


def main():
    args = sys.argv[1:]
    tls = True
    if args and args[0] == "-p":
        tls, args = False, args[1:]
    if len(args) != 5:
        sys.stderr.write("usage: starttls.py [-p] host port sessions parallel size\n")
        return 2
    host, port, n, par, size = args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4])
    par = max(1, min(par, n))
    rfd, wfd = os.pipe()
    t0 = time.monotonic()
    kids = []
    for i in range(par):
        share = n // par + (1 if i < n % par else 0)
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            rc = 1
            try:
                rc = worker(host, port, share, tls, size, wfd)
            finally:
                os._exit(rc)
        kids.append(pid)
    os.close(wfd)
    ok = failed = 0
    with os.fdopen(rfd, "r") as r:
        for line in r:
            if line.startswith("failed"):
                failed += 1
            else:
                ok += 1
                sys.stdout.write(line)
    rc = 0
    for pid in kids:
        if os.waitpid(pid, 0)[1] != 0:
            rc = 1
    elapsed = time.monotonic() - t0
    print("elapsed %.3f ok %d failed %d" % (elapsed, ok, failed))
    return 1 if rc or failed or ok != n else 0


if __name__ == "__main__":
    sys.exit(main())
