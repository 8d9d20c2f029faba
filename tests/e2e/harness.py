"""Shared pieces of the end-to-end tests: checks, ports, HTTP, polling with deadlines, the local
WebSocket feed server (python3-websockets) and Prometheus text parsing."""
import asyncio
import inspect
import json
import re
import socket
import time
import urllib.error
import urllib.request

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_get(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def wait_until(pred, timeout=30.0, every=0.05):
    """Polls pred (plain or coroutine function) until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = pred()
        if inspect.isawaitable(r):  # a coroutine function, or a lambda returning a coroutine
            r = await r
        if r:
            return True
        await asyncio.sleep(every)
    return False


def metric_sum(body, name, **labels):
    """Sum of the samples of `name` in a Prometheus text exposition whose labels include `labels`."""
    total = 0.0
    for line in body.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


class Feed:
    """A WebSocket feed: every connected client gets what broadcast() is given. Counts the frames
    it sends (per connection and in total) and keeps what clients send. `greet(msg)` may return
    a reply to a client's message (a venue's subscribe acknowledgement)."""

    def __init__(self, greet=None):
        self.clients = set()
        self.subscribes = []
        self.sent = 0
        self.connections = 0
        self.greet = greet
        self.server = None

    async def start(self):
        self.server = await websockets_serve(self._handler)
        return self.server.sockets[0].getsockname()[1]

    async def _handler(self, ws, path=None):
        self.connections += 1
        self.clients.add(ws)
        try:
            async for msg in ws:
                self.subscribes.append(msg)
                reply = self.greet(msg) if self.greet else None
                if reply is not None:
                    await ws.send(reply)
                    self.sent += 1
        except Exception:  # the client went away without a close handshake (or we cut it)
            pass
        finally:
            self.clients.discard(ws)

    async def broadcast(self, frame):
        for c in list(self.clients):
            try:
                await c.send(frame)
                self.sent += 1
            except Exception:  # a client that just went away; the test counts what it sent
                pass

    async def drop_clients(self):
        """Closes every connection without a close handshake (as a venue's load balancer may)."""
        for c in list(self.clients):
            c.transport.abort()
        await wait_until(lambda: not self.clients, 5)

    def close(self):
        if self.server is not None:
            self.server.close()


async def websockets_serve(handler):
    import websockets
    return await websockets.serve(handler, "127.0.0.1", 0, max_size=None)


class GenericFeed(Feed):
    """The generic tick protocol with a per-symbol `seq` (counts that instrument's ticks)."""

    def __init__(self):
        super().__init__()
        self.seq = {}

    async def send(self, sym, px, **extra):
        self.seq[sym] = self.seq.get(sym, 0) + 1
        await self.broadcast(json.dumps({"sym": sym, "px": px, "seq": self.seq[sym], **extra}))


class Binance(Feed):
    """Binance combined-stream trade frames; answers SUBSCRIBE like the venue does."""

    def __init__(self):
        super().__init__(greet=self._ack)
        self.trade_id = {}

    @staticmethod
    def _ack(msg):
        try:
            m = json.loads(msg)
        except ValueError:
            return None
        return json.dumps({"result": None, "id": m.get("id")}) if m.get("method") == "SUBSCRIBE" else None

    async def trade(self, sym, px, t_ms, skip=0):
        self.trade_id[sym] = self.trade_id.get(sym, 1000) + 1 + skip
        await self.broadcast(json.dumps({"stream": sym.lower() + "@trade", "data": {
            "e": "trade", "E": t_ms + 3, "s": sym, "t": self.trade_id[sym], "p": f"{px:.2f}",
            "q": "0.01500", "T": t_ms, "m": True, "M": True}}))
