#!/usr/bin/python3
"""Scale-out on NATS JetStream (DESIGN §10) with real servers on loopback.

A 3-node nats-server cluster (JetStream, R3 streams, each node its own store_dir); a local
generic-protocol WebSocket feed -> `seismo feed` -> SEISMO_TICKS -> two engines (A and B, the same
config, their own ports, both publishing) -> SEISMO_TRIGGERS. During the run: the NATS node
engine A is connected to is killed, then engine B is killed and restarted. Afterwards an
independent client (nats_dump) reads both streams, and `seismo replay --deterministic` of the
stored ticks is the reference:
  - the trigger stream holds exactly the reference's triggers, byte for byte, each message id
    once, seq contiguous;
  - the restarted engine published nothing already stored, and its first trigger after the
    restart — a drawdown whose window peaked before it died — equals the reference's;
  - the figures: expected, received, duplicates, gaps, resends, held back.

usage: nats_test.py SEISMO NATS_DUMP
"""
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import GenericFeed, check, failures, free_port, http_get, metric_sum, wait_until  # noqa: E402

SEISMO, DUMP = sys.argv[1], sys.argv[2]
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
WORK = tempfile.mkdtemp(prefix="seismo-nats-")
CYCLE = 16.0  # seconds: a 6% fall over 12 s, then back up over 4 s
RUN = 60.0    # seconds of ticks
RATE = 50     # ticks per second per instrument
SYMBOLS = {"XAG/USD": 0.0, "XAU/USD": 5.0}  # symbol -> phase offset (s)
KILL_NODE_AT = 9.0
KILL_B_AT = 2 * CYCLE + 2.0    # 2 s after a peak of XAG/USD
RESTART_B_AT = KILL_B_AT + 5.0  # down 5 s; the drawdown fires ~10 s after the peak
WINDOW = "20s"
MARGIN = "3s"

procs = []


def price(sym, t):
    ph = (t + SYMBOLS[sym]) % CYCLE
    if ph < 12.0:
        return round(100.0 * (1 - 0.06 * ph / 12.0), 4)
    return round(94.0 + 6.0 * (ph - 12.0) / 4.0, 4)


def node_config(i, client, cluster, http, routes):
    d = os.path.join(WORK, f"n{i}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(WORK, f"n{i}.conf")
    with open(path, "w") as f:
        f.write(f"""server_name: n{i}
listen: 127.0.0.1:{client}
http: 127.0.0.1:{http}
jetstream {{ store_dir: "{d}" }}
cluster {{
  name: seismo
  listen: 127.0.0.1:{cluster}
  routes: [{", ".join(f"nats-route://127.0.0.1:{r}" for r in routes)}]
}}
""")
    return path


def start(cmd, log):
    p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def engine_config(port, servers):
    return f"""[engine]
deterministic = true

[server]
listen = "127.0.0.1:{port}"

[nats]
servers = [{", ".join(f'"{s}"' for s in servers)}]
replicas = 3
max_age = "1h"
duplicate_window = "10m"
rebuild_margin = "{MARGIN}"
ack_wait = "1s"

[[feed]]
name = "cluster"
venue = "nats"
stream = "SEISMO_TICKS"
subjects = ["seismo.tick.>"]

[[instrument]]
symbol = "XAG/USD"

[[instrument]]
symbol = "XAU/USD"

[[signal]]
name = "metal_crash"
kind = "drawdown"
instruments = ["XAG/USD", "XAU/USD"]
window = "{WINDOW}"
levels = [{{ at = -0.05, severity = "critical" }}]
"""


def state(port):
    code, body = http_get(f"http://127.0.0.1:{port}/v1/state")
    return json.loads(body) if code == 200 else None


def dump(url, stream, *extra):
    r = subprocess.run([DUMP, url, stream, *extra], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"nats_dump exit {r.returncode}: {r.stderr}")
    return r.stdout.splitlines()


async def main():
    client = [free_port() for _ in range(3)]
    cluster = [free_port() for _ in range(3)]
    http = [free_port() for _ in range(3)]
    nodes = []
    for i in range(3):
        conf = node_config(i + 1, client[i], cluster[i], http[i],
                           [cluster[j] for j in range(3) if j != i])
        nodes.append(start([NATS_SERVER, "-c", conf], os.path.join(WORK, f"n{i + 1}.log")))
    servers = [f"nats://127.0.0.1:{p}" for p in client]

    def js_ready():
        try:
            for h in http:
                code, body = http_get(f"http://127.0.0.1:{h}/jsz", timeout=1)
                if code != 200 or '"leader"' not in body:
                    return False
            return True
        except OSError:
            return False
    check(await wait_until(js_ready, 30), "3-node JetStream cluster up, a meta leader elected")

    feed = GenericFeed()
    feed_port = await feed.start()
    feed_cfg = os.path.join(WORK, "feed.toml")
    fport = free_port()
    with open(feed_cfg, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{fport}"

[nats]
servers = [{", ".join(f'"{s}"' for s in servers)}]
replicas = 3
max_age = "1h"

[[feed]]
name = "metals"
venue = "generic"
url = "ws://127.0.0.1:{feed_port}"

[[instrument]]
symbol = "XAG/USD"

[[instrument]]
symbol = "XAU/USD"
""")
    start([SEISMO, "feed", "--config", feed_cfg], os.path.join(WORK, "feed.log"))
    check(await wait_until(lambda: feed.clients, 20), "seismo feed connected to the WS feed")

    ports = {"A": free_port(), "B": free_port()}
    # One config for both (active-active: the same digest, the same message ids); each engine
    # its own port through --listen.
    engine_cfg = os.path.join(WORK, "engine.toml")
    with open(engine_cfg, "w") as f:
        f.write(engine_config(ports["A"], servers))
    engines = {}

    def start_engine(name, run):
        return start([SEISMO, "run", "--config", engine_cfg, "--listen",
                      f"127.0.0.1:{ports[name]}", "--quiet",
                      "--record", os.path.join(WORK, f"journal{name}.{run}"), "--out",
                      os.path.join(WORK, f"audit{name}.{run}.jsonl")],
                     os.path.join(WORK, f"engine{name}.{run}.log"))

    def ready(port):
        try:
            return http_get(f"http://127.0.0.1:{port}/readyz", timeout=1)[0] == 200
        except OSError:
            return False
    for name in ports:
        engines[name] = start_engine(name, 1)
    for name, port in ports.items():
        check(await wait_until(lambda: ready(port), 20), f"engine {name} ready")

    def tick_leader():
        code, body = http_get(f"http://127.0.0.1:{http[0]}/jsz?streams=true", timeout=2)
        if code != 200:
            return None
        for acc in json.loads(body).get("account_details", []):
            for st in acc.get("stream_detail", []):
                if st.get("name") == "SEISMO_TICKS":
                    leader = st.get("cluster", {}).get("leader", "")
                    if leader.startswith("n") and leader[1:].isdigit():
                        return int(leader[1:]) - 1
        return None

    t0 = time.time()
    events = {}
    sent = 0
    a_node = None
    while True:
        t = time.time() - t0
        if t >= RUN:
            break
        for sym in SYMBOLS:
            feed.seq[sym] = feed.seq.get(sym, 0) + 1
            await feed.broadcast(json.dumps({"sym": sym, "px": price(sym, t), "sz": 1,
                                             "seq": feed.seq[sym], "ts": time.time_ns()}))
            sent += 1
        if "node" not in events and t >= KILL_NODE_AT:
            # The node leading SEISMO_TICKS: the feed handler's publishes fail over to a new
            # leader, the engines' consumers on it are lost.
            s = state(ports["A"])
            a_node = s["nats"]["server"] if s else ""
            idx = tick_leader()
            if idx is None:
                idx = next((i for i, u in enumerate(servers) if u.split("//")[1] in a_node), 0)
            nodes[idx].send_signal(signal.SIGKILL)
            events["node"] = (t, f"n{idx + 1}")
        if "killB" not in events and t >= KILL_B_AT:
            engines["B"].send_signal(signal.SIGKILL)
            events["killB"] = time.time()
        if "restartB" not in events and t >= RESTART_B_AT:
            engines["B"] = start_engine("B", 2)
            events["restartB"] = time.time()
        await asyncio.sleep(1.0 / RATE)
    print(f"     sent {sent} ticks in {RUN:.0f} s; killed NATS node {events['node'][1]} (leading "
          f"SEISMO_TICKS; engine A was on {a_node}) at {events['node'][0]:.1f} s", flush=True)

    # Every tick stored and consumed by both engines before stopping.
    live_url = servers[[i for i in range(3) if f"n{i + 1}" != events["node"][1]][0]]

    def fed():
        s = state(fport)
        return s is not None and s["nats"]["ticks"]["pending"] == 0
    check(await wait_until(fed, 30), "seismo feed: every tick acknowledged by the stream")
    _, body = http_get(f"http://127.0.0.1:{fport}/metrics")
    print("     seismo feed: " + ", ".join(
        f"{k} {metric_sum(body, 'seismo_nats_' + k, stream='SEISMO_TICKS'):.0f}"
        for k in ("published_total", "acked_total", "duplicates_total", "resent_total",
                  "dropped_total")), flush=True)
    # With the stream's timestamps: the receive times the engines used.
    ticks = dump(live_url, "SEISMO_TICKS", "--capture")
    keys = [(json.loads(t.split(" ", 1)[1])["sym"], json.loads(t.split(" ", 1)[1])["seq"])
            for t in ticks]
    stored_twice = len(keys) - len(set(keys))
    # nats-server 2.9 may store a message resent across a stream-leader failover twice (its
    # duplicate window is the new leader's): the engines drop such a tick by its venue seq.
    print(f"     SEISMO_TICKS: {len(ticks)} messages, {len(set(keys))} distinct ticks, "
          f"{stored_twice} stored twice across the failover", flush=True)
    check(len(set(keys)) == sent, f"SEISMO_TICKS holds every tick sent ({len(set(keys))} of {sent})")
    last = {}
    regress = 0
    for sym, seq in keys:
        regress += 1 if seq <= last.get(sym, 0) else 0
        last[sym] = max(seq, last.get(sym, 0))
    print(f"     SEISMO_TICKS out of order per instrument: {regress}", flush=True)

    def consumed(port):
        s = state(port)
        return s is not None and s["feeds"][0].get("stream_seq", 0) >= len(ticks)
    for name, port in ports.items():
        check(await wait_until(lambda: consumed(port), 30), f"engine {name} consumed every tick")
    await asyncio.sleep(1.0)
    figures = {}
    for name, port in ports.items():
        _, body = http_get(f"http://127.0.0.1:{port}/metrics")
        figures[name] = {k: metric_sum(body, f"seismo_nats_{k}", stream="SEISMO_TRIGGERS")
                         for k in ("published_total", "acked_total", "duplicates_total",
                                   "resent_total", "pending")}
        figures[name]["ticks refused"] = metric_sum(body, "seismo_feed_rejected_total")
        figures[name]["consumer remade"] = metric_sum(body, "seismo_feed_reconnects_total")
        engines[name].send_signal(signal.SIGTERM)
        engines[name].wait(timeout=30)
    feed.close()

    # The reference: the stored ticks replayed.
    ticks_file = os.path.join(WORK, "ticks.jsonl")
    with open(ticks_file, "w") as f:
        f.write("\n".join(ticks) + "\n")
    ref_file = os.path.join(WORK, "reference.jsonl")
    r = subprocess.run([SEISMO, "replay", "--config", engine_cfg, "--deterministic", "--feed",
                        "cluster", ticks_file, "--out", ref_file], capture_output=True, text=True)
    check(r.returncode == 0, "seismo replay --deterministic of the stored ticks")
    reference = open(ref_file).read().splitlines()

    stored = dump(live_url, "SEISMO_TRIGGERS")
    ids = [line.split("\t")[1] for line in stored]
    data = [line.split("\t", 3)[3] for line in stored]
    seqs = [int(i.split(":")[1]) for i in ids]
    digests = {i.split(":")[0] for i in ids}
    dup_ids = len(ids) - len(set(ids))
    by_seq = sorted(zip(seqs, data))
    gaps = sum(1 for a, b in zip(by_seq, by_seq[1:]) if b[0] != a[0] + 1)
    out_of_order = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    print(f"     triggers expected {len(reference)}, received {len(stored)}, duplicate ids "
          f"{dup_ids}, seq gaps {gaps}, stored out of seq order {out_of_order}; one digest: "
          f"{sorted(digests)}", flush=True)
    for name in ports:
        print(f"     engine {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in figures[name].items()),
              flush=True)
    check(len(reference) >= 10, f"the reference has triggers to compare ({len(reference)})")
    check(dup_ids == 0, "each message id stored once")
    check([s for s, _ in by_seq] == list(range(1, len(stored) + 1)), "seq contiguous from 1")
    check([d for _, d in by_seq] == reference,
          "the trigger stream = seismo replay --deterministic of the stored ticks, byte for byte")
    check(len(digests) == 1, "both engines published under one config digest (active-active)")
    both = figures["A"]["acked_total"] > 0 and figures["B"]["acked_total"] > 0
    check(both, "both engines published and were acknowledged")
    check(figures["A"]["duplicates_total"] + figures["B"]["duplicates_total"] > 0,
          "JetStream answered duplicates: the second engine's copies were not stored again")

    # The restarted engine.
    log = open(os.path.join(WORK, "engineB.2.log")).read()
    check("holds this config's triggers up to seq" in log, "restarted B read its resume point")
    after = open(os.path.join(WORK, "auditB.2.jsonl")).read().splitlines()
    first = json.loads(after[0]) if after else None
    ok = first is not None and 1 <= first["seq"] <= len(reference)
    check(ok and after[0] == reference[first["seq"] - 1],
          "restarted B's first trigger equals the reference's of the same seq")
    before = [json.loads(x) for x in open(os.path.join(WORK, "auditB.1.jsonl")).read().splitlines()]
    last_before = before[-1]["seq"] if before else 0
    check(ok and first["seq"] > last_before, "restarted B published nothing it had published")
    if ok:
        # Its window reached back before B died: the drawdown's reference price is the peak
        # that preceded the kill, when B held no state.
        fired = [json.loads(x) for x in after if json.loads(x)["state"] == "fired"]
        f0 = fired[0] if fired else None
        from_rfc = time.mktime(time.strptime(f0["event_ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone \
            if f0 else 0
        check(f0 is not None and math.isclose(f0["ref"], 100.0, abs_tol=0.2) and
              from_rfc - 10 < events["killB"],
              f"B's first drawdown after the restart measured from a peak before it died "
              f"(ref {f0['ref'] if f0 else None}, fired {f0['event_ts'] if f0 else None})")
    # The restarted engine's journal replays to its triggers: the rebuild held back, the seqs
    # continued, byte for byte.
    r = subprocess.run([SEISMO, "replay", os.path.join(WORK, "journalB.2"), "--deterministic",
                        "--no-progress", "--out", os.path.join(WORK, "replayB.2.jsonl")],
                       capture_output=True, text=True)
    replayed = open(os.path.join(WORK, "replayB.2.jsonl")).read().splitlines() \
        if r.returncode == 0 else []
    check(r.returncode == 0 and replayed == after,
          f"restarted B's journal replays to its audit log ({len(replayed)} of {len(after)})")
    # And B's two lives together are the reference's triggers from its start to the end.
    b_all = [json.loads(x)["seq"] for x in open(os.path.join(WORK, "auditB.1.jsonl"))] + \
        [json.loads(x)["seq"] for x in after]
    check(len(b_all) == len(set(b_all)), "B never published a seq twice across its restart")


try:
    asyncio.run(main())
except Exception as e:  # a failure of the harness is a failure of the test
    import traceback
    traceback.print_exc()
    failures.append(str(e))
finally:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
    if not failures:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"     logs kept in {WORK}")
print("nats: " + ("ok" if not failures else f"{len(failures)} FAILED"))
sys.exit(1 if failures else 0)
