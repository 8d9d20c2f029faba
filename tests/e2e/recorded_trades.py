#!/usr/bin/python3
"""Independent extraction of trades from the recorded Tardis captures, for checking seismo's
venue adapters: parses each frame with Python's json module by the venue's documented message
shapes and reports, per instrument, the number of trades and the last trade price.

usage: recorded_trades.py extract VENUE CAPTURE CONFIG      -> prints JSON {symbol: [count, last]}
       recorded_trades.py ticks NORMALIZED_TICKS.jsonl       -> the same from seismo --ticks output
       recorded_trades.py csv VENUE CAPTURE CONFIG OUT.csv  -> writes the trades as a Tardis CSV
"""
import json
import sys
import tomllib
from datetime import datetime, timezone


def aliases(config, venue):
    with open(config, "rb") as f:
        cfg = tomllib.load(f)
    out = {}
    for ins in cfg.get("instrument", []):
        for a in ins.get("aliases", []):
            v, _, native = a.partition(":")
            if v == venue:
                out[native] = ins["symbol"]
    return out


def micros_of_iso(s):
    base, _, frac = s.rstrip("Z").partition(".")
    d = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 1_000_000 + int((frac + "000000")[:6])


def trades(venue, frame):
    """Yields (native symbol, price text, size text, exchange time in µs or None, id)."""
    try:
        d = json.loads(frame)
    except ValueError:
        return
    if venue == "binance":
        x = d.get("data", d) if isinstance(d, dict) else None
        if isinstance(x, dict) and x.get("e") in ("trade", "aggTrade"):
            yield x["s"], x["p"], x["q"], x["T"] * 1000, x.get("a", x.get("t"))
    elif venue == "coinbase":
        if isinstance(d, dict) and d.get("type") in ("match", "last_match"):
            yield d["product_id"], d["price"], d["size"], micros_of_iso(d["time"]), d["trade_id"]
        if isinstance(d, dict) and d.get("channel") == "market_trades":
            for ev in d.get("events", []):
                for t in ev.get("trades", []):
                    yield t["product_id"], t["price"], t["size"], micros_of_iso(t["time"]), t["trade_id"]
    elif venue == "kraken":
        if isinstance(d, list) and len(d) >= 4 and d[-2] == "trade":
            for t in d[1]:
                sec, _, frac = t[2].partition(".")
                yield d[-1], t[0], t[1], int(sec) * 1_000_000 + int((frac + "000000")[:6]), ""
        if isinstance(d, dict) and d.get("channel") == "trade":
            for t in d.get("data", []):
                yield t["symbol"], repr(t["price"]), repr(t["qty"]), micros_of_iso(t["timestamp"]), t["trade_id"]
    elif venue == "okx":
        if isinstance(d, dict) and d.get("arg", {}).get("channel") in ("trades", "trades-all") and "event" not in d:
            for t in d.get("data", []):
                yield t["instId"], t["px"], t["sz"], int(t["ts"]) * 1000, t["tradeId"]
    elif venue == "bybit":
        if isinstance(d, dict) and str(d.get("topic", "")).startswith("publicTrade."):
            for t in d.get("data", []):
                yield t["s"], t["p"], t["v"], t["T"] * 1000, t["i"]


def extract(venue, capture, config):
    names = aliases(config, venue)
    out = {}
    for line in open(capture, encoding="utf-8"):
        recv, _, frame = line.rstrip("\n").partition(" ")
        for sym, px, *_ in trades(venue, frame):
            sym = names.get(sym, sym)
            count, _ = out.get(sym, (0, None))
            out[sym] = (count + 1, float(px))
    return out


def from_ticks(path):
    out = {}
    for line in open(path):
        t = json.loads(line)
        if t.get("kind") != "trade":
            continue
        count, _ = out.get(t["sym"], (0, None))
        out[t["sym"]] = (count + 1, t["px"])
    return out


def write_csv(venue, capture, config, dest):
    with open(dest, "w") as f:
        f.write("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
        for line in open(capture, encoding="utf-8"):
            recv, _, frame = line.rstrip("\n").partition(" ")
            for sym, px, sz, ts, tid in trades(venue, frame):
                f.write(f"{venue},{sym},{ts},{micros_of_iso(recv)},{tid},buy,{px},{sz}\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "extract":
        print(json.dumps(extract(sys.argv[2], sys.argv[3], sys.argv[4]), sort_keys=True))
    elif cmd == "ticks":
        print(json.dumps(from_ticks(sys.argv[2]), sort_keys=True))
    elif cmd == "csv":
        write_csv(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
