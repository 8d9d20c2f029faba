#!/usr/bin/python3
"""Hot reload under load (DESIGN §9), end to end with a real `seismo run`:

  1. Two local generic-protocol feeds send ~100 k ticks/s (batches of 100) while the config is
     reloaded 50 times — POST /v1/reload with an admin token, every tenth by SIGHUP after
     rewriting the file — alternating config A and B (both keep `kept_dd`; B re-levels
     `tuned_dd`, drops `extra_a` and adds `extra_b`), with an invalid config every fifth time.
     Checked: every answer and its diff; an invalid config changes nothing (error with file and
     line, seismo_config_reloads_total{result="error"}); no tick lost or applied twice (ticks
     sent = seismo_feed_ticks_total = seismo_ticks_applied_total); `kept_dd`'s triggers equal
     those of a run without reloads (`seismo replay` of the same frames); `seismo replay` of
     the run's journal gives the audit log byte for byte (at full speed and at --speed 4); seq
     gap-free across every reload.
  2. Feeds: a reload that removes g1, re-subscribes g2 with one more symbol and adds g3 —
     g3 connects and its ticks reach a signal added with it, g2 opens its successor connection
     before the old one closes, g1's connection closes, /v1/state lists g2 and g3 only.
  3. Access: POST /v1/reload without a token is 401, with a subscriber's token 403.

usage: reload_test.py SEISMO_BINARY
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Feed, check, failures, free_port, http_get, metric_sum, port_open, wait_until  # noqa: E402

SEISMO = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="seismo_reload_")
PROCS = []
T0_NS = 1770000000000000000
BATCH = 100
FRAMES_PER_FEED = 4000          # 2 feeds x 4000 frames x 100 ticks = 800 k ticks
FRAMES_PER_SECOND = 500         # per feed: 2 x 500 x 100 = 100 k ticks/s
RELOADS = 50


def config(which, port, p1, p2, p3=None):
    """Config A or B (or C: the feed change), all with the same [engine] and [server]."""
    feeds = ""
    if which in ("A", "B"):
        feeds += feed_block("g1", p1, [f"S{i}" for i in range(10)])
    feeds += feed_block("g2", p2, [f"T{i}" for i in range(10 if which != "C" else 11)])
    if which == "C":
        feeds += feed_block("g3", p3, ["U0"])
    instruments = "".join(f'[[instrument]]\nsymbol = "{s}"\ntags = ["{s[0].lower()}"]\n'
                          for s in [f"S{i}" for i in range(10)] + [f"T{i}" for i in range(11)])
    if which == "C":
        instruments += '[[instrument]]\nsymbol = "U0"\n'
    tuned = ('[{ at = -0.01, severity = "warning" }]' if which == "A" else
             '[{ at = -0.015, severity = "warning" }, { at = -0.025, severity = "critical" }]')
    signals = f"""
[[signal]]
name = "kept_dd"
kind = "drawdown"
instruments = ["S0"]
window = "2s"
levels = [{{ at = -0.01, severity = "warning" }}, {{ at = -0.02, severity = "critical" }}]
rearm = 0.002
[[signal]]
name = "tuned_dd"
kind = "drawdown"
instruments = ["T0"]
window = "2s"
levels = {tuned}
rearm = 0.002
[[signal]]
name = "t_breadth"
kind = "breadth"
select = "tag:t"
window = "2s"
member_at = -0.005
levels = [{{ at = 0.5, severity = "warning" }}]
rearm = 0.1
"""
    if which == "A":
        signals += '[[signal]]\nname = "extra_a"\nkind = "level"\ninstruments = ["S1"]\n' \
                   'levels = [{ at = 99.5, severity = "info" }]\n'
    elif which == "B":
        signals += '[[signal]]\nname = "extra_b"\nkind = "level"\ninstruments = ["S2"]\n' \
                   'direction = "above"\nlevels = [{ at = 100.5, severity = "info" }]\n'
    else:
        signals += '[[signal]]\nname = "u_low"\nkind = "level"\ninstruments = ["U0"]\n' \
                   'levels = [{ at = 50, severity = "warning" }]\n'
    return f"""# reload test, config {which}
[engine]
deterministic = true
lateness = "1h"
[server]
listen = "127.0.0.1:{port}"
tokens = [{{ token = "root", roles = ["admin"] }}, {{ token = "desk" }}]
client_rate = 0
{feeds}{instruments}{signals}"""


def feed_block(name, port, symbols):
    return (f'[[feed]]\nname = "{name}"\nvenue = "generic"\nurl = "ws://127.0.0.1:{port}/"\n'
            f'symbols = {json.dumps(symbols)}\nstale_after = "1h"\n')


INVALID = [
    ('[[signal]]\nname = "x"\nkind = "drawdown"\ninstruments = ["NOPE"]\nwindow = "1h"\n'
     'levels = [{ at = -0.1, severity = "warning" }]\n', 'unknown instrument'),
    ('[engine\n', 'TOML syntax error'),
]


def frames(prefix, n_frames):
    """Batches of BATCH ticks over 10 symbols; symbol k's price is a wave, so drawdowns fire
    and clear again and again. Each symbol has its own seq; event times step 1 ms per tick."""
    import math
    out = []
    seq = [0] * 10
    i = 0
    for f in range(n_frames):
        parts = []
        for _ in range(BATCH):
            k = i % 10
            seq[k] += 1
            px = 100 * (1 + 0.03 * math.sin(seq[k] / (40 + 7 * k)))
            parts.append('{"sym":"%s%d","px":%.6f,"ts":%d,"seq":%d}' % (prefix, k, px, T0_NS + i * 1000000, seq[k]))
            i += 1
        out.append("[" + ",".join(parts) + "]")
    return out


def post(url, body, token):
    req = urllib.request.Request(url, data=body.encode(), method="POST")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics(base):
    return http_get(base + "/metrics", {"Authorization": "Bearer root"})[1]


async def pump(feed, fr, fps):
    t0 = time.monotonic()
    for n, f in enumerate(fr):
        await feed.broadcast(f)
        if n % 25 == 24:
            lag = t0 + (n + 1) / fps - time.monotonic()
            await asyncio.sleep(max(lag, 0))


def trig_key(t):
    return (t["state"], t.get("instrument"), t["severity"], t["threshold"], t["value"], t["event_ts"], t.get("ref"))


async def main():
    g1, g2, g3 = Feed(), Feed(), Feed()
    p1, p2, p3 = await g1.start(), await g2.start(), await g3.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = os.path.join(WORK, "seismo.toml")
    texts = {w: config(w, port, p1, p2, p3) for w in "ABC"}
    with open(cfg, "w") as f:
        f.write(texts["A"])
    audit = os.path.join(WORK, "audit.jsonl")
    journal = os.path.join(WORK, "journal")
    log = open(os.path.join(WORK, "seismo.err"), "w")
    proc = subprocess.Popen([SEISMO, "run", "--config", cfg, "--quiet", "--out", audit, "--record", journal],
                            stdout=subprocess.DEVNULL, stderr=log)
    PROCS.append(proc)
    ready = await wait_until(lambda: port_open(port) and http_get(base + "/readyz")[0] == 200, 30)
    check(ready, "seismo up, both feeds connected")
    await wait_until(lambda: len(g1.subscribes) >= 1 and len(g2.subscribes) >= 1, 10)

    # --- access
    check(post(base + "/v1/reload", "", None)[0] == 401, "POST /v1/reload without a token: 401")
    check(post(base + "/v1/reload", "", "desk")[0] == 403, "POST /v1/reload with a subscriber's token: 403")

    # --- 1. 50 reloads under ~100 k ticks/s
    f1, f2 = frames("S", FRAMES_PER_FEED), frames("T", FRAMES_PER_FEED)
    sent_ticks = 2 * FRAMES_PER_FEED * BATCH
    pumps = asyncio.gather(pump(g1, f1, FRAMES_PER_SECOND), pump(g2, f2, FRAMES_PER_SECOND))
    started = time.monotonic()
    answers, pauses, refusals, sighups = [], [], [], 0
    current = "A"
    for k in range(RELOADS):
        if k % 5 == 4:
            body, want = INVALID[k % 2]
            st, ans = await asyncio.to_thread(post, base + "/v1/reload", body, "root")
            refusals.append((st, ans, want))
            continue
        nxt = "B" if current == "A" else "A"
        if k % 10 == 9:
            pass  # (k % 5 == 4 above takes these)
        if k % 10 == 3:  # by SIGHUP: rewrite the file, signal, wait for the metric
            with open(cfg, "w") as f:
                f.write(texts[nxt])
            before = metric_sum(metrics(base), "seismo_config_reloads_total", result="success")
            proc.send_signal(signal.SIGHUP)
            ok = await wait_until(lambda: metric_sum(metrics(base), "seismo_config_reloads_total",
                                                     result="success") > before, 30)
            check(ok, f"reload {k + 1}: SIGHUP reloaded the file")
            sighups += 1
        else:
            st, ans = await asyncio.to_thread(post, base + "/v1/reload", texts[nxt], "root")
            answers.append((st, ans, current, nxt))
            if st == 200:
                pauses.append(json.loads(ans)["pause_us"])
        current = nxt
        await asyncio.sleep(0.08)
    await pumps
    elapsed = time.monotonic() - started
    good = [a for a in answers if a[0] == 200]
    check(len(good) == len(answers), f"{len(good)} of {len(answers)} POSTed reloads answered 200")
    diffs_ok = True
    for st, ans, frm, to in good:
        d = json.loads(ans)
        s = d["signals"]
        want_added, want_removed = (["extra_b"], ["extra_a"]) if to == "B" else (["extra_a"], ["extra_b"])
        diffs_ok &= (set(s["kept"]) == {"kept_dd", "t_breadth"} and s["relevelled"] == ["tuned_dd"]
                     and s["added"] == want_added and s["removed"] == want_removed
                     and d["feeds"]["kept"] == ["g1", "g2"] and not d["feeds"]["added"])
    check(diffs_ok, "every answer's diff: kept_dd, t_breadth kept; tuned_dd relevelled; extra_a/extra_b added and removed")
    check(all(st == 400 and want in ans and ":" in json.loads(ans)["message"] for st, ans, want in refusals),
          f"{len(refusals)} invalid configs answered 400 with file and line ({refusals[0][1][:120]})")
    m = metrics(base)
    n_ok = metric_sum(m, "seismo_config_reloads_total", result="success")
    n_err = metric_sum(m, "seismo_config_reloads_total", result="error")
    check(n_ok == RELOADS - len(refusals) and n_err == len(refusals),
          f"seismo_config_reloads_total: success {n_ok:.0f}, error {n_err:.0f}")
    # every tick through: sent = at the feeds = at the signal thread
    await wait_until(lambda: metric_sum(metrics(base), "seismo_ticks_applied_total") >= sent_ticks, 60)
    m = metrics(base)
    fed = metric_sum(m, "seismo_feed_ticks_total")
    applied = metric_sum(m, "seismo_ticks_applied_total")
    rejected = metric_sum(m, "seismo_feed_rejected_total")
    check(fed == sent_ticks and applied == sent_ticks and rejected == 0,
          f"{sent_ticks} ticks sent in {elapsed:.1f} s ({sent_ticks / elapsed / 1000:.0f} k/s), "
          f"{fed:.0f} at the feeds, {applied:.0f} applied, {rejected:.0f} refused")
    pauses.sort()
    print(f"     signal-thread pause per reload: p50 {pauses[len(pauses) // 2]:.0f} us, "
          f"max {pauses[-1]:.0f} us over {len(pauses)} POSTed reloads ({sighups} more by SIGHUP)")
    state = json.loads(http_get(base + "/v1/state", {"Authorization": "Bearer root"})[1])
    check(state["config"]["generation"] == RELOADS - len(refusals), f"/v1/state config {state['config']}")

    # --- 2. feeds: remove g1, re-subscribe g2 (one more symbol), add g3
    g2_connections = g2.connections
    st, ans = await asyncio.to_thread(post, base + "/v1/reload", texts["C"], "root")
    d = json.loads(ans) if st == 200 else {}
    check(st == 200 and d["feeds"] == {"kept": [], "added": ["g3"], "removed": ["g1"], "resubscribed": ["g2"]},
          f"feed reload answered with its diff ({ans[:200]})")
    check(await wait_until(lambda: g3.connections == 1 and len(g3.subscribes) >= 1, 20), "g3 connected and subscribed")
    check(await wait_until(lambda: g2.connections == g2_connections + 1 and
                           any('"T10"' in s for s in g2.subscribes), 20),
          "g2 opened a successor connection subscribed with the new symbol")
    # make-before-break: both g2 connections were open at once, then the old one closed
    both = await wait_until(lambda: len(g2.clients) == 2, 10, every=0.005)
    check(both or len(g2.clients) == 1, f"g2's old connection stayed until the successor was up (both seen: {both})")
    check(await wait_until(lambda: len(g2.clients) == 1, 20), "then g2 is down to one connection")
    check(await wait_until(lambda: not g1.clients, 20), "g1's connection closed")
    await g3.broadcast('{"sym":"U0","px":40,"ts":%d}' % (T0_NS + 10 ** 12))
    await g2.broadcast('{"sym":"T10","px":40,"ts":%d}' % (T0_NS + 10 ** 12))
    check(await wait_until(lambda: '"u_low"' in open(audit).read(), 20), "g3's tick reached u_low, added with it")
    state = json.loads(http_get(base + "/v1/state", {"Authorization": "Bearer root"})[1])
    check(sorted(f["name"] for f in state["feeds"]) == ["g2", "g3"], f"/v1/state feeds: {[f['name'] for f in state['feeds']]}")

    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    check(rc == 0, f"SIGTERM: exit {rc}")
    log.close()

    # --- the audit log: seq gap-free, every trigger names its config
    lines = open(audit).read().splitlines()
    trig = [json.loads(l) for l in lines]
    check(all(t["seq"] == i + 1 for i, t in enumerate(trig)), f"{len(trig)} triggers, seq gap-free across every reload")
    digests = {t["config"] for t in trig}
    check(len(digests) >= 3, f"triggers name the config that produced them ({len(digests)} digests)")
    removed = [t for t in trig if t.get("reason") == "removed"]
    check(any(t["signal"] in ("extra_a", "extra_b") for t in removed), f"removed signals cleared with reason removed ({len(removed)})")

    # kept_dd against a run without reloads: the same frames of g1, replayed with config A
    with open(os.path.join(WORK, "g1.jsonl"), "w") as f:
        f.write("\n".join(f1) + "\n")
    ref_out = os.path.join(WORK, "ref.jsonl")
    with open(os.path.join(WORK, "a.toml"), "w") as f:
        f.write(texts["A"])
    r = subprocess.run([SEISMO, "replay", os.path.join(WORK, "g1.jsonl"), "--config", os.path.join(WORK, "a.toml"),
                        "--deterministic", "--out", ref_out], capture_output=True, text=True)
    ref = [json.loads(l) for l in open(ref_out)] if r.returncode == 0 else []
    want = [trig_key(t) for t in ref if t["signal"] == "kept_dd"]
    got = [trig_key(t) for t in trig if t["signal"] == "kept_dd"]
    check(len(want) > 20 and got == want, f"kept_dd: {len(got)} triggers across 50 reloads, {len(want)} without a reload, equal")

    # the journal replays to the audit log, byte for byte, at full speed and paced
    for speed in ("max", "4"):
        replayed = os.path.join(WORK, f"replayed-{speed}.jsonl")
        r = subprocess.run([SEISMO, "replay", journal, "--deterministic", "--speed", speed, "--out", replayed],
                           capture_output=True, text=True)
        same = r.returncode == 0 and open(replayed, "rb").read() == open(audit, "rb").read()
        check(same, f"journal replay (--speed {speed}) across {RELOADS + 1} reload attempts = the audit log, "
                    f"byte for byte ({os.path.getsize(replayed) if os.path.exists(replayed) else 0} bytes; "
                    f"{r.stderr.strip()[-160:]})")
    for fd in (g1, g2, g3):
        fd.close()


try:
    asyncio.run(main())
finally:
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    if failures:
        print("seismo's log:\n" + open(os.path.join(WORK, "seismo.err")).read()[-3000:])
    shutil.rmtree(WORK, ignore_errors=True)
if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("all reload checks passed")
