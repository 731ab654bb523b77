#!/usr/bin/python3
"""tlsmaps.py: is OpenSSL loaded before STARTTLS? For bench/run.

    tlsmaps.py HOST PORT XINETD_PID

One session to an xinetd service whose smtpproxy has TLS configured, while
no other session of that xinetd runs: after the greeting and EHLO, looks in
/proc/PID/maps of the session's processes (xinetd's children and their
descendants) for libssl and libcrypto; then STARTTLS, the handshake, EHLO,
and looks again; then QUIT.  Prints

    before=yes|no after=yes|no pids=N[,N...]

(before: libssl or libcrypto mapped in a plain session; after: mapped once
the handshake is done).  Needs root to read another user's maps.  Every
wait is bounded (10 s).  Exit 0 when the session went through, 1 otherwise.
"""
import socket
import ssl
import sys

from smtpsession import session_pids

WAIT = 10.0


def mapped(pids):
    for p in pids:
        try:
            with open("/proc/%d/maps" % p) as f:
                for line in f:
                    if "/libssl" in line or "/libcrypto" in line:
                        return "yes"
        except OSError:
            pass
    return "no"


def reply(sock, buf):
    lines = []
    while True:
        while b"\r\n" not in buf[0]:
            data = sock.recv(4096)
            if not data:
                raise EOFError("connection closed after %r" % lines)
            buf[0] += data
        line, buf[0] = buf[0].split(b"\r\n", 1)
        lines.append(line.decode("latin-1"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: tlsmaps.py host port xinetd_pid\n")
        return 2
    host, port, xinetd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=WAIT)
    buf = [b""]
    try:
        reply(sock, buf)
        sock.sendall(b"EHLO client.bench.example\r\n")
        reply(sock, buf)
        pids = session_pids(xinetd)
        before = mapped(pids)
        sock.sendall(b"STARTTLS\r\n")
        r = reply(sock, buf)
        if not r[-1].startswith("220"):
            raise RuntimeError("STARTTLS answered %r" % r[-1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
        sock.sendall(b"EHLO client.bench.example\r\n")
        reply(sock, buf)
        after = mapped(pids)
        sock.sendall(b"QUIT\r\n")
        reply(sock, buf)
    except (OSError, EOFError, RuntimeError) as e:
        sys.stderr.write("tlsmaps.py: %s\n" % e)
        return 1
    finally:
        sock.close()
    print("before=%s after=%s pids=%s" % (before, after, ",".join(map(str, pids)) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
