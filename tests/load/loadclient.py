#!/usr/bin/python3
"""loadclient.py: the clients and the checker of tests/load/run.

  loadclient.py send   --port P --plan FILE --results FILE [options]
      Make a plan of --messages messages (mixed sizes and kinds, reproducible
      from --seed), then deliver them with --clients concurrent clients, each
      running session after session (1..4 messages per session, some with
      STARTTLS, some pipelined) until the plan is used up.  Every message is
      tried once; its outcome (the reply that decided it) goes to --results.

  loadclient.py verify --plan FILE --results FILE --dump DIR
      Check the backend's dump (one file per message, smtp-sink -d) against
      the results: the dump holds exactly the messages that got 250 after
      DATA, each once and byte for byte; every other message got a 4xx/5xx.

  loadclient.py loris  --port P [options]
      Slow-loris attackers from --attacker-bind that trickle bytes, and
      normal clients from --normal-bind that must still be served; samples
      the sessions per source with ss(8).  Prints figures, exits 1 when an
      invariant fails.

Messages are generated, not stored: message i is a function of (seed, i,
size, kind), so verify rebuilds the exact bytes every dump must hold.
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import ssl
import statistics
import subprocess
import sys
import time

LOCAL_DOMAIN = "load.example"
FOREIGN_DOMAIN = "elsewhere.example"
SMTP_TIMEOUT = 120

# -------------------------------------------------------------- messages


def make_pool(seed):
    """Lines of message text: every length up to 998, leading dots, 8-bit
    bytes, tabs, empty lines, "From " lines; never CR or LF."""
    rnd = random.Random(seed)
    alpha = bytes(range(33, 127)) + b"\t " + bytes(range(160, 256))
    specials = [b".", b"..", b". leading dot", b"...three", b"From the start",
                b"", b" ", b"\t", b".\t", b"x" * 998, b"." + b"y" * 997]
    pool = []
    for _ in range(6000):
        if rnd.random() < 0.12:
            pool.append(rnd.choice(specials))
            continue
        n = rnd.choice([0, 1, 2, 40, 76, 77, 78, 500, 998,
                        rnd.randrange(0, 999), rnd.randrange(0, 120)])
        pool.append(bytes(rnd.choice(alpha) for _ in range(n)))
    return pool


class Messages:
    def __init__(self, seed):
        self.seed = seed
        self.pool = make_pool(seed)

    def lines(self, m):
        """The message as the backend must store it: a list of lines."""
        i, size = m["id"], m["size"]
        body = []
        blen = 0
        k = (i * 7919 + self.seed) % len(self.pool)
        target = max(size - 400, 64)
        while blen < target:
            line = self.pool[k]
            if blen + len(line) + 2 > target and blen > 0 and len(line) > 60:
                line = line[:max(target - blen - 2, 0)]
                if line.startswith(b"."):
                    line = b"x" + line[1:]
            body.append(line)
            blen += len(line) + 2
            k = (k + 1) % len(self.pool)
        body.append(b"-- end of load message %d" % i)
        digest = hashlib.sha256(b"\r\n".join(body) + b"\r\n").hexdigest()
        hdr = [b"Message-Id: <load-%d.%d@client.load>" % (i, self.seed),
               b"X-Load-Id: %d" % i,
               b"X-Load-Sum: sha256:" + digest.encode(),
               b"From: <sender%d@client.load>" % (i % 97),
               b"To: " + b", ".join(b"<%s>" % r.encode() for r in m["rcpts"]),
               b"Subject: load message %d, %d bytes, %s" % (i, size, m["kind"].encode()),
               b"MIME-Version: 1.0",
               b"Content-Type: text/plain; charset=latin1",
               b"Content-Transfer-Encoding: 8bit",
               b""]
        return hdr + body

    def wire(self, m):
        """DATA as sent: dot-stuffed CRLF lines, without the final dot."""
        out = []
        for line in self.lines(m):
            out.append(b"." + line if line.startswith(b".") else line)
        if m["kind"] == "barelf":
            # a bare LF in the middle of the body: must be refused (smuggling)
            out.insert(len(out) // 2, b"bare\nLF.\nMAIL FROM:<smuggled@client.load>")
        return b"\r\n".join(out) + b"\r\n"

    def dump_form(self, m):
        """What smtp-sink -d writes for the message: LF line ends, plus an
        empty line at the end."""
        return b"".join(line + b"\n" for line in self.lines(m)) + b"\n"


KINDS = [  # kind, weight, expected outcome
    ("normal", 76, "accept"),
    ("multi", 10, "accept"),      # 2..3 local recipients
    ("mixed", 5, "accept"),       # one local, one foreign (554 for it)
    ("foreign", 3, "refuse"),     # foreign recipient only: 554 5.7.1 at RCPT
    ("barelf", 3, "refuse"),      # bare LF in the body: 550 5.5.2
    ("toobig", 2, "refuse"),      # over max_message_size, no SIZE=: 552
    ("toobig-size", 1, "refuse"),  # SIZE= over the limit at MAIL: 552
]


def make_plan(n, seed, max_size):
    rnd = random.Random(seed * 31 + 7)
    kinds = [k for k, w, _ in KINDS for _ in range(w)]
    expect = {k: e for k, _, e in KINDS}
    plan = []
    for i in range(1, n + 1):
        kind = rnd.choice(kinds)
        r = rnd.random()
        if kind.startswith("toobig"):
            size = max_size + 100000
        elif i % 500 == 0:
            size = 1048576          # exactly 1 MiB now and then
        elif r < 0.60:
            size = int(1024 * 8 ** rnd.random())            # 1..8 KiB
        elif r < 0.90:
            size = int(8192 * 16 ** rnd.random())           # 8..128 KiB
        else:
            size = int(131072 * 8 ** rnd.random())          # 128 KiB..1 MiB
        local = ["user%d@%s" % (rnd.randrange(1000), LOCAL_DOMAIN)]
        if kind == "multi":
            rcpts = local + ["list%d@%s" % (j, LOCAL_DOMAIN)
                             for j in range(rnd.choice([1, 2]))]
        elif kind == "mixed":
            rcpts = local + ["victim@" + FOREIGN_DOMAIN]
        elif kind == "foreign":
            rcpts = ["victim%d@%s" % (i, FOREIGN_DOMAIN)]
        else:
            rcpts = local
        plan.append({"id": i, "size": size, "kind": kind, "rcpts": rcpts,
                     "expect": expect[kind]})
    return plan


# ------------------------------------------------------------ SMTP client


class Lost(Exception):
    """The server closed the connection or did not answer in time."""


async def read_reply(reader, timeout=SMTP_TIMEOUT):
    lines = []
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            raise Lost("no reply within %ds" % timeout)
        except (ConnectionError, OSError, ssl.SSLError) as e:
            raise Lost("read: %s" % e)
        if not line.endswith(b"\n"):
            raise Lost("connection closed" + (" after %r" % line if line else ""))
        lines.append(line.decode("latin1").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            break
    code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
    return code, lines


async def send(writer, data):
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), SMTP_TIMEOUT)
    except asyncio.TimeoutError:
        raise Lost("write blocked for %ds" % SMTP_TIMEOUT)
    except (ConnectionError, OSError, ssl.SSLError) as e:
        raise Lost("write: %s" % e)


def close(writer):
    try:
        writer.transport.abort()
    except Exception:
        pass


class Stats:
    def __init__(self):
        self.connects = 0
        self.retries = 0
        self.retry_reasons = {}
        self.connect_ms = []
        self.sessions = 0
        self.tls_sessions = 0
        self.pipelined_sessions = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.session_errors = {}


async def open_session(args, stats, sem):
    """Connect and read the 220 greeting; retry what xinetd's listen backlog
    (64) or its limits may refuse: refused, reset, closed before the
    greeting, no greeting in time."""
    last = None
    for attempt in range(1, args.connect_tries + 1):
        async with sem:
            t0 = time.monotonic()
            stats.connects += 1
            writer = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(args.host, args.port,
                                            local_addr=(args.bind, 0),
                                            limit=1 << 20), 30)
                code, lines = await read_reply(reader, 30)
                if code == 220:
                    stats.connect_ms.append((time.monotonic() - t0) * 1000)
                    return reader, writer
                last = "greeting %s" % lines[-1][:60]
            except (OSError, asyncio.TimeoutError, Lost) as e:
                last = type(e).__name__ + (": " + str(e)[:40] if isinstance(e, Lost) else "")
            if writer is not None:
                close(writer)
        stats.retries += 1
        stats.retry_reasons[last] = stats.retry_reasons.get(last, 0) + 1
        await asyncio.sleep(min(0.05 * attempt, 1.0))
    raise Lost("no session after %d tries: %s" % (args.connect_tries, last))


async def ehlo(reader, writer, name):
    await send(writer, b"EHLO %s\r\n" % name.encode())
    code, lines = await read_reply(reader)
    if code != 250:
        raise Lost("EHLO: %s" % lines[-1])
    return [l[4:].split(" ")[0].upper() for l in lines[1:]]


async def run_message(reader, writer, msgs, m, pipelined, tls, last, out, res):
    """One transaction, its outcome in res (and out); returns True when the
    session may go on."""
    res.update({"id": m["id"], "kind": m["kind"], "stage": "mail", "code": 0,
                "reply": "", "pipelined": pipelined, "tls": tls})
    out.append(res)
    t0 = time.monotonic()
    wire = msgs.wire(m)
    size = " SIZE=%d" % m["size"] if m["kind"] == "toobig-size" else ""
    mail = b"MAIL FROM:<sender%d@client.load>%s\r\n" % (m["id"] % 97, size.encode())
    rcpts = [b"RCPT TO:<%s>\r\n" % r.encode() for r in m["rcpts"]]
    ok_rcpts = 0

    def decided(stage, code, lines):
        res.update(stage=stage, code=code, reply=lines[-1][:120],
                   ms=round((time.monotonic() - t0) * 1000, 1))

    try:
        if pipelined:
            await send(writer, mail + b"".join(rcpts) + b"DATA\r\n")
            code, lines = await read_reply(reader)
            mail_code, mail_lines = code, lines
            rc = []
            for _ in rcpts:
                rc.append(await read_reply(reader))
            ok_rcpts = sum(1 for c, _ in rc if c // 100 == 2)
            code, lines = await read_reply(reader)
            if code != 354:
                if mail_code // 100 != 2:
                    decided("mail", mail_code, mail_lines)
                    return True
                if ok_rcpts == 0:
                    decided("rcpt", rc[-1][0], rc[-1][1])
                else:
                    decided("data", code, lines)
                # the transaction MAIL opened stays open: end it
                await send(writer, b"RSET\r\n")
                await read_reply(reader)
                return True
        else:
            await send(writer, mail)
            code, lines = await read_reply(reader)
            if code // 100 != 2:
                decided("mail", code, lines)
                await send(writer, b"RSET\r\n")
                await read_reply(reader)
                return True
            last_rc = None
            for r in rcpts:
                await send(writer, r)
                last_rc = await read_reply(reader)
                if last_rc[0] // 100 == 2:
                    ok_rcpts += 1
            if ok_rcpts == 0:
                decided("rcpt", *last_rc)
                await send(writer, b"RSET\r\n")
                await read_reply(reader)
                return True
            await send(writer, b"DATA\r\n")
            code, lines = await read_reply(reader)
            if code != 354:
                decided("data", code, lines)
                await send(writer, b"RSET\r\n")
                await read_reply(reader)
                return True
        res["stage"] = "data-end"
        await send(writer, wire + (b".\r\nQUIT\r\n" if pipelined and last else b".\r\n"))
        code, lines = await read_reply(reader)
        decided("data-end", code, lines)
        res["rcpts_ok"] = ok_rcpts
        if pipelined and last:
            res["quit_sent"] = True
        return code != 421
    except Lost as e:
        res.update(code=-1, reply="lost: %s" % e,
                   ms=round((time.monotonic() - t0) * 1000, 1))
        return False


async def client(cid, args, msgs, queue, stats, sem, out, deadline):
    rnd = random.Random(args.seed * 1000003 + cid)
    ctx = None
    if args.cafile:
        ctx = ssl.create_default_context(cafile=args.cafile)
    while queue and time.monotonic() < deadline:
        n = min(rnd.choice([1, 1, 1, 2, 3, 4]), len(queue))
        batch = [queue.pop() for _ in range(n)]
        tls = ctx is not None and rnd.random() < args.tls
        pipelined = rnd.random() < args.pipeline
        try:
            reader, writer = await open_session(args, stats, sem)
        except Lost as e:
            for m in batch:
                out.append({"id": m["id"], "kind": m["kind"], "stage": "connect",
                            "code": -1, "reply": str(e)})
            continue
        stats.sessions += 1
        stats.concurrent += 1
        stats.max_concurrent = max(stats.max_concurrent, stats.concurrent)
        done = 0
        mine = []
        try:
            exts = await ehlo(reader, writer, "client%d.load" % cid)
            if tls:
                if "STARTTLS" not in exts:
                    raise Lost("no STARTTLS in EHLO")
                await send(writer, b"STARTTLS\r\n")
                code, lines = await read_reply(reader)
                if code != 220:
                    raise Lost("STARTTLS: %s" % lines[-1])
                try:
                    await asyncio.wait_for(
                        writer.start_tls(ctx, server_hostname=args.tls_name), 30)
                except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
                    raise Lost("TLS handshake: %s" % e)
                exts = await ehlo(reader, writer, "client%d.load" % cid)
                stats.tls_sessions += 1
            if pipelined:
                if "PIPELINING" not in exts:
                    raise Lost("no PIPELINING in EHLO")
                stats.pipelined_sessions += 1
            for j, m in enumerate(batch):
                if j > 0 and rnd.random() < 0.3:
                    await send(writer, b"RSET\r\n")
                    await read_reply(reader)
                done += 1
                res = {}
                ok = await run_message(reader, writer, msgs, m, pipelined, tls,
                                       j == n - 1, out, res)
                mine.append(res)
                if not ok:
                    break
            else:
                if not (pipelined and mine[-1].get("quit_sent")):
                    await send(writer, b"QUIT\r\n")
                code, lines = await read_reply(reader, 30)
                if code != 221:
                    raise Lost("QUIT: %s" % lines[-1])
        except Lost as e:
            key = "%s%s after %s: %s" % ("TLS " if tls else "", "pipelined" if pipelined else "plain",
                                         mine[-1]["kind"] + "/" + str(mine[-1]["code"]) if mine else "EHLO",
                                         re.sub(r"\d+", "N", str(e))[:60])
            stats.session_errors[key] = stats.session_errors.get(key, 0) + 1
        finally:
            close(writer)
            stats.concurrent -= 1
        # messages of the batch not tried: back to the queue
        for m in batch[done:]:
            queue.append(m)


async def send_main(args):
    plan = make_plan(args.messages, args.seed, args.max_size)
    with open(args.plan, "w") as f:
        json.dump({"seed": args.seed, "messages": plan}, f)
    msgs = Messages(args.seed)
    queue = list(reversed(plan))
    stats = Stats()
    sem = asyncio.Semaphore(args.max_connecting)
    out = []
    t0 = time.monotonic()
    deadline = t0 + args.time_limit
    tasks = []
    for cid in range(args.clients):
        tasks.append(asyncio.create_task(
            client(cid, args, msgs, queue, stats, sem, out, deadline)))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    with open(args.results, "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    cm = sorted(stats.connect_ms)
    p = lambda q: cm[min(len(cm) - 1, int(len(cm) * q))] if cm else 0
    summary = {
        "wall_s": round(wall, 1), "clients": args.clients,
        "max_concurrent_sessions": stats.max_concurrent,
        "sessions": stats.sessions, "tls_sessions": stats.tls_sessions,
        "pipelined_sessions": stats.pipelined_sessions,
        "connects": stats.connects, "connect_retries": stats.retries,
        "retry_reasons": stats.retry_reasons,
        "connect_to_greeting_ms": {"median": round(p(0.5), 1), "p95": round(p(0.95), 1),
                                   "max": round(cm[-1], 1) if cm else 0},
        "slow_connects_over_900ms": sum(1 for x in cm if x > 900),
        "session_errors": stats.session_errors,
        "untried": len(queue),
        "bytes": sum(m["size"] for m in plan),
    }
    with open(args.results + ".summary", "w") as f:
        json.dump(summary, f)
    print(json.dumps(summary))
    return 0


# ---------------------------------------------------------------- verify

SINK_ENV = re.compile(rb"^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): ")
PROXY_RECEIVED = re.compile(
    rb"Received: from \S+ \(\[127\.0\.0\.1\]\)\n\tby proxy\.load \(smtpproxy\) "
    rb"with ESMTPS \(TLSv1\.[23]:[A-Z0-9_-]+\);\n\t[^\n]+\n")


def parse_dump(data):
    """smtp-sink -d: its X-* envelope lines, its 3-line Received header, then
    the message as smtpproxy passed it on: a Received header of its own for
    a TLS session, then the client's bytes. Returns (smtpproxy's Received
    header or b"", the client's message as dump_form would be), or None."""
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            return None
        if SINK_ENV.match(data[pos:end + 1]):
            pos = end + 1
            continue
        break
    if not data.startswith(b"Received: ", pos):
        return None
    end = data.find(b"\n", pos)
    for _ in range(2):
        if data[end + 1:end + 2] != b"\t":
            return None
        end = data.find(b"\n", end + 1)
    rest = data[end + 1:]
    m = PROXY_RECEIVED.match(rest)
    if m:
        return m.group(0), rest[m.end():]
    return b"", rest


def verify_main(args):
    with open(args.plan) as f:
        p = json.load(f)
    plan = {m["id"]: m for m in p["messages"]}
    msgs = Messages(p["seed"])
    results = {}
    problems = []
    with open(args.results) as f:
        for line in f:
            r = json.loads(line)
            if r["id"] in results:
                problems.append("message %d tried twice" % r["id"])
            results[r["id"]] = r
    accepted = {i for i, r in results.items()
                if r["stage"] == "data-end" and r["code"] == 250}
    dumped = {}
    received = {True: 0, False: 0}
    matched = 0
    bad_files = 0
    dump_bytes = 0
    for name in sorted(os.listdir(args.dump)):
        path = os.path.join(args.dump, name)
        with open(path, "rb") as f:
            data = f.read()
        dump_bytes += len(data)
        parsed = parse_dump(data)
        rcvd, msg = parsed if parsed else (b"", b"")
        mid = re.search(rb"^X-Load-Id: (\d+)$", msg, re.M)
        if parsed is None or mid is None:
            bad_files += 1
            if bad_files <= 5:
                problems.append("dump %s: not a load message (%d bytes): %r"
                                % (name, len(data), data[:200]))
            continue
        i = int(mid.group(1))
        if i in dumped:
            problems.append("message %d delivered twice (%s, %s)" % (i, dumped[i], name))
            continue
        dumped[i] = name
        if i not in plan:
            problems.append("dump %s: id %d not in the plan" % (name, i))
            continue
        r = results.get(i, {})
        if bool(rcvd) != bool(r.get("tls")):
            problems.append("message %d (sent %s TLS): %s Received header of smtpproxy: %r"
                            % (i, "in" if r.get("tls") else "without",
                               "a" if rcvd else "no", (rcvd or msg)[:200]))
        received[bool(rcvd)] += 1
        env = re.findall(rb"^X-(Mail|Rcpt)-Args: (.*)$", data[:data.find(b"\nReceived: ")], re.M)
        want_env = [(b"Mail", b"<sender%d@client.load>" % (i % 97))] + [
            (b"Rcpt", b"<%s>" % a.encode()) for a in plan[i]["rcpts"]
            if a.endswith("@" + LOCAL_DOMAIN)]
        if env != want_env:
            problems.append("message %d (%s): envelope at the backend %r, want %r"
                            % (i, plan[i]["kind"], env, want_env))
        want = msgs.dump_form(plan[i])
        if msg == want:
            matched += 1
        else:
            off = next((k for k in range(min(len(msg), len(want)))
                        if msg[k] != want[k]), min(len(msg), len(want)))
            problems.append("message %d (%s, %d bytes): dump %s differs at byte %d "
                            "(got %d bytes, want %d): got %r want %r"
                            % (i, plan[i]["kind"], plan[i]["size"], name, off,
                               len(msg), len(want), msg[off:off + 40],
                               want[off:off + 40]))
    # the dump holds exactly the messages that got 250 after DATA
    for i in sorted(accepted - set(dumped)):
        problems.append("message %d got 250 after DATA but is not in the dump" % i)
    for i in sorted(set(dumped) - accepted):
        r = results.get(i)
        problems.append("message %d is in the dump but got %s" %
                        (i, "no attempt" if r is None else
                         "%s at %s" % (r["reply"] or r["code"], r["stage"])))
    # every other message had a 4xx/5xx
    outcomes = {}
    unexpected = {}
    for i, m in plan.items():
        r = results.get(i)
        if r is None:
            problems.append("message %d never tried" % i)
            continue
        if i in accepted:
            key = "250"
            if m["expect"] != "accept":
                problems.append("message %d (%s) accepted: it must be refused" % (i, m["kind"]))
        elif 400 <= r["code"] < 600:
            key = "%d at %s" % (r["code"], r["stage"])
            if m["expect"] == "accept":
                unexpected[key + " " + r["reply"][:60]] = unexpected.get(key, 0) + 1
        else:
            key = "no 4xx/5xx (%s)" % r["stage"]
            problems.append("message %d (%s): no 250 and no 4xx/5xx reply: %s at %s"
                            % (i, m["kind"], r["reply"], r["stage"]))
        k2 = "%s %s" % (m["kind"], key)
        outcomes[k2] = outcomes.get(k2, 0) + 1
    for k, n in sorted(unexpected.items()):
        problems.append("%d message(s) that should pass were refused: %s" % (n, k))
    refused = len(plan) - len(accepted)
    print("verify: %d messages planned, %d got 250 after DATA, %d refused with 4xx/5xx, "
          "%d dump files (%.1f MB), %d matched byte for byte"
          % (len(plan), len(accepted), refused, len(dumped) + bad_files,
             dump_bytes / 1e6, matched))
    print("verify: outcomes by kind: " + ", ".join(
        "%s: %d" % (k, n) for k, n in sorted(outcomes.items())))
    print("verify: %d dumped messages with smtpproxy's TLS Received header (all sent "
          "with STARTTLS), %d without (all sent in plain)" % (received[True], received[False]))
    sizes = sorted(plan[i]["size"] for i in accepted)
    if sizes:
        print("verify: accepted sizes: min %d, median %d, max %d bytes, total %.1f MB"
              % (sizes[0], sizes[len(sizes) // 2], sizes[-1], sum(sizes) / 1e6))
    if problems:
        print("verify: %d problem(s):" % len(problems))
        for x in problems[:40]:
            print("  " + x)
        return 1
    print("verify: ok")
    return 0


# ---------------------------------------------------------------- loris

LORIS_SCRIPT = (b"EHLO loris.example\r\nMAIL FROM:<loris@loris.example>\r\n"
                b"RCPT TO:<user@" + LOCAL_DOMAIN.encode() + b">\r\nDATA\r\n") * 20


class LorisStats:
    def __init__(self):
        self.refused = 0          # closed or 421 before a greeting
        self.granted = 0          # got a 220: a session
        self.cut = {}             # 421 text -> count
        self.cut_other = []       # sessions that ended otherwise
        self.durations = []
        self.open = 0
        self.normal_ok = 0
        self.normal_bad = []
        self.normal_ms = []
        self.normal_connect_fail = 0
        self.samples = []         # (attacker sessions, normal sessions)


async def loris_attacker(k, args, st, stop):
    mode = k % 3      # 0: 1 byte/s; 1: 1 byte every 7 s; 2: 1 byte/s in DATA
    interval = args.slow if mode != 1 else args.slower
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                args.host, args.port, local_addr=(args.attacker_bind, 0)), 10)
        except (OSError, asyncio.TimeoutError):
            st.refused += 1
            await asyncio.sleep(0.2)
            continue
        try:
            code, _ = await read_reply(reader, 10)
        except Lost:
            code = 0
        if code != 220:
            st.refused += 1
            close(writer)
            await asyncio.sleep(0.2)
            continue
        st.granted += 1
        st.open += 1
        t0 = time.monotonic()
        got = bytearray()

        async def reader_task():
            while True:
                try:
                    b = await reader.read(4096)
                except (ConnectionError, OSError):
                    return
                if not b:
                    return
                got.extend(b)

        rt = asyncio.create_task(reader_task())
        try:
            if mode == 2:
                writer.write(b"EHLO loris.example\r\nMAIL FROM:<loris@loris.example>\r\n"
                             b"RCPT TO:<user@%s>\r\nDATA\r\n" % LOCAL_DOMAIN.encode())
                await writer.drain()
                body = (b"X-Loris: %d\r\nSubject: slow\r\n\r\n" % k) + b"z" * 100000
            else:
                body = LORIS_SCRIPT
            for i in range(len(body)):
                if rt.done():
                    break
                writer.write(body[i:i + 1])
                await writer.drain()
                try:
                    await asyncio.wait_for(asyncio.shield(rt), interval)
                except asyncio.TimeoutError:
                    pass
        except (ConnectionError, OSError):
            pass
        try:
            await asyncio.wait_for(rt, 15)
        except asyncio.TimeoutError:
            rt.cancel()
        d = time.monotonic() - t0
        st.durations.append(d)
        st.open -= 1
        text = got.decode("latin1")
        m = re.search(r"^421 4\.4\.2 \S+ Error: ([a-z ]+)", text, re.M)
        if m:
            st.cut[m.group(1)] = st.cut.get(m.group(1), 0) + 1
        else:
            st.cut_other.append("mode %d after %.1fs: %r" % (mode, d, text[-120:]))
        close(writer)


async def loris_normal(k, args, st, stop):
    n = 0
    while time.monotonic() < stop:
        n += 1
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                args.host, args.port, local_addr=(args.normal_bind, 0)), 10)
        except (OSError, asyncio.TimeoutError) as e:
            st.normal_connect_fail += 1
            st.normal_bad.append("connect: %s" % e)
            await asyncio.sleep(0.2)
            continue
        try:
            code, lines = await read_reply(reader, 10)
            if code != 220:
                raise Lost("greeting: %s" % lines[-1])
            for cmd in (b"EHLO normal%d.load" % k, b"MAIL FROM:<normal@client.load>",
                        b"RCPT TO:<normal%d@%s>" % (k, LOCAL_DOMAIN.encode())):
                await send(writer, cmd + b"\r\n")
                code, lines = await read_reply(reader, 10)
                if code != 250:
                    raise Lost("%s: %s" % (cmd.split(b" ")[0].decode(), lines[-1]))
            await send(writer, b"DATA\r\n")
            code, lines = await read_reply(reader, 10)
            if code != 354:
                raise Lost("DATA: %s" % lines[-1])
            await send(writer, b"X-Normal: %d.%d\r\nSubject: during the attack\r\n\r\n"
                       % (k, n) + b"hello\r\n" * 600 + b".\r\nQUIT\r\n")
            code, lines = await read_reply(reader, 10)
            if code != 250:
                raise Lost("end of data: %s" % lines[-1])
            st.normal_ok += 1
            st.normal_ms.append((time.monotonic() - t0) * 1000)
        except Lost as e:
            st.normal_bad.append(str(e))
        finally:
            close(writer)
        await asyncio.sleep(args.normal_pause)


async def sampler(args, st, stop):
    while time.monotonic() < stop:
        try:
            out = subprocess.run(
                ["ss", "-tnpH", "state", "established", "( sport = :%d )" % args.port],
                capture_output=True, text=True, timeout=5).stdout
        except Exception:
            out = ""
        a = n = 0
        for line in out.splitlines():
            if "smtpproxy" not in line:
                continue
            f = line.split()
            peer = f[3] if len(f) > 3 else ""
            if peer.startswith(args.attacker_bind + ":"):
                a += 1
            elif peer.startswith(args.normal_bind + ":"):
                n += 1
        st.samples.append((a, n))
        await asyncio.sleep(0.25)


async def loris_main(args):
    st = LorisStats()
    t0 = time.monotonic()
    stop = t0 + args.duration
    tasks = [asyncio.create_task(loris_attacker(k, args, st, stop))
             for k in range(args.attackers)]
    tasks += [asyncio.create_task(loris_normal(k, args, st, stop))
              for k in range(args.normal_clients)]
    # keep sampling until the last attacker session is cut off
    samp = asyncio.create_task(sampler(args, st, stop + args.session_limit + 15))
    await asyncio.gather(*tasks)
    samp.cancel()
    wall = time.monotonic() - t0
    problems = []
    max_a = max((a for a, _ in st.samples), default=0)
    max_n = max((n for _, n in st.samples), default=0)
    cut = sum(st.cut.values())
    dur = sorted(st.durations)
    ms = sorted(st.normal_ms)
    print("loris: %.1f s: %d attackers from %s (trickling 1 byte per %gs, or %gs in "
          "2 of 6, in DATA in 2 of 6) for %d s"
          % (wall, args.attackers, args.attacker_bind, args.slow, args.slower,
             args.duration))
    print("loris: attacker connections: %d got a session, %d refused before a greeting "
          "(xinetd's per_source, or 421 from server mode's client_connection_count_limit)" % (st.granted, st.refused))
    print("loris: attacker sessions cut off with 421 4.4.2: %d (%s); ended otherwise: %d"
          % (cut, ", ".join("%s: %d" % kv for kv in sorted(st.cut.items())),
             len(st.cut_other)))
    if dur:
        print("loris: attacker session length: median %.1f s, max %.1f s"
              % (dur[len(dur) // 2], dur[-1]))
    print("loris: concurrent smtpproxy sessions (ss, every 0.25 s): attackers max %d "
          "(per_source %d), normal clients max %d" % (max_a, args.per_source, max_n))
    print("loris: normal clients from %s: %d messages got 250, %d failed; latency "
          "median %.0f ms, max %.0f ms"
          % (args.normal_bind, st.normal_ok, len(st.normal_bad),
             ms[len(ms) // 2] if ms else 0, ms[-1] if ms else 0))
    if max_a > args.per_source:
        problems.append("attackers held %d sessions at once, per_source is %d"
                        % (max_a, args.per_source))
    if st.granted == 0:
        problems.append("no attacker got a session")
    if st.refused == 0:
        problems.append("no attacker connection refused: per_source not reached")
    if st.cut_other:
        problems.append("%d attacker sessions not ended by 421 4.4.2: %s"
                        % (len(st.cut_other), "; ".join(st.cut_other[:3])))
    if dur and dur[-1] > args.session_limit + 3:
        problems.append("an attacker session lasted %.1f s (timeout_session %d)"
                        % (dur[-1], args.session_limit))
    if st.normal_bad:
        problems.append("%d normal messages failed: %s"
                        % (len(st.normal_bad), "; ".join(st.normal_bad[:3])))
    if st.normal_ok < args.normal_clients:
        problems.append("only %d normal messages delivered" % st.normal_ok)
    with open(args.results, "w") as f:
        json.dump({"granted": st.granted, "refused": st.refused, "cut": cut,
                   "normal_ok": st.normal_ok, "normal_bad": len(st.normal_bad),
                   "max_attacker_sessions": max_a}, f)
    if problems:
        print("loris: problems:")
        for p in problems:
            print("  " + p)
        return 1
    print("loris: ok")
    return 0


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bind", default="127.0.0.1")
    s.add_argument("--clients", type=int, default=200)
    s.add_argument("--messages", type=int, default=3000)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--max-size", type=int, default=1100000,
                   help="the proxy's max_message_size")
    s.add_argument("--tls", type=float, default=0.2, help="share of sessions with STARTTLS")
    s.add_argument("--pipeline", type=float, default=0.4, help="share of pipelined sessions")
    s.add_argument("--cafile", help="the proxy's certificate (enables STARTTLS)")
    s.add_argument("--tls-name", default="proxy.load")
    s.add_argument("--max-connecting", type=int, default=48,
                   help="connections waiting for their greeting at once (xinetd's backlog is 64)")
    s.add_argument("--connect-tries", type=int, default=20)
    s.add_argument("--time-limit", type=float, default=150)
    s.add_argument("--plan", required=True)
    s.add_argument("--results", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--plan", required=True)
    v.add_argument("--results", required=True)
    v.add_argument("--dump", required=True)
    lo = sub.add_parser("loris")
    lo.add_argument("--host", default="127.0.0.1")
    lo.add_argument("--port", type=int, required=True)
    lo.add_argument("--attackers", type=int, default=24)
    lo.add_argument("--attacker-bind", default="127.0.0.1")
    lo.add_argument("--normal-bind", default="127.0.0.2")
    lo.add_argument("--normal-clients", type=int, default=2)
    lo.add_argument("--normal-pause", type=float, default=0.2)
    lo.add_argument("--duration", type=int, default=25)
    lo.add_argument("--slow", type=float, default=1.0)
    lo.add_argument("--slower", type=float, default=7.0)
    lo.add_argument("--per-source", type=int, default=4)
    lo.add_argument("--session-limit", type=int, default=12)
    lo.add_argument("--results", required=True)
    args = ap.parse_args()
    if args.cmd == "send":
        return asyncio.run(send_main(args))
    if args.cmd == "verify":
        return verify_main(args)
    return asyncio.run(loris_main(args))


if __name__ == "__main__":
    sys.exit(main())
