#!/usr/bin/python3
"""Full venue captures for the normalisation comparison (bench/tardis/compare.sh): the real
frames of tests/fixtures/venues/ of each venue (trades, tickers, order books, control), cycled
to N frames. The fixtures are samples of real streams (their ids skip), so cycling them as they
are would make every pass a run of sequence gaps and duplicates that a real full capture does not
have, and seismo would spend the comparison firing gap triggers and writing dead letters. Ids are
renumbered instead, as a venue numbers them: per instrument, event type and id field, each occurrence
takes the next number (trade ids contiguous, update ids and sequences increasing); a Coinbase
ticker's trade_id names the product's last match.
Writes VENUE.tardis (Tardis raw: "<ISO receive time> <frame>", for seismo) and VENUE.jsonl (the
frames alone, for tardis-dev) in the current directory.

usage: make_captures.py SOURCE_DIR N
"""
import glob
import json
import sys

IDS = ("t", "a", "f", "l", "trade_id", "tradeId", "sequence", "u", "U", "seqId", "seq")
VENUES = [("binance", "binance_*.json"), ("coinbase", "coinbase_exchange_*.json"), ("okx", "okx_*.json")]


def records(o):
    """The objects of a frame that carry ids: the frame, its data object or data elements."""
    if not isinstance(o, dict):
        return []
    out = [o]
    d = o.get("data")
    if isinstance(d, dict):
        out.append(d)
    elif isinstance(d, list):
        out += [e for e in d if isinstance(e, dict)]
    return out


def as_int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def main():
    source, n = sys.argv[1], int(sys.argv[2])
    for venue, pattern in VENUES:
        frames = []
        for f in sorted(glob.glob(source + "/tests/fixtures/venues/" + pattern)):
            frames += [l for l in open(f).read().splitlines() if l.strip()]
        parsed = []
        lo = {}
        for fr in frames:
            try:
                o = json.loads(fr)
            except ValueError:
                parsed.append(None)
                continue
            parsed.append(o)
            for r in records(o):
                for k in IDS:
                    v = as_int(r.get(k))
                    if v is not None:
                        lo[k] = min(lo.get(k, v), v)
        nxt = {}  # (instrument, event type, field) -> the next id; each starts where the fixtures do
        with open(venue + ".tardis", "w") as tardis, open(venue + ".jsonl", "w") as raw:
            for i in range(n):
                j = i % len(frames)
                o = parsed[j]
                if o is None:
                    text = frames[j]
                else:
                    o = json.loads(frames[j])
                    for r in records(o):
                        sym = r.get("s") or r.get("product_id") or r.get("instId") or ""
                        for k in IDS:
                            v = as_int(r.get(k))
                            if v is None:
                                continue
                            key = (sym, r.get("e"), k)  # Binance: a trade's "a" is an order id
                            start = nxt.setdefault(key, lo[k])
                            if r.get("type") == "ticker" and k == "trade_id":
                                new = start - 1 if start > lo[k] else start
                            else:
                                new = start
                                nxt[key] = start + 1
                            r[k] = new if isinstance(r[k], int) else str(new)
                    text = json.dumps(o, separators=(",", ":"))
                secs = i // 100_000
                tardis.write(f"2023-11-14T{22 + secs // 3600 % 2:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}."
                             f"{i % 100_000:05d}0000Z {text}\n")
                raw.write(text + "\n")


main()
