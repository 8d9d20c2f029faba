#!/usr/bin/python3
"""Full venue captures for the normalisation comparison (bench/tardis/compare.sh): the real
frames of tests/fixtures/venues/ of each venue (trades, tickers, order books, control), cycled
to N frames. Trade ids and sequence numbers move on by their span in the file on every cycle,
so each pass continues the last (no sequence gaps or duplicates made up by the cycling).
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
        lo, hi = {}, {}
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
                        hi[k] = max(hi.get(k, v), v)
        span = {k: hi[k] - lo[k] + 1 for k in lo}
        with open(venue + ".tardis", "w") as tardis, open(venue + ".jsonl", "w") as raw:
            for i in range(n):
                cycle, j = divmod(i, len(frames))
                o = parsed[j]
                if o is None:
                    text = frames[j]
                else:
                    o = json.loads(frames[j])
                    for r in records(o):
                        for k in IDS:
                            v = as_int(r.get(k))
                            if v is not None:
                                moved = v + cycle * span[k]
                                r[k] = moved if isinstance(r[k], int) else str(moved)
                    text = json.dumps(o, separators=(",", ":"))
                secs = i // 100_000
                tardis.write(f"2023-11-14T{22 + secs // 3600 % 2:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}."
                             f"{i % 100_000:05d}0000Z {text}\n")
                raw.write(text + "\n")


main()
