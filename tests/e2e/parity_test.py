#!/usr/bin/python3
"""One path (DESIGN §2): the same frames through the three ways seismo takes input give the same
triggers and the same dead letters, byte for byte.

  1. live: `seismo run --record` fed over WebSocket by a local feed server (this script);
  2. journal replay: `seismo replay JOURNAL` of what the live run recorded;
  3. file replay: `seismo replay FILE --format tardis --feed NAME`, where FILE holds the frames
     the journal recorded, each after its receive time (a Tardis raw capture).

Two feeds, each in a run of its own so that one feed's frames have one order everywhere: a
generic-protocol feed carrying every signal kind and every kind of bad input (malformed, NaN,
negative, oversize, late, duplicate, a sequence gap, a blank frame, a batch with a bad
element), and a Binance-format feed (trades, a subscribe acknowledgement, a depth update, a
duplicate trade id, a gap, a bad price). The triggers of the three paths are compared whole, in
order; the dead letters whole, as sorted lines (live writes them from two threads, the feed's
and the signal thread's, so their interleaving is the one thing allowed to differ).

usage: parity_test.py SEISMO_BINARY
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Binance, GenericFeed, check, failures, free_port, http_get, metric_sum, port_open, wait_until  # noqa: E402

SEISMO = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="seismo_parity_")
PROCS = []
T0_MS = 1770000000000
STEP_MS = 60_000

GENERIC_CONFIG = """
[engine]
lateness = "0ms"
[server]
listen = "127.0.0.1:{port}"
[[feed]]
name = "g"
venue = "generic"
url = "ws://127.0.0.1:{feed_port}/"
symbols = ["XAG/USD", "XAU/USD", "IDX.A", "IDX.B", "MARGIN", "FSI"]
stale_after = "1h"
[[instrument]]
symbol = "XAG/USD"
tags = ["metal"]
[[instrument]]
symbol = "XAU/USD"
tags = ["metal"]
[[instrument]]
symbol = "IDX.A"
tags = ["idx"]
prev_close = 1000
[[instrument]]
symbol = "IDX.B"
tags = ["idx"]
prev_close = 2000
[[instrument]]
symbol = "MARGIN"
kind = "level"
[[instrument]]
symbol = "FSI"
kind = "level"
[[signal]]
name = "metal_crash"
kind = "drawdown"
select = "tag:metal"
window = "2h"
levels = [{{ at = -0.04, severity = "warning" }}, {{ at = -0.08, severity = "critical" }}]
rearm = 0.01
[[signal]]
name = "gold_below"
kind = "level"
instruments = ["XAU/USD"]
levels = [{{ at = 4700, severity = "warning" }}]
rearm = 20
[[signal]]
name = "idx_breadth"
kind = "breadth"
select = "tag:idx"
ref = "prev_close"
member_at = -0.01
min_members = 2
levels = [{{ at = 1.0, severity = "critical" }}]
rearm = 0.5
[[signal]]
name = "margin_drop"
kind = "change"
instruments = ["MARGIN"]
lookback = "1h"
levels = [{{ at = -30, severity = "warning" }}]
rearm = 10
[[signal]]
name = "fsi_spike"
kind = "zscore"
instruments = ["FSI"]
halflife = "1h"
min_count = 10
levels = [{{ at = 3.0, severity = "warning" }}]
rearm = 1
[[signal]]
name = "shock"
kind = "composite"
inputs = ["metal_crash", "idx_breadth"]
within = "1h"
levels = [{{ at = 2, severity = "critical" }}]
"""

BINANCE_CONFIG = """
[engine]
lateness = "0ms"
[server]
listen = "127.0.0.1:{port}"
[[feed]]
name = "b"
venue = "binance"
url = "ws://127.0.0.1:{feed_port}/stream"
symbols = ["BTCUSDT", "ETHUSDT"]
channels = "trade"
stale_after = "1h"
[[instrument]]
symbol = "BTC/USD"
aliases = ["binance:BTCUSDT"]
tags = ["crypto"]
[[instrument]]
symbol = "ETH/USD"
aliases = ["binance:ETHUSDT"]
tags = ["crypto"]
[[signal]]
name = "crypto_crash"
kind = "drawdown"
select = "tag:crypto"
window = "1h"
levels = [{{ at = -0.03, severity = "warning" }}, {{ at = -0.06, severity = "critical" }}]
rearm = 0.01
[[signal]]
name = "btc_below"
kind = "level"
instruments = ["BTC/USD"]
levels = [{{ at = 71000, severity = "critical" }}]
rearm = 300
"""


def path(r, depth, start=100, bottom=250, end=400):
    """0 until `start`, falling to `depth` by `bottom`, back to 0 by `end`."""
    if r <= start:
        return 0.0
    if r <= bottom:
        return depth * (r - start) / (bottom - start)
    return depth * max(0.0, (end - r) / (end - bottom))


async def play_generic(feed):
    for r in range(420):
        t = T0_MS + r * STEP_MS
        await feed.send("XAG/USD", round(90 * (1 + path(r, -0.12)), 4), ts=t)
        await feed.send("XAU/USD", round(4900 * (1 + path(r, -0.05)), 3), ts=t)
        await feed.send("IDX.A", round(1000 * (1 + path(r, -0.02, 120)), 3), ts=t)
        await feed.send("IDX.B", round(2000 * (1 + path(r, -0.025, 130)), 3), ts=t)
        await feed.send("MARGIN", round(10000 + 100 * path(r, -1.0), 2), ts=t)
        await feed.send("FSI", round(-1 + (5 if r == 200 else 0.01 * (r % 7)), 3), ts=t)
        if r == 20:
            await feed.broadcast('{"sym":"XAG/USD","px":')                               # malformed
        elif r == 30:
            await feed.broadcast(json.dumps({"sym": "XAU/USD", "px": "NaN", "ts": t}))   # not finite
        elif r == 40:
            await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": -3, "ts": t}))      # not positive
        elif r == 50:
            await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": 1, "pad": "x" * 70000}))  # oversize
        elif r == 60:
            await feed.broadcast(json.dumps({"sym": "XAU/USD", "px": 4900, "ts": t - 3_600_000}))  # late
        elif r == 70:
            await feed.broadcast(json.dumps({"sym": "XAG/USD", "px": 90, "ts": t, "seq": feed.seq["XAG/USD"]}))  # dup
        elif r == 80:
            feed.seq["MARGIN"] += 4                                                     # a gap of 4
        elif r == 90:
            await feed.broadcast("   ")                                                 # blank: ignored
        elif r == 95:
            await feed.broadcast(json.dumps([{"sym": "IDX.A", "px": 999, "ts": t}, {"sym": "IDX.B"}]))  # bad batch
        await asyncio.sleep(0.002)


async def play_binance(feed):
    for r in range(300):
        t = T0_MS + r * STEP_MS
        await feed.trade("BTCUSDT", 76000 * (1 + path(r, -0.08, 80, 130, 280)), t, skip=2 if r == 50 else 0)
        await feed.trade("ETHUSDT", 2300 * (1 + path(r, -0.07, 90, 140, 290)), t)
        if r == 30:
            await feed.broadcast(json.dumps({"stream": "btcusdt@depth", "data": {"e": "depthUpdate", "s": "BTCUSDT"}}))
        elif r == 40:  # the last ETH trade again: a duplicate trade id
            await feed.broadcast(json.dumps({"stream": "ethusdt@trade", "data": {
                "e": "trade", "s": "ETHUSDT", "t": feed.trade_id["ETHUSDT"], "p": "2300.00", "q": "1", "T": t}}))
        elif r == 60:
            await feed.broadcast(json.dumps({"stream": "btcusdt@trade", "data": {
                "e": "trade", "s": "BTCUSDT", "t": 1, "p": "abc", "q": "1", "T": t}}))   # bad price
        await asyncio.sleep(0.002)


def rfc3339_ns(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    import datetime
    d = datetime.datetime.fromtimestamp(secs, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def lines(p):
    return open(p).read().splitlines() if os.path.exists(p) else []


async def variant(name, feed_name, feed, config_text, play):
    d = os.path.join(WORK, name)
    os.makedirs(d)
    feed_port = await feed.start()
    port = free_port()
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write(config_text.format(port=port, feed_port=feed_port))
    journal, audit, dead_live = (os.path.join(d, n) for n in ("journal", "audit.jsonl", "dead_live.jsonl"))
    proc = subprocess.Popen([SEISMO, "run", "--config", cfg, "--record", journal, "--out", audit,
                             "--dead-letter", dead_live, "--deterministic", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "seismo.err"), "w"))
    PROCS.append(proc)
    base = f"http://127.0.0.1:{port}"
    check(await wait_until(lambda: port_open(port) and http_get(base + "/readyz")[0] == 200 and feed.clients, 30),
          f"{name}: seismo up and its feed connected")
    await play(feed)

    def drained():
        st, body = http_get(base + "/metrics")
        return (st == 200 and metric_sum(body, "seismo_journal_frames_total") == feed.sent
                and metric_sum(body, "seismo_queue_depth", queue="ticks") == 0)
    check(await wait_until(drained, 30), f"{name}: all {feed.sent} frames recorded and consumed")
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=30) == 0, f"{name}: the live run stopped cleanly")
    feed.close()

    # 2. journal replay
    trig_journal, dead_journal = os.path.join(d, "journal.jsonl"), os.path.join(d, "dead_journal.jsonl")
    r = subprocess.run([SEISMO, "replay", journal, "--deterministic", "--no-progress", "--out", trig_journal,
                        "--dead-letter", dead_journal], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{name}: journal replay exit 0 ({r.stderr.strip()[-200:]})")
    # 3. file replay of the journal's frames as a Tardis raw capture
    frames = os.path.join(d, "frames.jsonl")
    r = subprocess.run([SEISMO, "inspect", journal, "--frames", frames], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"{name}: inspect --frames exit 0")
    capture = os.path.join(d, "capture.tardis.txt")
    numbers = []
    with open(capture, "w") as out:
        for line in open(frames):
            f = json.loads(line)
            numbers.append(f["frame_no"])
            out.write(rfc3339_ns(f["recv_ts"]) + " " + f["frame"] + "\n")
    # Line k of the capture is frame k, so the file replay's frame numbers are the live ones.
    check(numbers == list(range(1, len(numbers) + 1)), f"{name}: the journal holds frames 1..{len(numbers)} in order")
    trig_file, dead_file = os.path.join(d, "file.jsonl"), os.path.join(d, "dead_file.jsonl")
    r = subprocess.run([SEISMO, "replay", capture, "--format", "tardis", "--feed", feed_name, "--config", cfg,
                        "--deterministic", "--out", trig_file, "--dead-letter", dead_file],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{name}: file replay exit 0 ({r.stderr.strip()[-200:]})")

    live, via_journal, via_file = lines(audit), lines(trig_journal), lines(trig_file)
    kinds = sorted({json.loads(t)["kind"] for t in live})
    print(f"     {name}: {len(live)} triggers {kinds}, {len(lines(dead_live))} dead letters")
    check(len(live) > 5, f"{name}: the live run fired triggers ({len(live)})")
    check(via_journal == live, f"{name}: journal replay gives the live triggers byte for byte")
    check(via_file == live, f"{name}: file replay gives the live triggers byte for byte"
          + ("" if via_file == live else f" (first difference: {next((a, b) for a, b in zip(live + [''], via_file + ['']) if a != b)})"))
    dl, dj, df = sorted(lines(dead_live)), sorted(lines(dead_journal)), sorted(lines(dead_file))
    check(len(dl) > 0 and dj == dl, f"{name}: journal replay gives the live dead letters whole ({len(dj)} vs {len(dl)})")
    check(df == dl, f"{name}: file replay gives the live dead letters whole ({len(df)} vs {len(dl)})"
          + ("" if df == dl else f" (first difference: {next((a, b) for a, b in zip(dl + [''], df + ['']) if a != b)})"))
    return live, dl


async def main():
    live, dead = await variant("generic", "g", GenericFeed(), GENERIC_CONFIG, play_generic)
    got = {json.loads(t)["kind"] for t in live}
    check(got >= {"drawdown", "level", "breadth", "change", "zscore", "composite", "feed_health"},
          f"generic: every signal kind and a feed-health gap fired ({sorted(got)})")
    reasons = {json.loads(l)["reason"] for l in dead}
    check(reasons >= {"malformed", "non_finite", "non_positive", "oversize", "late", "duplicate", "missing_field"},
          f"generic: every kind of refusal is in the dead letters ({sorted(reasons)})")
    live, dead = await variant("binance", "b", Binance(), BINANCE_CONFIG, play_binance)
    check(any('"condition":"gap"' in t for t in live), "binance: the skipped trade ids became a gap trigger")
    reasons = {json.loads(l)["reason"] for l in dead}
    check(reasons >= {"duplicate", "bad_field"}, f"binance: duplicate and bad price dead-lettered ({sorted(reasons)})")


try:
    asyncio.run(main())
finally:
    for p in PROCS:
        if p.poll() is None:
            p.kill()
if failures:
    print(f"{len(failures)} failures; work directory kept: {WORK}")
    sys.exit(1)
shutil.rmtree(WORK, ignore_errors=True)
print("all parity checks passed")
