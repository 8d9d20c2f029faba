#!/usr/bin/python3
"""The live engine with real clients (issue: live engine):
  - a generic WebSocket feed served by this script (python3-websockets) into `seismo run`;
  - python3-websockets subscribers: snapshot, live stream with gap-free seq, resume with `since`,
    a `gap` when `since` is older than the ring, ping/pong, bearer tokens and their topic globs,
    every kind of bad request, and a slow consumer that is cut off and counted;
  - `promtool check metrics` on a scrape, and a real Prometheus server scraping seismo;
  - headless Chromium rendering the dashboard with a trigger in its DOM.
Every server is started here on 127.0.0.1 and stopped at the end.

usage: live_test.py SEISMO_BINARY
"""
import asyncio
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GenericFeed, check, failures, free_port, http_get, metric_sum, port_open, wait_until  # noqa: E402

SEISMO = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="seismo_live_")
PROCS = []


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def expect_error(ws, code, what):
    m = await recv_json(ws)
    check(m.get("type") == "error" and m.get("code") == code, f"{what}: error {code} ({m})")


async def main():
    feed = GenericFeed()
    feed_port = await feed.start()
    port = free_port()
    cfg = os.path.join(WORK, "live.toml")
    with open(cfg, "w") as f:
        f.write(f"""
[engine]
lateness = "1h"
[server]
listen = "127.0.0.1:{port}"
# Connections on two threads of their own, handed batches at most once a millisecond: every
# check below runs across the hub's hand-off to them and its coalescing window (the other e2e
# tests keep the defaults, connections on the engine's thread and no window).
io_threads = 2
coalesce = "1ms"
tokens = [{{ token = "full" }}, {{ token = "crypto", topics = ["crypto_*"] }},
          {{ token = "ops", roles = ["metrics"] }}, {{ token = "root", roles = ["admin"] }}]
max_connections = 6
replay_ring = 32
session_queue = 64
max_subscriptions = 4
max_message_bytes = 512
client_rate = 0
[[feed]]
name = "test"
venue = "generic"
url = "ws://127.0.0.1:{feed_port}/"
symbols = ["X", "C"]
stale_after = "1h"
[[instrument]]
symbol = "X"
[[instrument]]
symbol = "C"
tags = ["crypto"]
[[instrument]]
symbol = "Q"
[[signal]]
name = "x_low"
kind = "level"
instruments = ["X", "Q"]
levels = [{{ at = 90, severity = "warning" }}]
[[signal]]
name = "crypto_low"
kind = "level"
select = "tag:crypto"
levels = [{{ at = 50, severity = "critical" }}]
""")
    log = open(os.path.join(WORK, "seismo.err"), "w")
    proc = subprocess.Popen([SEISMO, "run", "--config", cfg, "--quiet", "--out", os.path.join(WORK, "audit.jsonl")],
                            stdout=subprocess.DEVNULL, stderr=log)
    PROCS.append(proc)
    base = f"http://127.0.0.1:{port}"
    ready = await wait_until(lambda: http_get(base + "/readyz")[0] == 200 if port_open(port) else False, 20)
    check(ready, "seismo listening and its feed connected (/readyz 200)")
    check(http_get(base + "/healthz") == (200, "ok\n"), "/healthz")
    # readiness says the handshake is done; the subscribe message follows it on the wire
    subscribed = await wait_until(
        lambda: any('"op":"subscribe","symbols":["X","C"]' in s.replace(" ", "") for s in feed.subscribes), 10)
    check(subscribed, "the feed received seismo's subscribe message")
    uri = f"ws://127.0.0.1:{port}/v1/stream"

    # --- the access matrix (DESIGN §6): every path but the liveness probes needs a token
    # whose roles cover it; expected status per token: none, unknown, crypto-limited
    # subscriber, metrics-only, subscriber, admin
    tokens = [None, "nope", "crypto", "ops", "full", "root"]
    matrix = {
        "/healthz":   [200, 200, 200, 200, 200, 200],
        "/readyz":    [200, 200, 200, 200, 200, 200],
        "/metrics":   [401, 401, 403, 200, 403, 200],
        "/v1/state":  [401, 401, 200, 403, 200, 200],
        "/":          [401, 401, 200, 403, 200, 200],
        "/nope":      [401, 401, 404, 403, 404, 404],
        "/v1/stream": [401, 401, 101, 403, 101, 101],
    }

    async def status_of(path, tok, via_query=False):
        headers = {} if tok is None or via_query else {"Authorization": f"Bearer {tok}"}
        url = base + path + (f"?token={tok}" if via_query and tok else "")
        if path != "/v1/stream":
            return http_get(url, headers)[0]
        try:
            async with websockets.connect(url.replace("http", "ws", 1), extra_headers=headers):
                return 101
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
    for path, want in matrix.items():
        got = [await status_of(path, t) for t in tokens]
        check(got == want, f"access {path:11} none/unknown/crypto/ops/full/admin: {got} (want {want})")
    got = [await status_of("/v1/state", t, via_query=True) for t in tokens]
    check(got == matrix["/v1/state"], f"access by ?token= on /v1/state: {got}")
    st, page = http_get(base + "/")
    check(st == 401 and "x_low" not in page and "crypto_low" not in page,
          "without a token, / answers 401 with the page that asks for one, holding no data")
    _, denied = http_get(base + "/metrics", {"Authorization": "Bearer ops"})
    check(metric_sum(denied, "seismo_http_denied_total", reason="no_token") >= 7 and
          metric_sum(denied, "seismo_http_denied_total", reason="forbidden") >= 6,
          "refusals counted by reason (seismo_http_denied_total)")

    full = {"Authorization": "Bearer full"}
    # --- bad requests, each answered with a clear error, connection kept
    async with websockets.connect(uri, extra_headers=full) as ws:
        await ws.send("not json")
        await expect_error(ws, "bad_json", "malformed JSON")
        await ws.send(json.dumps({"op": "frobnicate"}))
        await expect_error(ws, "unknown_op", "unknown op")
        await ws.send(json.dumps({"topics": ["*"]}))
        await expect_error(ws, "bad_request", "missing op")
        await ws.send(json.dumps({"op": "subscribe", "topics": [""]}))
        await expect_error(ws, "bad_topic", "empty glob")
        await ws.send(json.dumps({"op": "subscribe", "topics": "x_low"}))
        await expect_error(ws, "bad_topic", "topics not an array")
        await ws.send(json.dumps({"op": "subscribe", "topics": ["a", "b", "c", "d", "e"]}))
        await expect_error(ws, "too_many_subscriptions", "subscription limit")
        await ws.send(json.dumps({"op": "subscribe", "topics": ["*"], "since": -1}))
        await expect_error(ws, "bad_request", "negative since")
        await ws.send(json.dumps({"op": "ping"}))
        m = await recv_json(ws)
        check(m == {"type": "pong"}, "application ping -> pong")
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        check(True, "WebSocket ping frame answered")
        await ws.send(json.dumps({"op": "subscribe", "topics": ["x" * 600]}))
        await expect_error(ws, "message_too_big", "inbound message over max_message_bytes")
        try:
            await asyncio.wait_for(ws.recv(), 5)
            check(False, "oversized message closes the connection")
        except websockets.exceptions.ConnectionClosed as e:
            check(e.code == 1009, f"oversized message closes with 1009 (got {e.code})")
    async with websockets.connect(uri, extra_headers={"Authorization": "Bearer crypto"}) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["x_low"]}))
        await expect_error(ws, "forbidden", "token limited to crypto_* subscribing x_low")

    # --- snapshot, live stream with gap-free seq, per-token topics
    async with websockets.connect(uri, extra_headers=full) as a, \
            websockets.connect(uri + "?token=crypto") as c:
        await a.send(json.dumps({"op": "subscribe", "topics": ["*"]}))
        snap = await recv_json(a)
        check(snap.get("type") == "snapshot" and snap.get("active") == [], "first snapshot: nothing active")
        check(isinstance(snap.get("epoch"), str) and len(snap["epoch"]) == 16 and snap.get("last_seq") == 0,
              f"the snapshot carries the run's epoch and last_seq ({snap})")
        epoch = snap["epoch"]
        await c.send(json.dumps({"op": "subscribe", "topics": ["crypto_*"]}))
        check((await recv_json(c)).get("type") == "snapshot", "token ?token= accepted; snapshot")
        await feed.send("X", 100)
        await feed.send("X", 85)   # x_low fires
        await feed.send("C", 40)   # crypto_low fires
        got = [await recv_json(a), await recv_json(a)]
        check([g["signal"] for g in got] == ["x_low", "crypto_low"] and [g["seq"] for g in got] == [1, 2],
              f"stream: triggers in seq order ({[(g['signal'], g['seq']) for g in got]})")
        check(all("recv_ts" in g and "latency_ns" in g for g in got), "live triggers carry recv_ts and latency_ns")
        cm = await recv_json(c)
        check(cm["signal"] == "crypto_low", "crypto token sees crypto_low")
        # a late subscriber gets both active triggers in its snapshot
        async with websockets.connect(uri, extra_headers=full) as b:
            await b.send(json.dumps({"op": "subscribe", "topics": ["x_low", "crypto_*"]}))
            snap = await recv_json(b)
            check(sorted(t["signal"] for t in snap["active"]) == ["crypto_low", "x_low"],
                  "snapshot on subscribe: the active triggers")
        # many more triggers: fire/clear X 60 times
        for i in range(60):
            await feed.send("X", 95 if i % 2 == 0 else 85)
        seqs = [g["seq"] for g in got]
        while len(seqs) < 62:
            m = await recv_json(a)
            if m.get("type") == "trigger":
                seqs.append(m["seq"])
        check(seqs == list(range(1, 63)), "stream: 62 triggers, seq gap-free 1..62")
        body = http_get(base + "/metrics", {"Authorization": "Bearer ops"})[1]
        writes = metric_sum(body, "seismo_subscriber_writes_total")
        deliveries = metric_sum(body, "seismo_deliveries_total")
        check(1 <= writes <= deliveries and deliveries >= 62,
              f"seismo_subscriber_writes_total counts the writes carrying triggers "
              f"({writes:.0f} for {deliveries:.0f} deliveries)")
        try:
            extra = await asyncio.wait_for(c.recv(), 1.0)
            check(False, f"crypto token must not receive x_low ({extra})")
        except asyncio.TimeoutError:
            check(True, "crypto token receives nothing outside crypto_*")

    # --- what a limited token sees in /v1/state: its topics only
    state = json.loads(http_get(base + "/v1/state", full)[1])
    check(sorted(s["name"] for s in state["signals"]) == ["crypto_low", "x_low"] and state["feeds"],
          "/v1/state for a full token: every signal and the feed")
    cstate = json.loads(http_get(base + "/v1/state", {"Authorization": "Bearer crypto"})[1])
    check([s["name"] for s in cstate["signals"]] == ["crypto_low"] and
          all(a["signal"] == "crypto_low" for a in cstate["active"]) and cstate["feeds"] == [],
          f"/v1/state for a crypto_* token: crypto_low only ({[s['name'] for s in cstate['signals']]}, "
          f"{[a['signal'] for a in cstate['active']]})")
    check(state["epoch"] == epoch, "/v1/state carries the same epoch")
    check(state["instruments_without_ticks"] == ["Q"] and any("never got a tick: Q" in w for w in state["warnings"]),
          f"/v1/state warns about a configured instrument that never ticked ({state['warnings']})")
    check("warnings" not in cstate, "a topic-limited token does not see the configuration's warnings")

    # --- resume with since, and a gap when since is older than the ring (32)
    last = state["last_seq"]
    check(last >= 62, f"/v1/state last_seq {last}")
    async with websockets.connect(uri, extra_headers=full) as r:
        await r.send(json.dumps({"op": "subscribe", "topics": ["*"], "since": last - 7}))
        snap = await recv_json(r)
        check(snap["type"] == "snapshot" and snap["last_seq"] == last, "resume: snapshot first, with last_seq")
        replay = [(await recv_json(r))["seq"] for _ in range(7)]
        check(replay == list(range(last - 6, last + 1)), f"resume since {last - 7}: replays the 7 after it ({replay})")
        snapped = [t["seq"] for t in snap["active"]]
        check(not set(snapped) & set(replay), f"no trigger both in the snapshot and the replay ({snapped})")
    async with websockets.connect(uri, extra_headers=full) as r:
        await r.send(json.dumps({"op": "subscribe", "topics": ["x_low"], "since": last + 100}))
        await recv_json(r)  # snapshot
        w = await recv_json(r)
        check(w.get("type") == "warning" and w.get("code") == "since_ahead", f"since past the last seq: warned ({w})")
        await r.send(json.dumps({"op": "subscribe", "topics": ["no_such_signal", "silver_*"]}))
        w1, w2 = await recv_json(r), await recv_json(r)
        check(w1.get("code") == "unknown_topic" and w2.get("code") == "unknown_topic"
              and "no_such_signal" in w1["message"], f"unknown topics: a coded warning each ({w1}, {w2})")
        check((await recv_json(r)).get("type") == "snapshot", "and the subscription stands (snapshot)")
        await r.send(json.dumps({"op": "subscribe", "topics": ["*"], "sinse": 3}))
        await expect_error(r, "unknown_field", "a misspelt field is refused, not ignored")
    # min_severity: a critical-only subscriber sees crypto_low (critical), not x_low (warning)
    async with websockets.connect(uri, extra_headers=full) as r:
        await r.send(json.dumps({"op": "subscribe", "topics": ["*"], "min_severity": "critical"}))
        snap = await recv_json(r)
        check([t["signal"] for t in snap["active"]] == ["crypto_low"],
              f"min_severity critical: the snapshot holds critical triggers only ({snap['active']})")
        await feed.send("X", 95)
        await feed.send("X", 85)
        await feed.send("C", 60)  # crypto_low clears (critical level)
        m = await recv_json(r)
        check(m.get("signal") == "crypto_low" and m.get("state") == "cleared",
              f"min_severity critical: x_low's two triggers skipped, crypto_low's clear delivered ({m})")
        await feed.send("C", 40)
        await recv_json(r)
    last = json.loads(http_get(base + "/v1/state", full)[1])["last_seq"]

    # --- max_connections limits sessions: monitoring keeps answering when subscribers fill it
    ops = {"Authorization": "Bearer ops"}
    check(await wait_until(lambda: metric_sum(http_get(base + "/metrics", ops)[1], "seismo_subscribers") == 0, 10),
          "every earlier session closed")
    held = [await websockets.connect(uri, extra_headers=full) for _ in range(6)]
    check(await status_of("/v1/stream", "full") == 503, "a session over max_connections: 503")
    check(http_get(base + "/metrics", {"Authorization": "Bearer ops"})[0] == 200 and
          http_get(base + "/healthz")[0] == 200 and http_get(base + "/readyz")[0] == 200,
          "at max_connections sessions, /metrics, /healthz and /readyz still answer")
    # past the HTTP reserve too, a new connection is served: the oldest connection still
    # waiting for a request is closed for it (idle sockets cannot lock out monitoring)
    idle = []
    for _ in range(64):
        c = socket.create_connection(("127.0.0.1", port))
        idle.append(c)
    time.sleep(0.2)
    busy = socket.create_connection(("127.0.0.1", port))
    busy.settimeout(5)
    busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = b""
    try:
        while True:
            chunk = busy.recv(4096)
            if not chunk:
                break
            raw += chunk
    except socket.timeout:
        pass
    idle[0].settimeout(5)
    try:
        evicted = idle[0].recv(10) == b""
    except (socket.timeout, ConnectionResetError):
        evicted = False
    check(raw.startswith(b"HTTP/1.1 200") and evicted,
          f"over the HTTP reserve: served ({raw[:15]}), the oldest idle connection closed for it")
    check(metric_sum(http_get(base + "/metrics", ops)[1], "seismo_http_closed_total", reason="evicted") >= 1,
          "and counted (seismo_http_closed_total{reason=\"evicted\"})")
    for c in idle + [busy]:
        c.close()
    for w in held:
        await w.close()
    async with websockets.connect(uri, extra_headers=full) as r:
        await r.send(json.dumps({"op": "subscribe", "topics": ["*"], "since": 1}))
        await recv_json(r)  # snapshot
        gap = await recv_json(r)
        oldest = last - 31
        check(gap == {"type": "gap", "from": 2, "to": oldest - 1}, f"since older than the ring: gap 2..{oldest - 1} ({gap})")
        first = await recv_json(r)
        check(first.get("seq") == oldest, f"then the ring from its oldest ({oldest})")

    # --- a slow consumer: never reads; cut off with a reason and counted
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              b"Authorization: Bearer full\r\n\r\n")
    time.sleep(0.2)
    payload = json.dumps({"op": "subscribe", "topics": ["*"]}).encode()
    mask = b"\x01\x02\x03\x04"
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    # More than the kernel's socket buffers can absorb (~4 MB), so seismo's own queue fills.
    for i in range(25000):
        await feed.send("X", 95 if i % 2 == 0 else 85)

    def dropped():
        _, text = http_get(base + "/metrics", {"Authorization": "Bearer ops"})
        for line in text.splitlines():
            if line.startswith('seismo_subscriber_dropped_total{reason="slow_consumer"}'):
                return float(line.split()[-1]) >= 1
        return False
    check(await wait_until(dropped, 30), "slow consumer cut off and counted (seismo_subscriber_dropped_total)")
    s.close()

    # --- hostile clients (issue: hardening, findings 1 and 2): the length-wrap input 2,000
    # times, and a ping flood from a client that never reads; neither may hold a slot or grow
    # the server, and monitoring answers throughout
    def upgraded():
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Authorization: Bearer full\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.recv(4096)
            if not chunk:
                break
            head += chunk
        return c, head.startswith(b"HTTP/1.1 101")

    def rss_kib():
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0
    mask = b"\x01\x02\x03\x04"
    wrap = bytes([0x01, 0x85]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"hello")) + \
        bytes([0x80, 0xff]) + (2**64 - 3).to_bytes(8, "big") + mask
    ok_all = True
    for _ in range(2000):
        c, up = upgraded()
        ok_all = ok_all and up
        c.sendall(wrap)
        c.settimeout(5)
        try:
            while c.recv(4096):
                pass  # the server answers with a close (1009) and hangs up
        except (socket.timeout, ConnectionResetError):
            ok_all = False
        c.close()
    check(ok_all, "2,000 length-wrap sessions: each upgraded, refused and closed by the server")
    check(await wait_until(lambda: metric_sum(http_get(base + "/metrics", ops)[1], "seismo_subscribers") == 0, 10),
          "and none of them holds a slot afterwards")
    check(http_get(base + "/healthz")[0] == 200 and await status_of("/v1/stream", "full") == 101,
          "after them, probes and new sessions are served")
    # headers over the 16 KiB limit get a 431 that says so, not a bare close
    c = socket.create_connection(("127.0.0.1", port))
    c.settimeout(5)
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = c.recv(4096)
    except (socket.timeout, ConnectionResetError):
        answer = b""
    c.close()
    check(answer.startswith(b"HTTP/1.1 431") and b"headers_too_large" in answer,
          f"64 KiB of headers: 431 with a reason ({answer[:40]})")
    before = rss_kib()
    c, up = upgraded()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ping = bytes([0x89, 0x80 | 100]) + mask + bytes(100)
    flood = memoryview(ping * 200000)  # ~21 MB of pings, never reading the pongs
    # The sends stop for good only once the server has stopped reading: its pongs fill the
    # kernel's send buffer (at most tcp_wmem's maximum), then its own queue. A pause alone proves
    # nothing: a segment dropped on loopback stalls TCP for a retransmission timeout while the
    # server still reads, and a flood given up there leaves pongs that all fit in the kernel. So
    # the flood goes on until nothing has gone out for a second after that much was sent.
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 << 20
    c.setblocking(False)
    off, progress = 0, time.monotonic()
    deadline = progress + 60
    while off < len(flood) and time.monotonic() < deadline:
        if select.select([], [c], [], 0.2)[1]:
            try:
                n = c.send(flood[off:off + 65536])
            except BlockingIOError:
                n = 0
            except (BrokenPipeError, ConnectionResetError):
                break
            if n:
                off += n
                progress = time.monotonic()
        if off > wmem_max and time.monotonic() - progress >= 1:
            break  # back-pressure: the server stopped reading, so the sends stall
    sent = off // len(ping)
    # still connected, still not reading: cut off after the grace period, and counted
    cut = await wait_until(lambda: metric_sum(http_get(base + "/metrics", ops)[1], "seismo_subscriber_dropped_total",
                                              reason="unread_replies") >= 1, 15)
    grown = rss_kib() - before
    c.close()
    check(cut, f"a ping flood that never reads stalls, then is cut off and counted (after {sent} pings)")
    check(grown < 64 * 1024, f"and the server grew {grown} KiB, not without bound")

    # --- promtool on a scrape
    status, text = http_get(base + "/metrics", {"Authorization": "Bearer ops"})
    metrics_file = os.path.join(WORK, "metrics.txt")
    with open(metrics_file, "w") as f:
        f.write(text)
    pt = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check(status == 200 and pt.returncode == 0, f"promtool check metrics: exit {pt.returncode} {pt.stdout}{pt.stderr}")
    for series in ("seismo_feed_frames_total", "seismo_feed_rejected_total", "seismo_feed_connected",
                   "seismo_feed_reconnects_total", "seismo_feed_last_event_age_seconds", "seismo_feed_gaps_total",
                   "seismo_queue_depth", "seismo_tick_to_trigger_seconds_bucket", "seismo_triggers_total",
                   "seismo_signal_value", "seismo_subscribers", "seismo_subscriber_dropped_total",
                   "seismo_journal_bytes_total", "process_cpu_seconds_total", "process_resident_memory_bytes"):
        check(any(l.startswith(series) for l in text.splitlines()), f"/metrics has {series}")

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for args in (["check", "rules", f"{root}/deploy/prometheus/alerts.yml"],
                 ["check", "config", f"{root}/deploy/prometheus/prometheus.yml"]):
        r = subprocess.run(["promtool", *args], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool {' '.join(args[:2])} on deploy/prometheus: exit {r.returncode}")
    with open(f"{root}/deploy/grafana/seismo.json") as g:
        check(len(json.load(g)["panels"]) >= 6, "deploy/grafana/seismo.json is a dashboard")

    # --- a real Prometheus server scraping seismo
    prom_port = free_port()
    prom_dir = os.path.join(WORK, "prom")
    os.makedirs(prom_dir)
    with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: seismo\n"
                f"    authorization:\n      credentials: ops\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={prom_dir}/prometheus.yml",
                             f"--storage.tsdb.path={prom_dir}/data", f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(prom_dir, "log"), "w"))
    PROCS.append(prom)

    def prom_has_triggers():
        if not port_open(prom_port):
            return False
        st, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/query?query=seismo_triggers_total%7Bsignal%3D%22x_low%22%7D")
        if st != 200:
            return False
        res = json.loads(body)["data"]["result"]
        return any(float(r["value"][1]) > 0 for r in res)
    check(await wait_until(prom_has_triggers, 60, 0.5), "Prometheus scraped seismo: seismo_triggers_total{signal=\"x_low\"} > 0")
    st, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/query?query=up%7Bjob%3D%22seismo%22%7D")
    check(st == 200 and json.loads(body)["data"]["result"][0]["value"][1] == "1", "Prometheus: up{job=\"seismo\"} == 1")
    prom.send_signal(signal.SIGTERM)
    prom.wait(timeout=20)

    # --- the dashboard in headless Chromium: a token from the address, triggers, the feed, a
    # chart per signal value, cleared triggers without an alarm colour, and 1,280 px without
    # horizontal scrolling; a screenshot for whoever looks (artifacts/ in the test's directory)
    chrome = shutil.which("chromium")

    def chromium(*args, url):
        profile = tempfile.mkdtemp(prefix="seismo_chromium_")
        try:
            return subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                   "--disable-quic", f"--user-data-dir={profile}", *args, url],
                                  capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
    dom = chromium("--window-size=1280,900", "--virtual-time-budget=8000", "--dump-dom", url=f"{base}/?token=full").stdout
    rows = dom.count('class="trigger ')
    check(rows > 0 and "x_low" in dom, f"Chromium: dashboard DOM shows triggers ({rows} rows)")
    check('class="feed up"' in dom, "Chromium: dashboard shows the feed up")
    charts = dom.count('class="spark"')
    check(charts >= 2, f"Chromium: a chart per signal value ({charts})")
    check('data-fits="true"' in dom, "Chromium: the dashboard fits 1,280 px without horizontal scrolling")
    cleared = [r for r in dom.split("<tr ")[1:] if r.startswith('class="trigger cleared"')]
    check(cleared and all('class="sev was"' in r and "sev critical" not in r for r in cleared),
          f"Chromium: {len(cleared)} cleared triggers shown without an alarm colour")
    check("token=full" not in dom, "Chromium: the token left the address for session storage")
    dom = chromium("--virtual-time-budget=4000", "--dump-dom", url=f"{base}/").stdout
    check('id="auth" class="show"' in dom and "token needed" in dom and 'class="trigger ' not in dom,
          "Chromium without a token: the page asks for one and shows nothing")
    dom = chromium("--virtual-time-budget=4000", "--dump-dom", url=f"{base}/?token=wrong").stdout
    check('id="auth" class="show"' in dom and "refused" in dom, "Chromium with a wrong token: it says so")
    artifacts = os.environ.get("SEISMO_ARTIFACTS", os.path.join(WORK, "artifacts"))
    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, "dashboard-1280.png")
    chromium("--window-size=1280,900", "--virtual-time-budget=8000", f"--screenshot={shot}", url=f"{base}/?token=full")
    check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"Chromium: screenshot {shot}")

    # --- refusals are logged, at most once per second per feed and reason
    for _ in range(5):
        await feed.broadcast("this is not json")
    _, m = http_get(base + "/metrics", {"Authorization": "Bearer ops"})
    check(await wait_until(lambda: metric_sum(http_get(base + "/metrics", {"Authorization": "Bearer ops"})[1],
                                              "seismo_feed_rejected_total", reason="malformed") >= 5, 10),
          "five malformed frames counted")

    # --- stop: SIGTERM drains and exits 0 quickly
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=20)
    check(rc == 0 and time.monotonic() - t0 < 5, f"SIGTERM: exit {rc} after {time.monotonic() - t0:.2f} s")
    audit = open(os.path.join(WORK, "audit.jsonl")).read().splitlines()
    check(len(audit) >= 62 and json.loads(audit[0])["seq"] == 1, f"audit log has every trigger ({len(audit)})")
    log.close()
    lines = open(os.path.join(WORK, "seismo.err")).read().splitlines()
    refused = [l for l in lines if "refused as malformed" in l]
    check(any("warning: 1 of 3 configured instruments never got a tick: Q" in l for l in lines),
          "the stop line is followed by the warnings")
    check(len(refused) == 1 and "feed test" in refused[0],
          f"five refusals within a second: one log line naming the feed and reason ({refused})")
    others = [json.loads(a)["signal"] for a in audit if '"x_low"' not in a]
    health = [a for a in audit if '"feed_health"' in a]
    check(set(others) == {"crypto_low"}, f"no feed-health triggers from a healthy feed ({others[:5]}; {health[:3]})")
    feed.close()


try:
    asyncio.run(main())
finally:
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    shutil.rmtree(WORK, ignore_errors=True)
if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("all live checks passed")
