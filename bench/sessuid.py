#!/usr/bin/python3
"""sessuid.py: which user runs an xinetd service's sessions? For bench/run.

    sessuid.py HOST PORT XINETD_PID

One session to the service on HOST:PORT, while no other session of that
xinetd runs: once the greeting is in, reads the user and group ids (real,
effective, saved and filesystem) of the session's processes (xinetd's
children and their descendants) from /proc/PID/status; then QUIT, and
waits for the server to close.  Prints

    uids=N[,N...] gids=N[,N...] pids=N[,N...]

(every id seen, sorted, without repeats).  Needs root to see every
process.  Every wait is bounded (10 s).  Exit 0 when the session went
through and its processes were found, 1 otherwise.
"""
import sys

from smtpsession import Session, session_pids


def ids(pids):
    uids, gids = set(), set()
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "Uid":
                        uids.update(int(x) for x in v.split())
                    elif k == "Gid":
                        gids.update(int(x) for x in v.split())
        except OSError:
            pass
    return sorted(uids), sorted(gids)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: sessuid.py host port xinetd_pid\n")
        return 2
    host, port, xinetd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = Session(host, port)
    greeting = s.reply()
    if not greeting[-1].startswith("220"):
        sys.stderr.write("sessuid: greeting %r\n" % greeting[-1])
        return 1
    pids = session_pids(xinetd)
    uids, gids = ids(pids)
    s.command("QUIT")
    while s.sock.recv(4096):
        pass
    s.sock.close()
    print("uids=%s gids=%s pids=%s" % (
        ",".join(map(str, uids)) or "-", ",".join(map(str, gids)) or "-",
        ",".join(map(str, pids)) or "-"))
    return 0 if pids and uids and gids else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, ValueError) as e:
        sys.stderr.write("sessuid: %s\n" % e)
        sys.exit(1)
