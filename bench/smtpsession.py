"""smtpsession.py: the few lines of SMTP client the bench's helpers share,
and the processes of an xinetd's sessions."""
import os
import socket

WAIT = 10.0


class Session:
    """One SMTP connection: whole replies, commands, expected codes."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        """The whole reply (every line up to the one without a dash)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(16384)
                if not data:
                    raise EOFError("connection closed after %r" % lines)
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def command(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def expect(self, data, code):
        if data is not None:
            self.sock.sendall(data)
        r = self.reply()
        if not r[-1].startswith(code):
            raise RuntimeError("expected %s, got %r" % (code, r[-1]))
        return r


def children(ppid):
    """The pids whose parent is ppid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
            out.append(int(d))
    return out


def session_pids(xinetd):
    """xinetd's children and their descendants: its running sessions."""
    todo, seen = children(xinetd), []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children(p))
    return sorted(seen)
