#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/<target>/ from the fixtures (tests/fixtures and the
recorded captures) and a few hand-made inputs: each file one input, named by its content's
hash, so that rerunning adds nothing twice. Findings are added beside them by hand, named
`finding-<what>`. Kept small: a few dozen inputs per target.

usage: fuzz/make_corpus.py [JOURNAL_DIR_PLAIN JOURNAL_DIR_ZSTD]   (journals from
       `seismo run --record` with journal_segment_bytes = 65536; their first segments seed the
       journal target)
"""
import glob
import gzip
import hashlib
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
VENUES = ["binance", "coinbase", "kraken", "okx", "bybit"]


def put(target, data, name=None):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def lines(path, limit):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and line not in out:
                out.append(line)
            if len(out) >= limit:
                break
    return out


for v in VENUES:
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/venues", v + "_*.json"))):
        for line in lines(path, 6):
            put("venue_" + v, line)
captures = {"binance": "binance-spot", "coinbase": "coinbase-exchange", "kraken": "kraken-v1-trade", "okx": "okx-v5"}
for v, name in captures.items():
    path = os.path.join(ROOT, "tests/fixtures/recorded", name + ".tardis.txt")
    for line in lines(path, 400)[::40]:
        put("venue_" + v, line.split(" ", 1)[1])
        put("tardis_raw", bytes([VENUES.index(v)]) + line.encode())

for g in ['{"sym":"XAG/USD","px":76.51,"ts":1770257643512,"sz":0,"seq":18231}',
          '[{"sym":"A","px":"1.5","ts":"2026-02-05T02:14:03.512Z","kind":"trade"},{"sym":"B","prev_close":3}]',
          '{"sym":"LIQ","px":-61.2,"kind":"value","venue":"fed","seq":4,"seq_space":2,"seq_contiguous":true}',
          '{"sym":"A","px":1,"ts":1770257643512000123}', '{"sym":"\\u0041","px":1e308}', '[]', '',
          '{"sym":"A","px":1,"ts":"2300-01-01T00:00:00Z"}', '{"sym":"A","px":1,"ts":"9999-12-31T23:59:59Z"}']:
    put("venue_generic", g)

csv = ("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
       "binance-futures,BTCUSDT,1651500000123456,1651500000124000,1,buy,38000.5,0.01\n"
       "okex-swap,BTC-USD-SWAP,1651500000223456,1651500000224000,x2,sell,38001,3\n")
put("tardis_csv", csv)
put("tardis_csv", "symbol,price,amount,timestamp\nBTCUSDT,1,1,9300000000000000\n")
put("tardis_csv", "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nbinance,X,-5,,,,1,1\n")


def frame(op, payload=b"", fin=True, length=None):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    key = b"\x11\x22\x33\x44"
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


step = b"\x07"  # fed 8 bytes at a time
put("ws_frame", step + frame(1, b'{"op":"subscribe","topics":["*"]}'))
put("ws_frame", step + frame(1, b'{"op":', fin=False) + frame(9, b"mid") + frame(0, b'"ping"}'))
put("ws_frame", step + frame(8, b"\x03\xe8bye"))
put("ws_frame", step + frame(1, b"x" * 300))
put("ws_frame", b"\x00" + frame(1, b"hello", fin=False) + bytes([0x80, 0xFF]) + (2**64 - 3).to_bytes(8, "big") + b"\x01\x02\x03\x04",
    "finding-continuation-length-wrap")
put("ws_frame", step + frame(8, b"\x03\xed"), "finding-close-code-1005")
put("ws_frame", step + frame(1, b"\xce\xba\xed\xa0\x80"), "finding-text-surrogate")

for op in ['{"op":"subscribe","topics":["crash_*","feed_health/*"],"since":12,"min_severity":"warning"}',
           '{"op":"unsubscribe","topics":["x"]}', '{"op":"ping"}', '{"op":"subscribe","sinse":1}', '{', '[]']:
    put("client_op", op)

for path in ["deploy/config/playbook.toml", "deploy/config/example-live.toml", "tests/e2e/roundtrip.toml"]:
    put("config", open(os.path.join(ROOT, path), "rb").read())
put("config", '[server]\nlisten = ":70000"\n', "finding-listen-port-wraps")
put("config", '[engine]\nmax_instruments = 1\n[[instrument]]\nsymbol = "A"\n[[instrument]]\nsymbol = "B"\n',
    "finding-more-instruments-than-the-registry")

for t in ["2026-02-05T02:14:03.512Z", "2026-02-05T10:14:03+08:00", "1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z",
          "2300-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "90s", "1d2h", "250ms",
          "9223372036854775807ns", "106751d"]:
    put("time", t)

if len(sys.argv) == 3:
    for d in sys.argv[1:]:
        seg = sorted(glob.glob(os.path.join(d, "seismo-*.sjl")))[0]
        data = open(seg, "rb").read()
        put("journal", data[:16384])
        put("journal", data[:3000])
put("journal", b"SEISMOJL" + bytes(100))

plain = "".join(f'{{"sym":"A","px":{i}}}\n' for i in range(20)) + "no newline at the end"
put("line_reader", plain)
put("line_reader", "a\r\nb\r\n" + "x" * 5000 + "\n")
put("line_reader", gzip.compress(plain.encode()))
z = subprocess.run(["zstd", "-q", "-c"], input=plain.encode(), capture_output=True)
if z.returncode == 0:
    put("line_reader", z.stdout)
print("corpora in", OUT)
