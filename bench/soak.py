#!/usr/bin/python3
"""Soak: `seismo run` for N minutes at ~100 k ticks/s from local generic-protocol feed servers,
with subscriber churn — steady subscribers, ones that come and go, ones that resume with
`since`, a slow one — and one feed cut every minute. Samples seismo's RSS, open descriptors and
threads every second. Fails when RSS still grows after warm-up (least-squares slope over the
last half of the run above 1% of the mean RSS over that half), when a steady or resuming
subscriber sees a gap, or when a trigger a subscriber saw is missing from the audit log or the
audit log skips a seq.

Writes to --out (default build/soak): samples.csv, rss.svg and rss.png (Chromium renders the SVG),
summary.json; prints the summary.

usage: bench/soak.py [--minutes N] [--seismo PATH] [--out DIR] [--rate TICKS_PER_S]
"""
import argparse
import asyncio
import json
import logging
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from harness import free_port, http_get, metric_sum, port_open  # noqa: E402

logging.getLogger("asyncio").setLevel(logging.CRITICAL)
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--minutes", type=float, default=10)
ap.add_argument("--seismo", default=os.path.join(HERE, "..", "build", "release", "seismo"))
ap.add_argument("--out", default=os.path.join(HERE, "..", "build", "soak"))
ap.add_argument("--rate", type=int, default=100_000, help="ticks per second over all feeds")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
DURATION = args.minutes * 60
FEEDS, SYMS, BATCH = 2, 100, 100  # 2 feeds x 100 instruments, 100 ticks a frame


def feed_frames(feed, n=2000):
    """A cycle of prebuilt frames (4 s at the default rate): every instrument waves with noise;
    one in ten swings through the level (90) and the drawdown (-15%), so triggers fire and clear
    a few times a second, the rest stay quiet."""
    rnd = random.Random(feed)
    frames = []
    for i in range(n):
        ticks = []
        for j in range(BATCH):
            s = (i * BATCH + j) % SYMS
            amp = 13 if s % 10 == 0 else 4
            base = 100 + amp * math.sin(2 * math.pi * i / n + s)
            ticks.append(f'{{"sym":"F{feed}S{s}","px":{base * (1 + rnd.uniform(-0.001, 0.001)):.4f}}}')
        frames.append("[" + ",".join(ticks) + "]")
    return frames


class FeedServer:
    def __init__(self, feed):
        self.feed = feed
        self.frames = feed_frames(feed)
        self.clients = set()
        self.sent_ticks = 0
        self.cuts = 0

    async def handler(self, ws, path=None):
        self.clients.add(ws)
        try:
            async for _ in ws:
                pass
        except Exception:  # noqa: BLE001  cut by us, or seismo went away
            pass
        finally:
            self.clients.discard(ws)

    async def start(self):
        self.server = await websockets.serve(self.handler, "127.0.0.1", 0, max_size=None, compression=None)
        return self.server.sockets[0].getsockname()[1]

    async def pump(self, stop, rate_per_feed):
        i = 0
        frames_per_s = rate_per_feed / BATCH
        t0 = time.monotonic()
        while time.monotonic() < stop:
            due = int((time.monotonic() - t0) * frames_per_s)
            while i < due:
                f = self.frames[i % len(self.frames)]
                for c in list(self.clients):
                    try:
                        await c.send(f)
                        self.sent_ticks += BATCH
                    except Exception:  # noqa: BLE001
                        pass
                i += 1
            await asyncio.sleep(0.002)

    def cut(self):
        self.cuts += 1
        for c in list(self.clients):
            c.transport.abort()


class Steady:
    """Subscribes to everything and checks that seq follows seq; `since` resumes from the last."""

    def __init__(self, port, name):
        self.port, self.name = port, name
        self.seqs = set()
        self.last = None
        self.gaps = []
        self.sessions = 0
        self.closed = []

    async def session(self, until, since=None, slow=False):
        self.sessions += 1
        uri = f"ws://127.0.0.1:{self.port}/v1/stream"
        try:
            async with websockets.connect(uri, max_size=None) as ws:
                op = {"op": "subscribe", "topics": ["*"]}
                if since is not None:
                    op["since"] = since
                await ws.send(json.dumps(op))
                while time.monotonic() < until:
                    try:
                        msg = await asyncio.wait_for(ws.recv(), max(0.05, until - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    m = json.loads(msg)
                    if m.get("type") == "gap":
                        self.gaps.append((m["from"], m["to"]))
                    elif m.get("type") == "trigger":
                        if self.last is not None and m["seq"] != self.last + 1 and m["seq"] > self.last:
                            self.gaps.append((self.last + 1, m["seq"] - 1))
                        self.last = max(self.last or 0, m["seq"])
                        self.seqs.add(m["seq"])
                    if slow:
                        await asyncio.sleep(0.05)
        except Exception as e:  # noqa: BLE001  recorded; steady ones must not be closed
            self.closed.append(repr(e)[:120])


async def main():
    servers = [FeedServer(f) for f in range(FEEDS)]
    ports = [await s.start() for s in servers]
    port = free_port()
    audit = os.path.join(args.out, "audit.jsonl")
    if os.path.exists(audit):
        os.remove(audit)  # the audit log is appended to: start this run's afresh
    cfg = os.path.join(args.out, "soak.toml")
    with open(cfg, "w") as f:
        f.write(f'[engine]\nlateness = "1h"\n[server]\nlisten = "127.0.0.1:{port}"\nsession_queue = 256\n'
                # the resume ring fills in the first ~30 s (then memory is flat): a full
                # 65,536-trigger ring would still be filling, and growing, after 10 minutes
                f'replay_ring = 1024\n')
        for i, p in enumerate(ports):
            f.write(f'[[feed]]\nname = "f{i}"\nvenue = "generic"\nurl = "ws://127.0.0.1:{p}/"\n'
                    f'stale_after = "5s"\n')
        for i in range(FEEDS):
            f.write(f'[[instrument]]\nmatch = ["F{i}S*"]\ntags = ["f{i}"]\n')
        for i in range(FEEDS):
            f.write(f'[[signal]]\nname = "low_f{i}"\nkind = "level"\nselect = "tag:f{i}"\n'
                    f'levels = [{{ at = 90, severity = "warning" }}]\n')
            f.write(f'[[signal]]\nname = "dd_f{i}"\nkind = "drawdown"\nselect = "tag:f{i}"\nwindow = "30s"\n'
                    f'levels = [{{ at = -0.15, severity = "critical" }}]\n')
    err = open(os.path.join(args.out, "seismo.err"), "w")
    proc = subprocess.Popen([args.seismo, "run", "--config", cfg, "--quiet", "--out", audit],
                            stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 20
    while not port_open(port) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if not port_open(port):
        print("seismo did not start:", open(os.path.join(args.out, "seismo.err")).read())
        return 1
    t0 = time.monotonic()
    stop = t0 + DURATION
    samples = []

    async def sampler():
        while time.monotonic() < stop:
            st = {}
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    st[k] = v.strip()
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
            samples.append((round(time.monotonic() - t0, 1), int(st["VmRSS"].split()[0]), fds, int(st["Threads"])))
            await asyncio.sleep(1)

    async def cutter():
        # a feed cut every minute (every half of a shorter run), alternating feeds
        every = min(60, DURATION / 2)
        k = 0
        while time.monotonic() + every < stop - 5:
            await asyncio.sleep(every)
            servers[k % FEEDS].cut()
            k += 1

    steady = [Steady(port, f"steady{i}") for i in range(3)]
    resumer = Steady(port, "resumer")
    churn = {"sessions": 0}
    slow = Steady(port, "slow")

    async def resuming():
        # comes and goes: each session resumes from the last seq it saw
        while time.monotonic() < stop - 3:
            await resumer.session(min(stop, time.monotonic() + random.uniform(2, 6)), since=resumer.last)
            await asyncio.sleep(random.uniform(0.5, 2))

    async def churning():
        while time.monotonic() < stop - 2:
            churn["sessions"] += 1
            s = Steady(port, "churn")
            await s.session(time.monotonic() + random.uniform(0.1, 1.5))

    async def slowing():
        while time.monotonic() < stop - 5:
            await slow.session(min(stop, time.monotonic() + 10), slow=True)

    await asyncio.gather(sampler(), cutter(), *[s.pump(stop, args.rate / FEEDS) for s in servers],
                         *[s.session(stop) for s in steady], resuming(), churning(), churning(), slowing())
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    for s in servers:
        s.server.close()

    # --- judgement
    audit_seqs = []
    with open(audit) as f:
        for line in f:
            m = json.loads(line)
            if "seq" in m:
                audit_seqs.append(m["seq"])
    contiguous = audit_seqs == list(range(1, len(audit_seqs) + 1))
    seen = set().union(*[s.seqs for s in steady], resumer.seqs)
    missing = sorted(seen - set(audit_seqs))
    half = [x for x in samples if x[0] >= DURATION / 2]
    n = len(half)
    mean_t = sum(x[0] for x in half) / n
    mean_r = sum(x[1] for x in half) / n
    slope = sum((x[0] - mean_t) * (x[1] - mean_r) for x in half) / max(1e-9, sum((x[0] - mean_t) ** 2 for x in half))
    growth = slope * (half[-1][0] - half[0][0]) / mean_r  # relative growth over the last half
    summary = {
        "minutes": args.minutes,
        "ticks_sent": sum(s.sent_ticks for s in servers),
        "ticks_per_s": round(sum(s.sent_ticks for s in servers) / DURATION),
        "ticks_applied": metric_sum(body, "seismo_feed_ticks_total"),
        "feed_cuts": sum(s.cuts for s in servers),
        "reconnects": metric_sum(body, "seismo_feed_reconnects_total"),
        "triggers": len(audit_seqs),
        "steady_subscribers": [{"triggers": len(s.seqs), "gaps": s.gaps, "closed": s.closed} for s in steady],
        "resumer": {"sessions": resumer.sessions, "triggers": len(resumer.seqs), "gaps": resumer.gaps},
        "churn_sessions": churn["sessions"],
        "slow_sessions": slow.sessions,
        "slow_cut": metric_sum(body, "seismo_subscriber_dropped_total", reason="slow_consumer"),
        "rss_kib": {"start": samples[0][1], "peak": max(x[1] for x in samples), "end": samples[-1][1],
                    "last_half_mean": round(mean_r), "last_half_growth_pct": round(100 * growth, 3)},
        "fds": {"start": samples[0][2], "peak": max(x[2] for x in samples), "end": samples[-1][2]},
        "threads": {"start": samples[0][3], "peak": max(x[3] for x in samples), "end": samples[-1][3]},
        "audit_contiguous": contiguous,
        "missing_from_audit": missing[:20],
        "seismo_exit": proc.returncode,
    }
    with open(os.path.join(args.out, "samples.csv"), "w") as f:
        f.write("t_s,rss_kib,fds,threads\n")
        for x in samples:
            f.write(",".join(map(str, x)) + "\n")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    plot(samples, summary)
    print(json.dumps(summary, indent=1))
    problems = []
    if growth > 0.01:
        problems.append(f"RSS grew {100 * growth:.2f}% over the last half (> 1%)")
    if any(s.gaps or s.closed for s in steady) or resumer.gaps:
        problems.append("a steady or resuming subscriber saw a gap or was closed")
    if not contiguous or missing:
        problems.append(f"audit log: contiguous {contiguous}, missing {missing[:5]}")
    if proc.returncode != 0:
        problems.append(f"seismo exited {proc.returncode}")
    if summary["triggers"] == 0 or min(len(s.seqs) for s in steady) == 0:
        problems.append("no triggers: nothing was soaked")
    for p in problems:
        print("FAIL", p)
    print("soak:", "ok" if not problems else f"{len(problems)} failures")
    return 1 if problems else 0


def plot(samples, summary):
    """RSS (MiB) over time as an SVG, and a PNG of it through headless Chromium."""
    w, h, l, b = 900, 420, 70, 50
    t_max = max(x[0] for x in samples) or 1
    r_max = max(x[1] for x in samples) / 1024 * 1.15
    pts = " ".join(f"{l + (w - l - 20) * x[0] / t_max:.1f},{h - b - (h - b - 30) * (x[1] / 1024) / r_max:.1f}" for x in samples)
    ticks = "".join(f'<text x="{l - 8}" y="{h - b - (h - b - 30) * v / r_max + 4:.0f}" text-anchor="end">{v:.0f}</text>'
                    f'<line x1="{l}" x2="{w - 20}" y1="{h - b - (h - b - 30) * v / r_max:.0f}" y2="{h - b - (h - b - 30) * v / r_max:.0f}" stroke="#eee"/>'
                    for v in [r_max / 1.15 * k / 4 for k in range(5)])
    xt = "".join(f'<text x="{l + (w - l - 20) * s / t_max:.0f}" y="{h - b + 18}" text-anchor="middle">{s / 60:.0f}</text>'
                 for s in range(0, int(t_max) + 1, max(60, int(t_max / 10) // 60 * 60 or 60)))
    title = (f"seismo soak: {summary['minutes']:g} min at {summary['ticks_per_s']:,} ticks/s, "
             f"{summary['feed_cuts']} feed cuts, {summary['triggers']:,} triggers; "
             f"RSS growth over the last half {summary['rss_kib']['last_half_growth_pct']}%")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">'
           f'<rect width="{w}" height="{h}" fill="white"/>{ticks}{xt}'
           f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{pts}"/>'
           f'<line x1="{l + (w - l - 20) / 2}" x2="{l + (w - l - 20) / 2}" y1="30" y2="{h - b}" stroke="#999" stroke-dasharray="4"/>'
           f'<text x="{l + (w - l - 20) / 2 + 4}" y="42" fill="#666">last half: judged</text>'
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>'
           f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">minutes</text>'
           f'<text x="16" y="{h / 2}" transform="rotate(-90 16 {h / 2})" text-anchor="middle">RSS (MiB)</text></svg>')
    svg_path = os.path.join(args.out, "rss.svg")
    with open(svg_path, "w") as f:
        f.write(svg)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={w},{h}",
                        f"--screenshot={os.path.join(args.out, 'rss.png')}", "file://" + os.path.abspath(svg_path)],
                       capture_output=True, timeout=60)


sys.exit(asyncio.run(main()))
