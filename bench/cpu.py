#!/usr/bin/python3
"""cpu.py: smtpproxy's CPU time per session, for bench/run.

    cpu.py PROXY COUNT CONF:MODE [CONF:MODE...]

Plays xinetd for COUNT rounds of sessions, one session after the other,
each round one session of each CONF:MODE in turn (starting with the next
one each round, so that they share the machine's ups and downs and none
always goes first).  A session: accept a loopback TCP connection, start
PROXY -f CONF with the socket as its standard input and output (as
xinetd's fork and exec do) and, as the client, run the session MODE:

    banner    read the greeting, QUIT
    starttls  greeting, EHLO, STARTTLS, the TLS handshake (certificate not
              checked), EHLO, QUIT
    mail      greeting, EHLO, MAIL FROM:<bench@bench.example>,
              RCPT TO:<sink@sink.example>, DATA, a message of about 1 KiB,
              QUIT (the message goes to the configured backend)

then collect the process with wait4(2) and print "N MS PID WALL": N the
position of CONF:MODE in the arguments (from 1), MS its user + system CPU
time in milliseconds, PID its process id (smtpproxy's log lines say it),
WALL the wall-clock milliseconds from the connection to the end of the
process.  CPU time, unlike wall-clock
time, hardly depends on what else the machine runs: it shows what a session
costs smtpproxy itself (the exec and dynamic linking included).  (The
maxrss of these sessions' log lines is not theirs: Linux carries the
spawning Python's peak over the exec.)  Every wait
is bounded (10 s; a session still running then is killed and counted as
failed).  Exit 0 when every session went through and exited 0.
"""
import os
import signal
import socket
import ssl
import sys
import time

WAIT = 10.0
MESSAGE = b"Subject: bench\r\n\r\n" + (b"X" * 76 + b"\r\n") * 13 + b".\r\n"


def reply(sock, buf):
    while True:
        while b"\r\n" not in buf[0]:
            data = sock.recv(4096)
            if not data:
                raise EOFError("connection closed")
            buf[0] += data
        line, buf[0] = buf[0].split(b"\r\n", 1)
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode("latin-1")


def expect(sock, buf, data, code):
    if data:
        sock.sendall(data)
    line = reply(sock, buf)
    if not line.startswith(code):
        raise RuntimeError("expected %s, got %r" % (code, line))


def reap(pid):
    """(status, rusage) within WAIT seconds, else kill it and raise."""
    end = time.monotonic() + WAIT
    while True:
        p, status, ru = os.wait4(pid, os.WNOHANG)
        if p == pid:
            return status, ru
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            raise RuntimeError("session still running after %g s" % WAIT)
        time.sleep(0.001)


def one(listener, proxy, conf, mode, ctx):
    t0 = time.monotonic()
    c = socket.create_connection(listener.getsockname(), timeout=WAIT)
    a, _ = listener.accept()
    # posix_spawn (vfork and exec in glibc): nothing of Python's copied
    try:
        pid = os.posix_spawn(proxy, [proxy, "-f", conf], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, a.fileno(), 0), (os.POSIX_SPAWN_DUP2, a.fileno(), 1)])
    finally:
        a.close()
    buf = [b""]
    try:
        expect(c, buf, None, "220")
        if mode == "starttls":
            expect(c, buf, b"EHLO client.bench.example\r\n", "250")
            expect(c, buf, b"STARTTLS\r\n", "220")
            c = ctx.wrap_socket(c)
            expect(c, buf, b"EHLO client.bench.example\r\n", "250")
        elif mode == "mail":
            expect(c, buf, b"EHLO client.bench.example\r\n", "250")
            expect(c, buf, b"MAIL FROM:<bench@bench.example>\r\n", "250")
            expect(c, buf, b"RCPT TO:<sink@sink.example>\r\n", "250")
            expect(c, buf, b"DATA\r\n", "354")
            expect(c, buf, MESSAGE, "250")
        expect(c, buf, b"QUIT\r\n", "221")
    finally:
        c.close()
        status, ru = reap(pid)
    if status != 0:
        raise RuntimeError("smtpproxy exit status %#x" % status)
    return (ru.ru_utime + ru.ru_stime) * 1e3, pid, (time.monotonic() - t0) * 1e3


def main():
    kinds = [a.rsplit(":", 1) for a in sys.argv[3:]]
    if len(sys.argv) < 4 or any(len(k) != 2 or k[1] not in ("banner", "starttls", "mail")
                                for k in kinds):
        sys.stderr.write("usage: cpu.py proxy count conf:banner|starttls|mail...\n")
        return 2
    proxy, n = sys.argv[1], int(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(WAIT)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    bad = 0
    for i in range(n):
        for j in range(len(kinds)):
            k = (i + j) % len(kinds)
            conf, mode = kinds[k]
            try:
                ms, pid, wall = one(listener, proxy, conf, mode, ctx)
                print("%d %.3f %d %.3f" % (k + 1, ms, pid, wall), flush=True)
            except (OSError, EOFError, RuntimeError) as e:
                sys.stderr.write("cpu.py: %s: %s\n" % (mode, e))
                bad += 1
    if bad:
        sys.stderr.write("cpu.py: %d of %d sessions failed\n" % (bad, n * len(kinds)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
