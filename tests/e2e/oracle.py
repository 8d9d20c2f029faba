#!/usr/bin/python3
"""An independent oracle for `seismo replay`: reads the same config (tomllib) and generic-tick
JSON lines (json), validates every line by the protocol's rules, recomputes every signal naively
from its definition (docs/signals.md), and compares its triggers and refusal counts with
seismo's output, trigger for trigger. Shares no code with seismo.

usage: oracle.py --config CFG --input DAY.jsonl --triggers TRIGGERS.jsonl --summary SUMMARY.json
"""
import argparse
import datetime
import json
import math
import re
import sys
import tomllib

MS = 1_000_000
UNITS = {"ns": 1, "us": 1_000, "ms": MS, "s": 1_000 * MS, "m": 60_000 * MS,
         "h": 3_600_000 * MS, "d": 86_400_000 * MS, "w": 604_800_000 * MS}
DECIMAL = re.compile(r"^[+]?-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.I)
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
I64 = 2**63 - 1


def duration(s):
    if s == "0":
        return 0
    total = 0
    for n, u in re.findall(r"(\d+)([a-z]+)", s):
        total += int(n) * UNITS[u]
    return total


def glob_re(g):
    return re.compile("^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in g) + "$")


class Reject(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def number(v, field):
    """A JSON number or a numeric string -> float; raises Reject."""
    if isinstance(v, bool) or v is None or isinstance(v, (list, dict)):
        raise Reject("bad_field")
    if isinstance(v, (int, float)):
        x = float(v)
    else:
        if DECIMAL.match(v):
            x = float(v.lstrip("+"))
        elif NONFINITE.match(v):
            raise Reject("non_finite")
        else:
            raise Reject("bad_field")
    if not math.isfinite(x):
        raise Reject("non_finite")
    return x


def timestamp(v):
    if isinstance(v, bool):
        raise Reject("bad_timestamp")
    if isinstance(v, str) and v.isdigit() and v.isascii():
        v = int(v)
    if isinstance(v, int):
        if v < 0 or v > I64:
            raise Reject("bad_timestamp")
        if v > 10**15:
            return v
        if v > I64 // MS:
            raise Reject("bad_timestamp")
        return v * MS
    if isinstance(v, str):
        m = RFC3339.match(v)
        if not m:
            raise Reject("bad_timestamp")
        y, mo, d, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
        try:
            base = datetime.datetime(y, mo, d, hh, mm, min(ss, 59), tzinfo=datetime.timezone.utc)
        except ValueError:
            raise Reject("bad_timestamp")
        if ss > 60:
            raise Reject("bad_timestamp")
        frac = (m.group(7) or ".")[1:]
        if m.group(7) and not frac:
            raise Reject("bad_timestamp")
        ns = int((frac + "000000000")[:9]) if frac else 0
        off = 0
        tz = m.group(8)
        if tz not in ("Z", "z"):
            sign = 1 if tz[0] == "+" else -1
            oh, om = int(tz[1:3]), int(tz[4:6])
            if oh > 23 or om > 59:
                raise Reject("bad_timestamp")
            off = sign * (oh * 60 + om) * 60
        secs = int(base.timestamp()) + (ss - min(ss, 59)) - off
        return secs * 1_000_000_000 + ns
    raise Reject("bad_timestamp")


def fmt_ts(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    d = datetime.datetime.fromtimestamp(secs, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % frac


class Instrument:
    def __init__(self, sym, tags, kind, prev_close, lateness):
        self.sym, self.tags, self.kind = sym, tags, kind
        self.prev_close, self.lateness = prev_close, lateness
        self.hist = []            # accepted (t, px)
        self.first_px = None
        self.last_seq = 0
        self.stream_last = {}        # kind -> latest event time of that stream
        self.prev_close_seen = None  # the previous close as of the last price tick
        self.new_session = False  # a previous close arrived after the last price tick
        self.buckets = {}            # resolution -> [observations folded in, {bucket: max}]


class Oracle:
    def __init__(self, cfg):
        eng = cfg.get("engine", {})
        self.lateness = duration(eng.get("lateness", "0"))
        self.max_frame = eng.get("max_frame_bytes", 64 * 1024)
        self.instruments = {}
        self.templates = []
        for ic in cfg.get("instrument", []):
            kind = ic.get("kind", "price")
            lat = duration(ic["lateness"]) if "lateness" in ic else None
            if "match" in ic:
                globs = ic["match"] if isinstance(ic["match"], list) else [ic["match"]]
                self.templates.append(([glob_re(g) for g in globs], ic.get("tags", []), kind, lat))
            else:
                tags = ic.get("tags", [])
                tags = tags if isinstance(tags, list) else [tags]
                self.instruments[ic["symbol"]] = Instrument(ic["symbol"], tags, kind, ic.get("prev_close"), lat)
        self.signals = cfg.get("signal", [])
        for s in self.signals:
            s.setdefault("direction", "below" if s["kind"] in ("drawdown", "change", "level") else "above")
            s.setdefault("rearm", 0.0)
            for k in ("instruments", "select", "inputs"):
                if isinstance(s.get(k), str):
                    s[k] = [s[k]]
        # evaluation order: declaration order, but every composite after its inputs
        names = [s["name"] for s in self.signals]
        placed, self.order = set(), []
        while len(self.order) < len(self.signals):
            for i, s in enumerate(self.signals):
                if i not in placed and all(names.index(x) in placed for x in s.get("inputs", [])):
                    placed.add(i)
                    self.order.append(i)
                    break
        self.state = {}       # (signal, key) -> list of fired flags
        self.out = []
        self.latest_fire = {}  # signal name -> (seq, ts)
        self.watermark = None
        self.rejected = {}
        self.frames = self.applied = self.references = self.ignored = 0

    # -- instruments --
    def instrument(self, sym):
        ins = self.instruments.get(sym)
        if ins is None:
            tags, kind, lat = [], "price", None
            for globs, t, k, l in self.templates:
                if any(g.match(sym) for g in globs):
                    tags, kind, lat = t, k, l
                    break
            ins = self.instruments[sym] = Instrument(sym, tags, kind, None, lat)
        return ins

    def member(self, s, ins):
        if ins.sym in s.get("instruments", []):
            return True
        for sel in s.get("select", []):
            what, _, text = sel.partition(":")
            if what == "tag" and text in ins.tags:
                return True
            if what == "sym" and glob_re(text).match(ins.sym):
                return True
        return False

    # -- parsing --
    def parse_object(self, o, recv_ts):
        if not isinstance(o, dict):
            raise Reject("malformed")
        sym = px = prev = None
        ts = 0
        seq = 0
        kind = "value"
        for k, v in o.items():
            if k == "sym":
                if not isinstance(v, str) or not v:
                    raise Reject("bad_field")
                sym = v
            elif k == "px":
                px = number(v, "px")
            elif k == "ts":
                ts = timestamp(v)
            elif k == "sz":
                if number(v, "sz") < 0:
                    raise Reject("bad_field")
            elif k == "seq":
                if isinstance(v, bool):
                    raise Reject("bad_field")
                if isinstance(v, str) and v.isdigit() and v.isascii():
                    v = int(v)
                if not isinstance(v, int) or v < 0 or v >= 2**64:
                    raise Reject("bad_field")
                seq = v
            elif k == "prev_close":
                prev = number(v, "prev_close")
            elif k == "kind":
                if v not in ("trade", "quote", "value"):
                    raise Reject("bad_field")
                kind = v
            elif k == "venue":
                if not isinstance(v, str) or not v:
                    raise Reject("bad_field")
        if sym is None:
            raise Reject("missing_field")
        if px is None and prev is None:
            raise Reject("missing_field")
        ins = self.instrument(sym)
        if ins.kind == "price":
            if px is not None and px <= 0:
                raise Reject("non_positive")
            if prev is not None and prev <= 0:
                raise Reject("non_positive")
        ticks = []
        if prev is not None:
            ticks.append(("ref", ins, prev, ts or recv_ts, 0, kind))
        if px is not None:
            ticks.append(("px", ins, px, ts or recv_ts, seq, kind))
        return ticks

    def reject(self, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def line(self, raw):
        self.frames += 1
        recv_ts = self.watermark if self.watermark is not None else 0
        if len(raw) > self.max_frame:
            return self.reject("oversize")
        text = raw.decode("utf-8", errors="surrogateescape")
        if not text.strip(" \t\r\n"):
            self.ignored += 1
            return
        try:
            doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except (ValueError, RecursionError):
            return self.reject("malformed")
        try:
            if isinstance(doc, dict):
                ticks = self.parse_object(doc, recv_ts)
            elif isinstance(doc, list):
                ticks = []
                for o in doc:
                    ticks += self.parse_object(o, recv_ts)
                if not ticks:
                    self.ignored += 1
                    return
            else:
                raise Reject("malformed")
        except Reject as r:
            return self.reject(r.reason)
        for what, ins, px, ts, seq, stream in ticks:
            if what == "ref":
                ins.prev_close = px
                ins.new_session = bool(ins.hist)  # the last price belongs to the session before
                self.references += 1
                continue
            if seq and ins.last_seq and seq <= ins.last_seq:
                self.reject("duplicate")
                continue
            if ins.hist:
                # lateness is judged within the stream (trade, quote, value); the tick is then
                # applied no earlier than the instrument's latest time
                lat = ins.lateness if ins.lateness is not None else self.lateness
                if stream in ins.stream_last and ts < ins.stream_last[stream] - lat:
                    self.reject("late")
                    continue
                ins.stream_last[stream] = max(ins.stream_last.get(stream, ts), ts)
                ts = max(ts, ins.hist[-1][0])
            else:
                ins.first_px = px
                ins.stream_last[stream] = ts
            if ins.new_session:
                ins.first_px = px
                ins.new_session = False
            if seq:
                ins.last_seq = seq
            ins.hist.append((ts, px))
            ins.prev_close_seen = ins.prev_close
            self.applied += 1
            self.watermark = ts if self.watermark is None else max(self.watermark, ts)
            self.step(ins, ts, px)

    # -- signals --
    @staticmethod
    def resolution(s, span):
        return duration(s["resolution"]) if "resolution" in s else max(span // 256, MS)

    def reference(self, s, ins):
        if "window" in s:
            w = duration(s["window"])
            r = self.resolution(s, w)
            nb = max(1, (w + r - 1) // r)
            now_b = ins.hist[-1][0] // r
            # every bucket's maximum (all of history, kept per resolution), then the newest nb
            done, best = ins.buckets.setdefault(r, [0, {}])
            for t, p in ins.hist[done:]:
                b = t // r
                best[b] = max(best.get(b, p), p)
            ins.buckets[r][0] = len(ins.hist)
            return max(best[b] for b in range(now_b - nb + 1, now_b + 1) if b in best)
        ref = s["ref"]
        if ref == "prev_close":
            return ins.prev_close_seen
        if ref == "session_open":
            return ins.first_px
        return float(ref)

    @staticmethod
    def ratio(px, ref):
        if ref is None or not math.isfinite(ref) or ref == 0:
            return None
        return px / ref - 1.0

    def levels(self, s, key, value, ts, fields):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        st = self.state.setdefault((s["name"], key), [False] * len(s["levels"]))
        for i, lv in enumerate(s["levels"]):
            at = float(lv["at"])
            if s["direction"] == "below":
                fire, clear = (not st[i] and value <= at), (st[i] and value > at + s["rearm"])
            else:
                fire, clear = (not st[i] and value >= at), (st[i] and value < at - s["rearm"])
            if not (fire or clear):
                continue
            st[i] = fire
            seq = len(self.out) + 1
            t = dict(seq=seq, signal=s["name"], kind=s["kind"], state="fired" if fire else "cleared",
                     severity=lv.get("severity", "warning"), value=float(value), threshold=at,
                     event_ts=fmt_ts(ts), **fields)
            self.out.append(t)
            if fire:
                self.latest_fire[s["name"]] = (seq, ts)

    def step(self, ins, ts, px):
        for s in self.signals:
            k = s["kind"]
            if k == "composite" or not self.member(s, ins):
                continue
            if k == "breadth":
                eligible = counting = 0
                for m in self.instruments.values():
                    if not m.hist or not self.member(s, m):
                        continue
                    if m.new_session and "window" not in s:
                        continue  # not ticked since its new previous close
                    v = self.ratio(m.hist[-1][1], self.reference(s, m))
                    if v is None:
                        continue
                    eligible += 1
                    counting += v <= s.get("member_at", 0.0)
                if eligible and eligible >= s.get("min_members", 1):
                    self.levels(s, "", counting / eligible, ts, dict(count=counting, members=eligible, cause=[]))
                continue
            fields = dict(instrument=ins.sym, px=px, cause=[])
            if k == "drawdown":
                ref = self.reference(s, ins)
                v = self.ratio(px, ref)
                fields["ref"] = ref
            elif k == "level":
                v = px
            elif k == "change":
                lb = duration(s["lookback"])
                r = self.resolution(s, lb)
                kept = {}
                for t, p in ins.hist:
                    kept[t // r] = (t, p)
                cands = [tp for tp in kept.values() if tp[0] <= ts - lb]
                if not cands:
                    continue
                ref = max(cands)[1]
                fields["ref"] = ref
                v = px - ref if s.get("units", "abs") == "abs" else self.ratio(px, ref)
            elif k == "zscore":
                h = ins.hist
                n = len(h) - 1
                if n < 1 or n - 1 < s.get("min_count", 20):
                    continue
                hl = duration(s["halflife"])
                ws, ds = [], []
                for j in range(1, n):
                    a = 1.0 if j == 1 else 1.0 - 2.0 ** (-(h[j][0] - h[j - 1][0]) / hl)
                    for q in range(j + 1, n):
                        a *= 2.0 ** (-(h[q][0] - h[q - 1][0]) / hl)
                    ws.append(a)
                    ds.append(h[j][1] - h[j - 1][1])
                mean = sum(w * d for w, d in zip(ws, ds))
                var = sum(w * (d - mean) ** 2 for w, d in zip(ws, ds))
                if var <= 0:
                    continue
                v = (h[n][1] - h[n - 1][1] - mean) / math.sqrt(var)
                fields["ref"] = h[n - 1][1]
            self.levels(s, ins.sym, v, ts, fields)
        for i in self.order:
            s = self.signals[i]
            if s["kind"] != "composite":
                continue
            within = duration(s["within"])
            cause = []
            for name in s["inputs"]:
                f = self.latest_fire.get(name)
                if f and self.watermark - f[1] <= within:
                    cause.append(f[0])
            self.levels(s, "", float(len(cause)), self.watermark, dict(cause=cause))


def config_digest(text):
    """FNV-1a (64-bit) of the config's bytes, as 16 hex digits: the triggers' "config"."""
    h = 0xcbf29ce484222325
    for b in text:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b)))
    return a == b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--triggers", required=True)
    ap.add_argument("--summary", required=True)
    args = ap.parse_args()
    with open(args.config, "rb") as f:
        text = f.read()
    o = Oracle(tomllib.loads(text.decode()))
    digest = config_digest(text)
    with open(args.input, "rb") as f:
        for raw in f:
            o.line(raw.rstrip(b"\n").rstrip(b"\r"))
    got = [json.loads(l) for l in open(args.triggers)]
    summary = json.load(open(args.summary))
    problems = []
    if len(got) != len(o.out):
        problems.append(f"trigger count: seismo {len(got)}, oracle {len(o.out)}")
    for i, (g, w) in enumerate(zip(got, o.out)):
        w = dict(w, config=digest)  # every trigger names the config that produced it
        for key in sorted(set(g) | set(w) - {"type"}):
            if key == "type":
                continue
            if key not in g or key not in w or not close(g[key], w[key]):
                problems.append(f"trigger {i + 1} field {key}: seismo {g.get(key)!r}, oracle {w.get(key)!r}")
                break
        if len(problems) > 10:
            break
    for key, mine in (("frames", o.frames), ("applied", o.applied), ("references", o.references),
                      ("ignored", o.ignored), ("triggers", len(o.out))):
        if summary[key] != mine:
            problems.append(f"summary {key}: seismo {summary[key]}, oracle {mine}")
    for reason, n in summary["rejected"].items():
        if n != o.rejected.get(reason, 0):
            problems.append(f"rejected {reason}: seismo {n}, oracle {o.rejected.get(reason, 0)}")
    for reason in o.rejected:
        if reason not in summary["rejected"]:
            problems.append(f"rejected {reason}: oracle {o.rejected[reason]}, seismo has no such reason")
    if problems:
        print("MISMATCH\n  " + "\n  ".join(problems))
        return 1
    kinds = sorted({t["kind"] for t in o.out})
    print(f"oracle agrees: {len(o.out)} triggers ({', '.join(kinds)}), {o.frames} frames, "
          f"{sum(o.rejected.values())} rejected {dict(sorted(o.rejected.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
