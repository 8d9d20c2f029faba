#!/usr/bin/python3
"""Record and replay with live parity (issue: journal, paced replay, plots), end to end:
  - parity: `seismo run --record` fed over WebSocket by local feed servers (three generic-protocol
    feeds and one Binance-format feed, sending concurrently, with malformed, NaN, negative,
    oversize, late and duplicate frames, sequence gaps, a dropped connection and a stale feed);
    the `--deterministic` replay of the journal at --speed max, 1 and 5 equals the live audit log
    with recv_ts and latency_ns removed, byte for byte; progress lines off a TTY, a bar on one;
    the dead letters of replay and live are the same lines;
  - SIGKILL while recording: every frame sent more than one flush interval (plus delivery margin)
    before the kill is recovered; a torn final block is reported with exactly the bytes dropped;
  - corruption: a flipped byte in a record is reported with its segment, offset and both CRCs,
    replay skips just that record (exit 0) or stops with exit 1; random damage never crashes;
  - --plot: the HTML is self-contained, headless Chromium renders it (DOM: a chart per
    instrument with signals, one row per trigger; the screenshot is a non-blank PNG).

usage: journal_test.py SEISMO_BINARY
"""
import asyncio
import json
import os
import pty
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Binance, Feed, GenericFeed, check, failures, free_port, http_get, metric_sum,  # noqa: E402
                     port_open, wait_until)

SEISMO = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="seismo_journal_")
PROCS = []

T0_MS = 1770000000000  # 2026-02-02T02:40:00Z: event time of round 0
STEP_MS = 120_000      # event time per round: 2 minutes
ROUNDS = 900           # 30 hours of event time


# ------------------------------------------------------------------------------ journal format
# (docs/journal.md) read independently here to aim damage at exact records.

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def segment_header_size(b):
    assert b[:8] == b"SEISMOJL", "segment magic"
    (meta_len,) = struct.unpack_from("<I", b, 32)
    return 36 + meta_len + 4


def blocks(b):
    """(offset, magic, raw_len, stored_len) of every complete block of a segment."""
    at = segment_header_size(b)
    out = []
    while at + 16 <= len(b):
        magic, raw, stored, _crc = struct.unpack_from("<4sIII", b, at)
        if magic not in (b"SJB1", b"SJBZ") or at + 16 + stored > len(b):
            break
        out.append((at, magic, raw, stored))
        at += 16 + stored
    return out


def records(b):
    """(file offset, type, feed, crc, payload offset) of every record in an uncompressed segment."""
    out = []
    for at, magic, _raw, stored in blocks(b):
        assert magic == b"SJB1"
        p = at + 16
        while p < at + 16 + stored:
            length, crc, _ts, feed, flags = struct.unpack_from("<IIqHH", b, p)
            out.append((p, flags, feed, crc, p + 20))
            p += 20 + length
    return out


# ------------------------------------------------------------------------------ the market
def shape(r, depth):
    """Calm until round 300, a crash to `depth` by 420, a partial recovery by 600, a second leg
    a little deeper by 760, back to flat by the end."""
    pts = [(0, 0.0), (300, 0.0), (420, depth), (600, depth / 3), (760, depth * 1.1), (ROUNDS, 0.0)]
    for (r0, v0), (r1, v1) in zip(pts, pts[1:]):
        if r <= r1:
            return v0 + (v1 - v0) * (r - r0) / max(r1 - r0, 1)
    return 0.0


def ts_ms(r):
    return T0_MS + r * STEP_MS


class Market:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def px(self, base, depth, r, noise=0.001):
        return round(base * (1 + shape(r, depth)) * (1 + self.rng.uniform(-noise, noise)), 6)


def config_text(port, urls, flush="100ms", compress=False, macro_stale="300ms"):
    return f"""
[engine]
lateness = "0ms"
journal_flush_interval = "{flush}"
journal_compress = {"true" if compress else "false"}
[server]
listen = "127.0.0.1:{port}"
[[feed]]
name = "metals"
venue = "generic"
url = "{urls['metals']}"
symbols = ["XAG/USD", "XAU/USD"]
stale_after = "1h"
[[feed]]
name = "crypto"
venue = "binance"
url = "{urls['crypto']}"
symbols = ["BTCUSDT", "ETHUSDT"]
channels = "trade"
stale_after = "1h"
[[feed]]
name = "asia"
venue = "generic"
url = "{urls['asia']}"
symbols = ["IDX.*"]
stale_after = "1h"
[[feed]]
name = "macro"
venue = "generic"
url = "{urls['macro']}"
symbols = ["US.USD_LIQUIDITY", "CN.MARGIN_BALANCE", "OFR.FSI"]
stale_after = "{macro_stale}"
[[instrument]]
symbol = "XAG/USD"
tags = ["precious_metal"]
[[instrument]]
symbol = "XAU/USD"
tags = ["precious_metal"]
[[instrument]]
symbol = "BTC/USD"
aliases = ["binance:BTCUSDT"]
tags = ["crypto"]
[[instrument]]
symbol = "ETH/USD"
aliases = ["binance:ETHUSDT"]
tags = ["crypto"]
[[instrument]]
match = "IDX.*"
tags = ["asia_index"]
[[instrument]]
symbol = "US.USD_LIQUIDITY"
kind = "level"
[[instrument]]
symbol = "CN.MARGIN_BALANCE"
kind = "level"
[[instrument]]
symbol = "OFR.FSI"
kind = "level"
[[signal]]
name = "silver_crash"
kind = "drawdown"
instruments = ["XAG/USD"]
window = "6h"
levels = [{{ at = -0.08, severity = "warning" }}, {{ at = -0.15, severity = "critical" }}]
rearm = 0.02
[[signal]]
name = "precious_crash"
kind = "drawdown"
select = "tag:precious_metal"
window = "6h"
levels = [{{ at = -0.03, severity = "warning" }}]
rearm = 0.01
[[signal]]
name = "crypto_crash"
kind = "drawdown"
select = "tag:crypto"
window = "6h"
levels = [{{ at = -0.04, severity = "warning" }}, {{ at = -0.06, severity = "critical" }}]
rearm = 0.01
[[signal]]
name = "btc_below_71k"
kind = "level"
instruments = ["BTC/USD"]
levels = [{{ at = 71000, severity = "critical" }}]
rearm = 500
[[signal]]
name = "liquidity_shock"
kind = "composite"
inputs = ["precious_crash", "crypto_crash"]
within = "2h"
levels = [{{ at = 2, severity = "critical" }}]
[[signal]]
name = "asia_breadth"
kind = "breadth"
select = "tag:asia_index"
ref = "prev_close"
member_at = -0.01
min_members = 4
levels = [{{ at = 0.5, severity = "warning" }}, {{ at = 1.0, severity = "critical" }}]
rearm = 0.25
[[signal]]
name = "usd_liquidity_zone"
kind = "level"
instruments = ["US.USD_LIQUIDITY"]
levels = [{{ at = -40, severity = "warning" }}, {{ at = -60, severity = "critical" }}]
rearm = 5
[[signal]]
name = "financing_deleveraging"
kind = "change"
instruments = ["CN.MARGIN_BALANCE"]
lookback = "1d"
levels = [{{ at = -10e9, severity = "warning" }}]
rearm = 2e9
[[signal]]
name = "fsi_spike"
kind = "zscore"
instruments = ["OFR.FSI"]
halflife = "2d"
min_count = 20
levels = [{{ at = 2.0, severity = "warning" }}]
rearm = 1.0
"""


async def resubscribed(feed, before, timeout=15):
    """Waits until `feed` got a subscribe on a new connection (seismo reconnected)."""
    return await wait_until(lambda: feed.connections > before and feed.clients and len(feed.subscribes) > 0, timeout)


async def metals_round(feed, mk, r):
    t = ts_ms(r)
    await feed.send("XAG/USD", mk.px(90.0, -0.17, r), ts=t)
    await feed.send("XAU/USD", mk.px(4900.0, -0.036, r, 0.0005), ts=t)
    if r == 50:
        await feed.broadcast('{"sym":"XAG/USD","px":')                                   # malformed
    elif r == 60:
        await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": "NaN", "ts": t}))       # not finite
    elif r == 70:
        await feed.broadcast(json.dumps({"sym": "XAU/USD", "px": -5, "ts": t}))          # not positive
    elif r == 80:
        await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": 1, "pad": "x" * 70000}))  # oversize
    elif r == 90:
        await feed.broadcast(json.dumps({"sym": "XAU/USD", "px": 4901, "ts": t - 3_600_000}))  # late
    elif r == 100:
        await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": 90.0, "ts": t,
                                         "seq": feed.seq["XAG/USD"]}))                   # duplicate
    elif r == 110:
        feed.seq["XAG/USD"] += 5                                                         # a gap of 5


async def crypto_round(feed, mk, r):
    t = ts_ms(r)
    await feed.trade("BTCUSDT", mk.px(76000.0, -0.08, r), t, skip=3 if r == 130 else 0)
    await feed.trade("ETHUSDT", mk.px(2300.0, -0.09, r), t)
    if r == 140:
        await feed.broadcast(json.dumps({"stream": "btcusdt@depth", "data": {"e": "depthUpdate", "s": "BTCUSDT"}}))
    if r == 450:
        before = feed.connections
        await feed.drop_clients()  # a venue load balancer cutting the connection
        check(await resubscribed(feed, before), "crypto: seismo reconnected after the connection was cut")


INDICES = {"IDX.SSE": (4050.0, -0.025), "IDX.SZSE": (13500.0, -0.03), "IDX.HSI": (26800.0, -0.022),
           "IDX.N225": (52000.0, -0.028)}


async def asia_round(feed, mk, r):
    for sym, (base, depth) in INDICES.items():
        await feed.send(sym, mk.px(base, depth, r, 0.0008), ts=ts_ms(r))


async def macro_round(feed, mk, r, fsi, stall_at=600):
    """fsi: [the OFR.FSI level], carried from round to round."""
    t = ts_ms(r)
    liq = round(-20 + 50 * shape(r, -1.0) + mk.rng.uniform(-1, 1), 3)
    margin = round(2.5e12 * (1 + shape(r, -0.02)), -6)
    fsi[0] = round(fsi[0] + (0.9 if 400 <= r < 430 else mk.rng.uniform(-0.03, 0.03)), 4)
    await feed.send("US.USD_LIQUIDITY", liq, ts=t)
    await feed.send("CN.MARGIN_BALANCE", margin, ts=t)
    await feed.send("OFR.FSI", fsi[0], ts=t)
    if r == stall_at:
        # Silent for longer than twice stale_after: seismo marks the feed stale, then
        # re-establishes the connection.
        before = feed.connections
        check(await resubscribed(feed, before), "macro: stale feed re-established by seismo")


async def run_market(feeds, mk, pace):
    """Every feed, round by round, each on its own connection. A composite counts the inputs that
    fired within `within` of the watermark, the greatest event time over every feed, so the feeds
    must not drift apart in event time: paced by coroutines of their own, they drifted further
    than that under load and the composite's check failed now and then."""
    for sym, (base, _) in INDICES.items():
        await feeds["asia"].broadcast(json.dumps({"sym": sym, "prev_close": base}))
    fsi = [-2.0]
    for r in range(ROUNDS):
        await metals_round(feeds["metals"], mk, r)
        await crypto_round(feeds["crypto"], mk, r)
        if r % 2 == 0:
            await asia_round(feeds["asia"], mk, r)
        if r % 5 == 0:
            await macro_round(feeds["macro"], mk, r, fsi)
        await asyncio.sleep(pace)


async def start_feeds():
    feeds = {"metals": GenericFeed(), "crypto": Binance(), "asia": GenericFeed(), "macro": GenericFeed()}
    urls = {}
    for name, f in feeds.items():
        port = await f.start()
        urls[name] = f"ws://127.0.0.1:{port}/" + ("stream" if name == "crypto" else "")
    return feeds, urls


def start_seismo(cfg_path, journal_dir, audit, dead, port):
    err = open(os.path.join(WORK, f"seismo_{port}.err"), "w")
    proc = subprocess.Popen([SEISMO, "run", "--config", cfg_path, "--record", journal_dir, "--out", audit,
                             "--dead-letter", dead, "--quiet"], stdout=subprocess.DEVNULL, stderr=err)
    PROCS.append(proc)
    return proc


async def all_recorded(base, feeds):
    """Every frame the feed servers sent is in the journal and the signal thread has drained."""
    st, body = http_get(base + "/metrics")
    if st != 200:
        return False
    sent = sum(f.sent for f in feeds.values())
    return (metric_sum(body, "seismo_journal_frames_total") == sent
            and metric_sum(body, "seismo_queue_depth", queue="ticks") == 0)


def strip_wall_clock(line):
    return re.sub(r',"latency_ns":-?\d+', "", re.sub(r',"recv_ts":"[^"]*"', "", line))


def replay(journal, *extra, tty=False):
    """Runs `seismo replay`; returns (exit code, stderr text, seconds)."""
    args = [SEISMO, "replay", journal, "--deterministic", *extra]
    t0 = time.monotonic()
    if not tty:
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        return p.returncode, p.stderr, time.monotonic() - t0
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 1.0)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, b"".join(chunks).decode(errors="replace"), time.monotonic() - t0


def reasons(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)["reason"]
            out[r] = out.get(r, 0) + 1
    return out


# ------------------------------------------------------------------------------ 1. parity
async def parity():
    feeds, urls = await start_feeds()
    port = free_port()
    cfg = os.path.join(WORK, "live.toml")
    with open(cfg, "w") as f:
        f.write(config_text(port, urls))
    jdir, audit, dead = (os.path.join(WORK, n) for n in ("journal", "audit.jsonl", "dead_live.jsonl"))
    proc = start_seismo(cfg, jdir, audit, dead, port)
    base = f"http://127.0.0.1:{port}"
    ok = await wait_until(lambda: port_open(port) and http_get(base + "/readyz")[0] == 200
                          and all(f.clients for f in feeds.values()), 30)
    check(ok, "seismo up with its four feeds connected (/readyz 200)")
    mk = Market(7)
    t_first = time.monotonic()
    await run_market(feeds, mk, 0.004)
    live_span = time.monotonic() - t_first
    check(await wait_until(lambda: all_recorded(base, feeds), 30),
          f"all {sum(f.sent for f in feeds.values())} frames recorded and consumed")
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=30) == 0, "live run stopped cleanly on SIGTERM")
    for f in feeds.values():
        f.close()

    live = [strip_wall_clock(l) for l in open(audit).read().splitlines()]
    kinds = {json.loads(l)["kind"] for l in live}
    health = [json.loads(l) for l in live if '"signal":"feed_health"' in l]
    conditions = {(h["feed"], h["condition"]) for h in health}
    print(f"     live: {len(live)} triggers, kinds {sorted(kinds)}, feed health {sorted(conditions)}")
    check(kinds >= {"drawdown", "level", "change", "breadth", "zscore", "composite", "feed_health"},
          "the live run fired every signal kind and feed health")
    check(("metals", "gap") in conditions and ("crypto", "gap") in conditions, "sequence gaps became feed_health triggers")
    check(("macro", "stale") in conditions, "the stalled feed went stale")
    check(("crypto", "down") in conditions, "the cut connection was reported down")
    live_reasons = reasons(dead)
    check(set(live_reasons) >= {"malformed", "non_finite", "non_positive", "oversize", "late", "duplicate"},
          f"live dead letters carry every kind of bad input ({live_reasons})")

    insp = subprocess.run([SEISMO, "inspect", jdir], capture_output=True, text=True)
    info = json.loads(insp.stdout)
    check(insp.returncode == 0 and info["problems"] == 0, "inspect: the journal is clean")
    check(info["frames"] == sum(f.sent for f in feeds.values()),
          f"inspect: {info['frames']} frames recorded, as many as the feeds sent")
    check([f["name"] for f in info["feeds"]] == ["metals", "crypto", "asia", "macro"], "inspect: the four feeds")

    outs = {}
    for speed, extra, tty in (("max", ["--no-progress"], False), ("1", [], False), ("5", [], True)):
        out = os.path.join(WORK, f"replay_{speed}.jsonl")
        summary = os.path.join(WORK, f"summary_{speed}.json")
        dl = os.path.join(WORK, f"dead_{speed}.jsonl")
        rc, err, secs = replay(jdir, "--speed", speed, "--out", out, "--summary", summary, "--dead-letter", dl,
                               *extra, tty=tty)
        outs[speed] = open(out).read().splitlines() if os.path.exists(out) else []
        check(rc == 0, f"replay --speed {speed}: exit 0 ({secs:.2f} s)")
        same = outs[speed] == live
        if not same:
            for i, (a, b) in enumerate(zip(outs[speed], live)):
                if a != b:
                    print(f"     first difference at line {i + 1}:\n       replay {a}\n       live   {b}")
                    break
        check(same, f"replay --speed {speed} --deterministic == live audit minus recv_ts/latency_ns "
                    f"({len(outs[speed])} vs {len(live)} lines)")
        # Whole lines, sorted: live writes them from the feed threads and the signal thread, so
        # only their interleaving may differ (one dead-letter formatter serves every path).
        same_dead = sorted(open(dl).read().splitlines()) == sorted(open(dead).read().splitlines())
        check(same_dead, f"replay --speed {speed}: dead letters as live, line for line ({reasons(dl)})")
        s = json.load(open(summary))
        check(s["journal"]["problems"] == 0 and s["frames"] == info["frames"], f"replay --speed {speed}: summary")
        if speed == "1":
            check(secs >= 0.9 * live_span, f"--speed 1 takes real time: {secs:.2f} s for a {live_span:.2f} s session")
            check("seismo: [" in err and "frames" in err, "progress lines on stderr when it is not a TTY")
        if speed == "5":
            check("\r\x1b[K[" in err, "a progress bar (carriage-return redrawn) on a TTY")
            check(secs < live_span / 2, f"--speed 5 is faster than real time ({secs:.2f} s)")
    return jdir, outs["max"]


# ------------------------------------------------------------------------------ 2. SIGKILL
async def sigkill():
    feed = GenericFeed()
    feed_port = await feed.start()
    port = free_port()
    urls = {"metals": f"ws://127.0.0.1:{feed_port}/", "crypto": "ws://127.0.0.1:9/stream",
            "asia": "ws://127.0.0.1:9/", "macro": "ws://127.0.0.1:9/"}
    cfg = os.path.join(WORK, "kill.toml")
    with open(cfg, "w") as f:
        f.write(config_text(port, urls, flush="100ms", compress=True, macro_stale="1h"))
    jdir = os.path.join(WORK, "journal_killed")
    proc = start_seismo(cfg, jdir, os.path.join(WORK, "audit_k.jsonl"), os.path.join(WORK, "dead_k.jsonl"), port)
    check(await wait_until(lambda: bool(feed.clients) and port_open(port), 30), "SIGKILL run: feed connected")
    sent_at = {}  # XAG/USD seq -> monotonic time it was sent
    mk = Market(11)
    t_end = time.monotonic() + 2.0
    r = 0
    while time.monotonic() < t_end:
        await feed.send("XAG/USD", mk.px(90.0, 0.0, r), ts=ts_ms(r))
        sent_at[feed.seq["XAG/USD"]] = time.monotonic()
        r += 1
        await asyncio.sleep(0.002)
    t_kill = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    feed.close()

    def recovered_seqs(path):
        frames = os.path.join(WORK, "frames.jsonl")
        p = subprocess.run([SEISMO, "inspect", path, "--frames", frames], capture_output=True, text=True)
        seqs = set()
        for line in open(frames):
            fr = json.loads(json.loads(line)["frame"])
            seqs.add(fr.get("seq"))
        return p, json.loads(p.stdout), seqs

    flush, margin = 0.100, 0.150
    p, info, seqs = recovered_seqs(jdir)
    must = {s for s, t in sent_at.items() if t < t_kill - flush - margin}
    check(p.returncode in (0, 1) and must <= seqs,
          f"SIGKILL: all {len(must)} frames sent more than flush interval + {margin * 1000:.0f} ms before the kill "
          f"were recovered ({len(seqs)} of {len(sent_at)} sent; problems {info['problems']})")
    rc, err, _ = replay(jdir, "--no-progress", "--out", os.devnull)
    check(rc == 0, f"replay of the killed run's journal: exit 0 ({err.strip()[-120:]})")

    # The kill may land between blocks; make it land inside one: cut the last block in half.
    seg = sorted(x for x in os.listdir(jdir) if x.endswith(".sjl"))[-1]
    path = os.path.join(jdir, seg)
    b = open(path, "rb").read()
    blks = blocks(b)
    check(len(blks) >= 5, f"the killed journal has {len(blks)} blocks (one per flush interval)")
    last_at, _, _, last_len = blks[-1]
    cut = last_at + 16 + last_len // 2
    with open(path, "r+b") as f:
        f.truncate(cut)
    p, info, seqs2 = recovered_seqs(jdir)
    expected = cut - last_at
    check(p.returncode == 1 and info["dropped_bytes"] == expected and
          f"{seg} offset {last_at}: torn tail: dropped {expected} bytes" in p.stderr,
          f"torn tail: reported with the exact bytes dropped ({expected}): {p.stderr.strip()}")
    must2 = {s for s, t in sent_at.items() if t < t_kill - 2 * (flush + margin)}
    check(must2 <= seqs2 and len(seqs2) < len(seqs),
          f"torn tail: only the last block is lost ({len(seqs) - len(seqs2)} frames); all {len(must2)} sent "
          f"before the last two flush intervals remain")
    rc, err, _ = replay(jdir, "--no-progress", "--out", os.devnull)
    check(rc == 0 and "torn tail: dropped" in err, "replay after a torn tail: reported, exit 0")


# ------------------------------------------------------------------------------ 3. corruption
def corruption(jdir, clean):
    src = os.path.join(jdir, sorted(x for x in os.listdir(jdir) if x.endswith(".sjl"))[0])
    b = bytearray(open(src, "rb").read())
    frames = [r for r in records(b) if r[1] == 1 and r[2] == 0]  # metals frames
    victim = frames[len(frames) // 2]
    off, _, _, stored_crc, payload = victim
    digit = b.index(b'"px":', payload) + 6
    b[digit] = ord("0") if b[digit] != ord("0") else ord("1")
    (length,) = struct.unpack_from("<I", b, off)
    computed = crc32c(bytes(b[off + 8:off + 20 + length]))
    cdir = os.path.join(WORK, "journal_corrupt")
    os.makedirs(cdir)
    bad = os.path.join(cdir, os.path.basename(src))
    open(bad, "wb").write(b)
    want = f"{bad} offset {off}: record CRC mismatch (stored {stored_crc:08x}, computed {computed:08x})"

    out = os.path.join(WORK, "corrupt_skip.jsonl")
    summary = os.path.join(WORK, "corrupt_summary.json")
    rc, err, _ = replay(cdir, "--no-progress", "--out", out, "--summary", summary)
    skipped = open(out).read().splitlines()
    s = json.load(open(summary))
    check(rc == 0 and want in err, f"corrupted record reported with segment, offset and CRCs: {err.strip()[:200]}")
    check(s["journal"]["problems"] == 1 and s["frames"] == len(frames) + sum(1 for r in records(b) if r[1] == 1 and r[2] != 0) - 1,
          "skip: only the damaged record is lost; replay carries on to the end")
    check(len(skipped) > len(clean) // 2, f"skip: {len(skipped)} triggers (clean: {len(clean)})")

    out_stop = os.path.join(WORK, "corrupt_stop.jsonl")
    rc, err, _ = replay(cdir, "--no-progress", "--out", out_stop, "--on-corruption", "stop")
    stopped = open(out_stop).read().splitlines()
    check(rc == 1 and want in err, f"--on-corruption stop: exit {rc} with the damage named")
    check(stopped == clean[:len(stopped)] and len(stopped) < len(clean),
          f"stop: the {len(stopped)} triggers before the damage are the clean replay's")

    # Random damage of every kind: never a crash (an exit code, never a signal).
    rng = random.Random(5)
    orig = open(src, "rb").read()
    crashed = []
    for i in range(12):
        d = bytearray(orig)
        if i % 3 == 0:
            d = d[:rng.randrange(64, len(d))]
        else:
            for _ in range(rng.randrange(1, 40)):
                d[rng.randrange(len(d))] = rng.randrange(256)
        open(bad, "wb").write(d)
        rc, err, _ = replay(cdir, "--no-progress", "--out", os.devnull)
        if rc not in (0, 1):
            crashed.append((i, rc, err[-300:]))
    check(not crashed, f"12 randomly damaged journals: exit 0 or 1 with the damage reported, never a crash {crashed}")


# ------------------------------------------------------------------------------ 4. plot
def png_is_drawn(path):
    """Decodes the PNG's pixel rows (zlib) and counts distinct byte values: a blank page has ~1."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0
    at, idat, w, h = 8, b"", 0, 0
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        kind = data[at + 4:at + 8]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", data[at + 8:at + 16])
        elif kind == b"IDAT":
            idat += data[at + 8:at + 8 + n]
        at += 12 + n
    raw = zlib.decompress(idat)
    return len(set(raw)), (w, h)


def plot(jdir, clean):
    html = os.path.join(WORK, "plot.html")
    rc, err, _ = replay(jdir, "--no-progress", "--out", os.devnull, "--plot", html)
    check(rc == 0 and os.path.getsize(html) > 10_000, f"--plot wrote {os.path.getsize(html)} bytes")
    text = open(html).read()
    check(not re.search(r'(src|href)="https?:', text) and "<script src" not in text,
          "the plot is self-contained (no network references)")
    chrome = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="seismo_chromium_")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]
    dom = subprocess.run([chrome, *flags, "--dump-dom", "file://" + html], capture_output=True, text=True, timeout=120)
    rows = dom.stdout.count('<tr class="trigger">')
    charts = re.findall(r"<h2[^>]*>([^<]+)</h2>", dom.stdout)
    # instruments with their own signals get a chart; breadth members are drawn as the breadth
    with_signals = {"XAG/USD", "XAU/USD", "BTC/USD", "ETH/USD", "US.USD_LIQUIDITY", "CN.MARGIN_BALANCE", "OFR.FSI"}
    check(rows == len(clean), f"Chromium DOM: one timeline row per trigger ({rows} of {len(clean)})")
    check(with_signals <= set(charts) and {"Breadth and composites", "Timeline"} <= set(charts),
          f"Chromium DOM: a chart per instrument with signals, breadth and composites, the timeline ({charts})")
    check(dom.stdout.count("<svg") >= len(with_signals) + 1, "Chromium DOM: inline SVG charts")
    png = os.path.join(WORK, "plot.png")
    subprocess.run([chrome, *flags, "--window-size=1400,2400", "--hide-scrollbars", f"--screenshot={png}",
                    "file://" + html], capture_output=True, timeout=120)
    distinct, size = png_is_drawn(png) if os.path.exists(png) else (0, 0)
    check(distinct > 50, f"Chromium screenshot {size}: drawn ({distinct} distinct byte values in its pixel rows)")
    shutil.rmtree(profile, ignore_errors=True)


def plot_recorded():
    """The plot of a recorded capture (OKX, 94 BTC/USD ticks in 12 s): every tick drawn, one
    time axis shared by every chart and the timeline, labels at distinct round times, the
    trigger's markers at one x everywhere."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    capture = os.path.join(root, "tests/fixtures/recorded/okx-v5.tardis.txt")
    html, ticks = os.path.join(WORK, "okx.html"), os.path.join(WORK, "okx.ticks")
    r = subprocess.run([SEISMO, "replay", capture, "--venue", "okx", "--out", os.devnull, "--plot", html,
                        "--ticks", ticks], capture_output=True, text=True)
    check(r.returncode == 0, f"OKX capture replayed with --plot (exit {r.returncode})")
    text = open(html).read()
    n_btc = sum(1 for line in open(ticks) if '"sym":"BTC/USD"' in line)
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    price = next((s for s in svgs if "BTC/USD price" in s), "")
    line = re.search(r'<polyline[^>]*points="([^"]*)"', price)
    points = len(line.group(1).split()) if line else 0
    # every tick, bursts inside one pixel column drawn as their first, lowest, highest and last
    # (it drew one point a minute: 5 for this capture)
    check(n_btc > 50 and 0.8 * n_btc <= points <= n_btc,
          f"the price chart draws every tick ({points} points for {n_btc} BTC/USD ticks)")
    axes = []
    for svg in svgs:
        labels = re.findall(r'<text x="([0-9.]+)" y="[0-9.]+" class="ax" text-anchor="middle">([^<]+)</text>', svg)
        axes.append(labels)
    check(all(len(a) >= 3 and len({t for _, t in a}) == len(a) for a in axes),
          f"every chart's time labels are distinct round times ({[t for _, t in axes[0]]})")
    check(len({tuple(a) for a in axes}) == 1, f"one time axis shared by all {len(axes)} charts and the timeline")
    trigger_x = {cx for svg in svgs for cx in re.findall(r'<circle cx="([0-9.]+)"', svg)}
    check(len(trigger_x) == 1, f"the trigger's markers line up across charts and timeline (x = {sorted(trigger_x)})")
    artifacts = os.environ.get("SEISMO_ARTIFACTS", os.path.join(WORK, "artifacts"))
    os.makedirs(artifacts, exist_ok=True)
    png = os.path.join(artifacts, "plot-okx.png")
    profile = tempfile.mkdtemp(prefix="seismo_chromium_")
    subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={profile}", "--window-size=1280,1600", f"--screenshot={png}",
                    "file://" + html], capture_output=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    check(os.path.exists(png) and png_is_drawn(png)[0] > 50, f"screenshot of the OKX plot: {png}")


async def main():
    plot_recorded()
    jdir, clean = await parity()
    await sigkill()
    corruption(jdir, clean)
    plot(jdir, clean)


try:
    asyncio.run(main())
finally:
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    if failures or os.environ.get("SEISMO_KEEP"):
        print(f"work directory kept: {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("all journal checks passed")
