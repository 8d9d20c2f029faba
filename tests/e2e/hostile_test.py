#!/usr/bin/python3
"""Hostile and broken clients against `seismo run` (the hardening issue), three instances:
  A. RFC 6455 conformance of the server side, by the Autobahn testsuite's case groups
     (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close
     handshake, 9 limits), with raw sockets so that bad frames can be sent at all;
  B. bounded resources: idle HTTP and WebSocket connections closed, the inbound rate limit,
     2,000 idle sockets while /metrics answers, the length-wrap input 5,000 times, and 30 s of
     ping and op floods from clients that never read, with seismo's RSS sampled every second
     and a well-behaved subscriber that must lose nothing;
  C. TLS end to end: a client that verifies the server's certificate, one that does not trust
     it, and the refusal to send tokens over plain ws:// on a non-loopback address.
The seismo processes are started here on 127.0.0.1 and stopped at the end.

usage: hostile_test.py SEISMO_BINARY SOURCE_DIR
"""
import asyncio
import base64
import json
import logging
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, failures, free_port, http_get, metric_sum, port_open, wait_until  # noqa: E402

SEISMO, SOURCE = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="seismo_hostile_")
PROCS = []
logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # writes to sockets the server cut
PLAYBOOK = open(os.path.join(SOURCE, "deploy/config/playbook.toml")).read()


def config(name, server_lines):
    """The playbook (the demo day's signals) with its [server] section replaced."""
    text = re.sub(r'\[server\]\nlisten = "[^"]*"\n', "[server]\n" + server_lines.strip() + "\n", PLAYBOOK)
    assert text != PLAYBOOK
    path = os.path.join(WORK, name + ".toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start(name, cfg, *extra):
    log = open(os.path.join(WORK, name + ".err"), "w")
    # Under ASan (the debug build) freed memory waits in a 256 MiB quarantine by default: keep it
    # small, so that RSS measures what seismo holds, not what the sanitizer holds back.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8")
    p = subprocess.Popen([SEISMO, "run", "--config", cfg, "--demo", "--quiet", *extra],
                         stdout=subprocess.DEVNULL, stderr=log, env=env)
    PROCS.append(p)
    return p


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ a raw WebSocket client

def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """A client frame; `length` overrides the declared payload length (for lies)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    head = bytes([b0])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def text(s, **kw):
    return frame(1, s.encode() if isinstance(s, str) else s, **kw)


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


class Raw:
    """One upgraded /v1/stream connection spoken to frame by frame."""

    def __init__(self, port, token=None):
        self.port, self.token = port, token
        self.r = self.w = None

    async def open(self, timeout=5):
        self.r, self.w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        self.w.write((f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{auth}"
                      f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), timeout)
        return head.split(b"\r\n", 1)[0]

    def send(self, *frames):
        for f in frames:
            self.w.write(f)

    async def drain(self):
        await self.w.drain()

    async def recv(self, timeout=5):
        """(opcode, payload) of the next server frame, or None at EOF or timeout."""
        try:
            h = await asyncio.wait_for(self.r.readexactly(2), timeout)
            n = h[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", await self.r.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await self.r.readexactly(8))[0]
            return h[0] & 0x0F, await asyncio.wait_for(self.r.readexactly(n), timeout)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return None

    async def recv_json(self, timeout=5):
        while True:
            m = await self.recv(timeout)
            if m is None or m[0] != 1:
                return m
            return json.loads(m[1])

    async def until_close(self, timeout=5):
        """The close code the server sends (skipping other frames), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = await self.recv(max(0.05, deadline - time.monotonic()))
            if m is None:
                return None
            if m[0] == 8:
                return struct.unpack(">H", m[1][:2])[0] if len(m[1]) >= 2 else 1005
        return None

    async def eof(self, timeout=5):
        """True when the server closes the TCP connection within `timeout`."""
        try:
            while True:
                if not await asyncio.wait_for(self.r.read(65536), timeout):
                    return True
        except (asyncio.TimeoutError):
            return False
        except ConnectionError:
            return True

    def close(self):
        if self.w is not None:
            self.w.close()


PING_OP = '{"op":"ping"}'


async def pong_after(raw, timeout=5):
    """Reads until the {"type":"pong"} reply (an op answered: the connection still works)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = await raw.recv(max(0.05, deadline - time.monotonic()))
        if m is None or m[0] == 8:
            return False
        if m[0] == 1 and json.loads(m[1]).get("type") == "pong":
            return True
    return False


# ------------------------------------------------------------------ A: conformance

async def case(port, name, frames, expect, group, results):
    """Sends frames on a fresh connection; `expect`: "pong" (answered, still open), an int
    (close with that code), or a callable(raw) -> bool."""
    raw = Raw(port)
    status = await raw.open()
    ok = status.startswith(b"HTTP/1.1 101")
    if ok:
        raw.send(*frames)
        try:
            await raw.drain()
        except ConnectionError:
            pass
        if expect == "pong":
            ok = await pong_after(raw)
        elif isinstance(expect, int):
            ok = await raw.until_close() == expect and await raw.eof(5)
        else:
            ok = await expect(raw)
    raw.close()
    results.setdefault(group, []).append((name, ok))
    if not ok:
        check(False, f"conformance {group} {name}")


async def conformance(port):
    results = {}
    padded = lambda n: PING_OP + " " * (n - len(PING_OP))  # noqa: E731  a valid op of n bytes
    # 1 framing: payload lengths across the 7-bit, 16-bit and 64-bit length forms
    for n in (13, 125, 126, 127, 128, 65535, 65536, 1 << 20):
        await case(port, f"text of {n} bytes", [text(padded(n))], "pong", "1 framing", results)

    await case(port, "empty text: an error, and the connection stays", [text("")],
               lambda raw: error_then_alive(raw, "bad_json"), "1 framing", results)
    await case(port, "binary message: an error, and the connection stays", [frame(2, b"\x00\x01")],
               lambda raw: error_then_alive(raw, "binary_unsupported"), "1 framing", results)
    await case(port, "unmasked client frame", [text(PING_OP, mask=False)], 1002, "1 framing", results)

    # 2 ping/pong
    for n in (0, 1, 125):
        payload = os.urandom(n)

        async def echoed(raw, payload=payload):
            m = await raw.recv()
            return m == (10, payload) and await pong_after_ping(raw)
        await case(port, f"ping with {n} bytes: pong with the same", [frame(9, payload)], echoed, "2 ping/pong", results)
    await case(port, "ping of 126 bytes", [frame(9, b"x" * 126)], 1002, "2 ping/pong", results)
    await case(port, "unsolicited pong is ignored", [frame(10, b"hi"), text(PING_OP)], "pong", "2 ping/pong", results)

    async def ten_pongs(raw):
        got = 0
        for _ in range(10):
            m = await raw.recv()
            got += m is not None and m[0] == 10
        return got == 10
    await case(port, "10 pings: 10 pongs", [frame(9, b"%d" % i) for i in range(10)], ten_pongs, "2 ping/pong", results)
    await case(port, "fragmented ping", [frame(9, b"a", fin=False)], 1002, "2 ping/pong", results)

    # 3 reserved bits
    for rsv in range(1, 8):
        await case(port, f"RSV {rsv:03b} on a text frame", [text(PING_OP, rsv=rsv)], 1002, "3 reserved bits", results)
    await case(port, "RSV on a ping", [frame(9, b"", rsv=4)], 1002, "3 reserved bits", results)

    # 4 opcodes
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        await case(port, f"reserved opcode {op}", [frame(op, b"x")], 1002, "4 opcodes", results)
    await case(port, "reserved opcode after a valid message", [text(PING_OP), frame(5, b"")],
               lambda raw: pong_then_close(raw, 1002), "4 opcodes", results)

    # 5 fragmentation
    half = len(PING_OP) // 2
    await case(port, "a message in two fragments", [text(PING_OP[:half], fin=False), frame(0, PING_OP[half:].encode())],
               "pong", "5 fragmentation", results)
    await case(port, "one byte per fragment", [text(PING_OP[0], fin=False)] +
               [frame(0, c.encode(), fin=False) for c in PING_OP[1:-1]] + [frame(0, PING_OP[-1].encode())],
               "pong", "5 fragmentation", results)

    async def ping_between(raw):
        m = await raw.recv()
        return m == (10, b"mid") and await pong_after(raw)
    await case(port, "ping between fragments", [text(PING_OP[:half], fin=False), frame(9, b"mid"),
                                                frame(0, PING_OP[half:].encode())], ping_between, "5 fragmentation", results)
    await case(port, "continuation without a message", [frame(0, b"x")], 1002, "5 fragmentation", results)
    await case(port, "a new message before the last ended", [text("{", fin=False), text("}")], 1002, "5 fragmentation", results)
    await case(port, "continuation after a whole message", [text(PING_OP), frame(0, b"x")],
               lambda raw: pong_then_close(raw, 1002), "5 fragmentation", results)

    # 6 UTF-8 of text messages
    good = '{"op":"subscribe","topics":["κόσμε"]}'

    async def snapshot(raw):
        for _ in range(3):  # an unknown_topic warning comes first
            m = await raw.recv_json()
            if isinstance(m, dict) and m.get("type") == "snapshot":
                return True
        return False
    await case(port, "valid UTF-8 in a text message", [text(good)], snapshot, "6 UTF-8", results)
    g = good.encode()
    cut = g.index("κ".encode()) + 1  # inside a code point
    await case(port, "valid UTF-8 split inside a code point across fragments",
               [text(g[:cut], fin=False), frame(0, g[cut:])], snapshot, "6 UTF-8", results)
    bad_sequences = [b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",  # 6.3.1
                     b"\x80", b"\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",  # lone and overlong
                     b"\xed\xa0\x80", b"\xed\xbf\xbf",  # surrogates
                     b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xfe", b"\xff",  # past U+10FFFF, never UTF-8
                     b"\xce"]  # truncated
    for i, seq in enumerate(bad_sequences):
        await case(port, f"invalid UTF-8 #{i + 1} ({seq[:6].hex()})", [text(b'{"op":"ping","x":"' + seq + b'"}')],
                   1007, "6 UTF-8", results)
    await case(port, "invalid UTF-8 in the second fragment", [text(b'{"op":"', fin=False), frame(0, b'\xff"}')],
               1007, "6 UTF-8", results)

    # 7 close handshake
    async def closed_back(raw, want=None):
        code = await raw.until_close()
        return code is not None and (want is None or code == want) and await raw.eof(5)
    await case(port, "close 1000: answered and TCP closed", [frame(8, close_payload(1000, b"bye"))],
               lambda raw: closed_back(raw, 1000), "7 close", results)
    await case(port, "close without a payload", [frame(8, b"")], lambda raw: closed_back(raw), "7 close", results)
    await case(port, "close with a 1-byte payload", [frame(8, b"\x03")], 1002, "7 close", results)
    await case(port, "close with a 123-byte reason", [frame(8, close_payload(1000, b"r" * 123))],
               lambda raw: closed_back(raw, 1000), "7 close", results)
    await case(port, "close reason not UTF-8", [frame(8, close_payload(1000, b"\xce\xba\xff"))], 1007, "7 close", results)
    await case(port, "frames after a close are not answered", [frame(8, close_payload(1000)), text(PING_OP)],
               lambda raw: closed_back(raw, 1000), "7 close", results)
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        await case(port, f"valid close code {code}", [frame(8, close_payload(code))],
                   lambda raw: closed_back(raw, 1000), "7 close", results)
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        await case(port, f"invalid close code {code}", [frame(8, close_payload(code))], 1002, "7 close", results)

    # 9 limits (max_message_bytes = 1 MiB here)
    await case(port, "a message of exactly the limit", [text(padded(1 << 20))], "pong", "9 limits", results)
    await case(port, "one byte over the limit", [text(padded((1 << 20) + 1))], 1009, "9 limits", results)
    await case(port, "16 MiB declared", [text(b"x" * 10, length=16 << 20)], 1009, "9 limits", results)
    await case(port, "fragments summing past the limit", [text(padded(1 << 19), fin=False),
                                                           frame(0, b" " * ((1 << 19) + 1))], 1009, "9 limits", results)

    async def many(raw, n=1000):
        got = 0
        while got < n:
            m = await raw.recv()
            if m is None:
                return False
            got += m[0] == 1 and json.loads(m[1]).get("type") == "pong"
        return True
    await case(port, "1,000 ops in a row, all answered", [text(PING_OP)] * 1000, many, "9 limits", results)

    for group in sorted(results):
        passed = sum(ok for _, ok in results[group])
        check(passed == len(results[group]), f"conformance {group}: {passed}/{len(results[group])} cases")
    return results


async def error_then_alive(raw, code):
    """An error reply with `code`, and the connection still answers an op."""
    m = await raw.recv_json()
    return isinstance(m, dict) and m.get("code") == code and await pong_after_ping(raw)


async def pong_after_ping(raw):
    raw.send(text(PING_OP))
    return await pong_after(raw)


async def pong_then_close(raw, code):
    return await pong_after(raw) and await raw.until_close() == code


# ------------------------------------------------------------------ B: bounded resources

SUBSCRIBER = r"""
import asyncio, json, sys, websockets
seqs, gaps, closed, port = [], 0, None, int(sys.argv[1])
async def main():
    global gaps, closed
    loop = asyncio.get_running_loop()
    done = loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/v1/stream", max_size=None, ping_interval=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topics": ["*"]}))
            while not done.done():
                try:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except asyncio.TimeoutError:
                    continue
                if m.get("type") == "trigger":
                    if seqs and m["seq"] != seqs[-1] + 1:
                        gaps += 1
                    seqs.append(m["seq"])
                    if len(seqs) == 1:
                        print("started", flush=True)
                elif m.get("type") == "gap":
                    gaps += 1
    except Exception as e:
        closed = repr(e)[:300]
    await done
asyncio.run(main())
print(json.dumps({"seqs": len(seqs), "gaps": gaps, "closed": closed}), flush=True)
"""


class Subscriber:
    """A well-behaved subscriber (python3-websockets answers pings) in its own process, as a
    real one would be, so that the flooders of this script cannot delay its pongs: every
    trigger's seq must follow the one before."""

    def __init__(self, port):
        self.proc = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        PROCS.append(self.proc)
        self.seqs, self.gaps, self.closed = 0, 0, None

    async def started(self, timeout):
        loop = asyncio.get_running_loop()
        line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline), timeout)
        return line.strip() == "started"

    def stop(self):
        """Ends the session and takes the subscriber's report."""
        out, _ = self.proc.communicate("", timeout=20)
        r = json.loads(out.strip().splitlines()[-1])
        self.seqs, self.gaps, self.closed = r["seqs"], r["gaps"], r["closed"]


async def metrics(port):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: http_get(f"http://127.0.0.1:{port}/metrics", timeout=5))


async def limits(port, proc):
    sub = Subscriber(port)
    check(await sub.started(30), "B: the well-behaved subscriber receives triggers")

    # idle TCP, a request that never ends, a WebSocket that never answers pings
    r, w = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.monotonic()
    got = await asyncio.wait_for(r.read(100), 10)
    check(got == b"" and time.monotonic() - t0 < 5, f"B: an idle TCP connection is closed by request_timeout ({time.monotonic() - t0:.1f} s)")
    w.close()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{")
    t0 = time.monotonic()
    got = await asyncio.wait_for(r.read(100), 10)
    check(got == b"" and time.monotonic() - t0 < 5, "B: a body that never arrives is cut by request_timeout")
    w.close()
    raw = Raw(port)
    await raw.open()
    t0 = time.monotonic()
    saw_ping, code = False, None
    while time.monotonic() - t0 < 15:
        m = await raw.recv(15)
        if m is None:
            break
        if m[0] == 9:
            saw_ping = True
        if m[0] == 8:
            code = struct.unpack(">H", m[1][:2])[0]
            reason = m[1][2:].decode()
            break
    check(saw_ping and code == 1008 and "idle" in reason,
          f"B: a session that never answers the server's ping is closed 1008 idle ({time.monotonic() - t0:.1f} s)")
    raw.close()
    _, body = await metrics(port)
    check(metric_sum(body, "seismo_subscriber_dropped_total", reason="idle") >= 1, "B: counted as idle")
    check(metric_sum(body, "seismo_http_closed_total", reason="timeout") >= 2, "B: request timeouts counted")

    # the inbound rate limit
    raw = Raw(port)
    await raw.open()
    raw.send(*[text(PING_OP)] * 500)
    code = await raw.until_close(5)
    check(code == 1008, f"B: 500 ops at once, over client_rate: closed 1008 ({code})")
    raw.close()
    _, body = await metrics(port)
    check(metric_sum(body, "seismo_subscriber_dropped_total", reason="rate_limited") >= 1, "B: counted as rate_limited")

    # 2,000 idle sockets: /metrics keeps answering (the oldest idle ones are evicted)
    socks = []
    for _ in range(2000):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    await asyncio.sleep(0.5)
    answered = 0
    for _ in range(5):
        st, _ = await metrics(port)
        answered += st == 200
        await asyncio.sleep(0.2)
    for s in socks:
        s.close()
    _, body = await metrics(port)
    check(answered == 5, f"B: /metrics answered {answered}/5 while 2,000 idle sockets were held")
    check(metric_sum(body, "seismo_http_closed_total", reason="evicted") > 0, "B: idle connections evicted for them")

    # the length-wrap input, 5,000 times
    wrap = text('{"op":', fin=False) + bytes([0x80, 0x80 | 127]) + struct.pack(">Q", (1 << 64) - 3) + b"\x01\x02\x03\x04"
    closed = 0
    for batch in range(250):  # 20 at a time: max_connections is 32 here
        conns = [Raw(port) for _ in range(20)]
        for c in conns:
            await c.open()
            c.send(wrap)
        for c in conns:
            closed += await c.until_close(5) == 1009
            c.close()
    check(closed == 5000, f"B: the length-wrap input 5,000 times: {closed} closed 1009")
    ok = await wait_until(lambda: metric_sum(http_get(f"http://127.0.0.1:{port}/metrics")[1], "seismo_subscribers") == 1, 10)
    check(ok, "B: and afterwards one session is open: the subscriber's")

    # 30 s of floods from clients that never read, reconnecting whenever they are cut
    base = rss_kib(proc.pid)
    stop = time.monotonic() + 30
    sent = {"ping": 0, "op": 0, "sessions": 0}

    async def flooder(kind):
        payload = frame(9, b"x" * 125) if kind == "ping" else text(PING_OP)
        while time.monotonic() < stop:
            c = Raw(port)
            try:
                await c.open()
                sent["sessions"] += 1
                while time.monotonic() < stop:
                    c.send(*[payload] * 256)
                    sent[kind] += 256
                    await asyncio.wait_for(c.drain(), 2)
            except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            finally:
                c.close()
            await asyncio.sleep(0.01)

    samples, answered, asked = [], 0, 0

    async def sampler():
        nonlocal answered, asked
        while time.monotonic() < stop:
            samples.append(rss_kib(proc.pid))
            asked += 1
            st, _ = await metrics(port)
            answered += st == 200
            await asyncio.sleep(1)
    await asyncio.gather(*[flooder("ping") for _ in range(4)], *[flooder("op") for _ in range(4)], sampler())
    peak = max(samples)
    with open(os.path.join(WORK, "flood_rss.txt"), "w") as f:
        f.write(" ".join(map(str, samples)))
    print(f"     flood: {sent['ping']} pings and {sent['op']} ops over {sent['sessions']} sessions; "
          f"RSS {base} KiB before, peak {peak} KiB", flush=True)
    check(peak - base < 64 * 1024, f"B: 30 s of floods grew RSS {peak - base} KiB (< 64 MiB)")
    check(answered == asked, f"B: /metrics answered every second of the flood ({answered}/{asked})")
    await asyncio.sleep(1)
    sub.stop()
    check(sub.closed is None and sub.gaps == 0 and sub.seqs > 10,
          f"B: the well-behaved subscriber lost nothing: {sub.seqs} triggers, {sub.gaps} gaps, closed: {sub.closed}")


# ------------------------------------------------------------------ C: TLS and secure defaults

async def tls(port):
    cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    server = f'listen = "127.0.0.1:{port}"\ntls_cert = "{cert}"\ntls_key = "{key}"\ntokens = [{{ token = "t0k" }}]'
    proc = start("tls", config("tls", server), "--speed", "600")
    ok = await wait_until(lambda: port_open(port), 20)
    check(ok, "C: seismo listening with TLS")
    trusted = ssl.create_default_context(cafile=cert)
    loop = asyncio.get_running_loop()

    def https(path, ctx, headers=None):
        import urllib.request
        req = urllib.request.Request(f"https://localhost:{port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    import urllib.error
    check(await loop.run_in_executor(None, https, "/healthz", trusted) == 200, "C: https /healthz, the certificate verified")
    check(await loop.run_in_executor(None, https, "/metrics", trusted) == 401, "C: https /metrics without a token: 401")
    check(await loop.run_in_executor(None, https, "/v1/state", trusted, {"Authorization": "Bearer t0k"}) == 200,
          "C: https /v1/state with the token")
    async with websockets.connect(f"wss://localhost:{port}/v1/stream", ssl=trusted,
                                  extra_headers={"Authorization": "Bearer t0k"}) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["*"]}))
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        check(m.get("type") == "snapshot", "C: wss subscribe through a verified certificate: snapshot")
    untrusting = ssl.create_default_context()
    try:
        await loop.run_in_executor(None, https, "/healthz", untrusting)
        check(False, "C: a client that does not trust the certificate refuses it")
    except Exception as e:  # noqa: BLE001
        check("CERTIFICATE_VERIFY_FAILED" in repr(e), "C: a client that does not trust the certificate refuses it")
    st, _ = (await loop.run_in_executor(None, lambda: plain_status(port)))
    check(st != 200, f"C: plain HTTP on the TLS port gets no answer ({st})")
    proc.terminate()
    proc.wait(10)
    # tokens over plain ws:// on a non-loopback address: refused, unless allow_insecure
    r = subprocess.run([SEISMO, "validate", config("insecure", 'listen = "0.0.0.0:0"\ntokens = [{ token = "a" }]')],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "clear text" in r.stderr, f"C: tokens on plain 0.0.0.0 refused ({r.stderr.strip()[:90]})")
    r = subprocess.run([SEISMO, "validate", config("insecure_ok", 'listen = "0.0.0.0:0"\nallow_insecure = true\n'
                                                               'tokens = [{ token = "a" }]')], capture_output=True, text=True)
    check(r.returncode == 0, "C: ... and allowed with allow_insecure = true")
    r = subprocess.run([SEISMO, "run", "--config", config("insecure_cli", 'tokens = [{ token = "a" }]'),
                        "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "clear text" in r.stderr, "C: --listen 0.0.0.0 with tokens and no TLS refused too")


def plain_status(port):
    try:
        return http_get(f"http://127.0.0.1:{port}/healthz", timeout=3)
    except Exception as e:  # noqa: BLE001  what a TLS port does to plain HTTP
        return (repr(e)[:60], "")


async def main():
    pa, pb, pc = free_port(), free_port(), free_port()
    a = start("conformance", config("conformance", f'listen = "127.0.0.1:{pa}"\nmax_message_bytes = 1048576\n'
                                                   f'client_rate = 0\nidle_timeout = "0s"'), "--speed", "60")
    b = start("limits", config("limits", f'listen = "127.0.0.1:{pb}"\nmax_connections = 32\nidle_timeout = "6s"\n'
                                         f'request_timeout = "1s"\nclient_rate = 50'), "--speed", "600")
    ok = await wait_until(lambda: port_open(pa) and port_open(pb), 20)
    check(ok, "A and B listening")
    if ok:
        await conformance(pa)
        await limits(pb, b)
    await tls(pc)
    for p in (a, b):
        check(p.poll() is None, f"still running after it all (pid {p.pid})")


try:
    asyncio.run(main())
finally:
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    if failures:
        for name in ("conformance", "limits", "tls"):
            path = os.path.join(WORK, name + ".err")
            if os.path.exists(path):
                print(f"--- {name}.err (tail)\n" + "".join(open(path).readlines()[-20:]))
    shutil.rmtree(WORK, ignore_errors=True)
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
