"""CPU per request of the steady mix's operations, in process (issue 13).

Drives the ASGI app `create_app` builds directly (no sockets, no uvicorn),
one request at a time, and counts the process's CPU (`time.process_time`,
every thread) over many requests of each operation. Requests are signed
before the timed loop, so the figure is the app's alone; the load
generator and other processes on the machine do not disturb it. For
comparing one change deterministically; `./dev bench` is the real figure.

    python -m bench.inprocess [--requests 3000] [--database-url URL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import tempfile
import time

import orjson

from syncstorage.app import create_app
from syncstorage.cli.db import ensure_schema
from syncstorage.auth import derived_secret, hawk_header, make_token
from syncstorage.settings import Settings
from syncstorage.timestamps import format_ms

SECRET = "in-process-bench-secret"
HOST = "localhost:8000"
PUBLIC_URL = f"http://{HOST}"
USERS = 50
ROUND = 250


class Client:
    def __init__(self, app, uid: int) -> None:
        self.app = app
        self.uid = uid
        self.token = make_token({"uid": uid, "node": PUBLIC_URL, "fxa_uid": "f" * 32, "fxa_kid": "k"}, SECRET)
        self.key = derived_secret(self.token, SECRET)

    def scope(self, method: str, path: str, query: str = "", headers: dict | None = None, body: bytes = b""):
        raw = f"/1.5/{self.uid}{path}"
        url = f"{PUBLIC_URL}{raw}" + (f"?{query}" if query else "")
        hs = [
            (b"host", HOST.encode()),
            (b"authorization", hawk_header(method, url, self.token, self.key).encode()),
            (b"user-agent", b"Firefox/140.0 FxSync/1.140.0.desktop"),
            (b"accept", b"application/json"),
        ]
        if body:
            hs += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        hs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
            "method": method, "path": raw, "raw_path": raw.encode(), "query_string": query.encode(),
            "headers": hs, "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
        }, body


async def call(app, scope, body: bytes) -> tuple[int, dict, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, sent[1]["body"]


def records(n: int, start: int) -> bytes:
    return orjson.dumps([{"id": f"r{start + i:08d}", "payload": "x" * 450, "sortindex": i} for i in range(n)])


async def run(args) -> None:
    data = tempfile.mkdtemp(prefix="inprocess-")
    url = args.database_url or f"sqlite:///{data}/bench.db"
    settings = Settings(
        database_url=url, master_secret=[SECRET], public_url=PUBLIC_URL, data_dir=data,
        tokenserver_enabled=False,
    )
    ensure_schema(settings.effective_database_url, settings.storage_layout)
    app = create_app(settings)
    lifespan = asyncio.Queue()
    await lifespan.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lreceive():
        return await lifespan.get()

    async def lsend(message):
        if message["type"] == "lifespan.startup.complete":
            started.set()

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, lreceive, lsend))
    await started.wait()
    logging.getLogger("syncstorage.request").disabled = not args.log
    clients = [Client(app, 1000 + i) for i in range(USERS)]
    last = {}
    counter = 0
    for c in clients:  # seed: meta/global and a few collections
        for coll, n in (("bookmarks", 20), ("history", 40), ("clients", 2), ("tabs", 1)):
            counter += n
            status, h, _ = await call(app, *c.scope("POST", f"/storage/{coll}", body=records(n, counter)))
            assert status == 200, status
        status, h, _ = await call(app, *c.scope("PUT", "/storage/meta/global", body=b'{"payload":"{}"}'))
        assert status == 200
        last[c.uid] = h["x-last-modified"]

    def prepared(kind: str, i: int):
        nonlocal counter
        c = clients[i % USERS]
        if kind == "info_304":
            return c.scope("GET", "/info/collections", headers={"x-if-modified-since": last[c.uid]})
        if kind == "info_200":
            return c.scope("GET", "/info/collections", headers={"x-if-modified-since": "0"})
        if kind == "newer":
            return c.scope("GET", "/storage/history", query="full=1&newer=" + format_ms(0))
        if kind == "newer_few":
            return c.scope("GET", "/storage/tabs", query="full=1&newer=" + format_ms(0))
        if kind == "small_post":
            counter += 3
            return c.scope("POST", "/storage/bookmarks", query="batch=true&commit=true", body=records(3, counter))
        raise ValueError(kind)

    kinds = args.only.split(",")
    results = {}
    profiler = cProfile.Profile() if args.profile else None
    for kind in kinds:
        requests = [prepared(kind, i) for i in range(args.requests)]
        for scope, body in requests[:50]:  # warm up
            await call(app, dict(scope), body)
        if profiler:
            profiler.enable()
        # rounds of ROUND requests; the cheapest round is the figure least
        # disturbed by other processes on the machine
        best_cpu = best_wall = float("inf")
        timed = requests[50:]
        for start in range(0, len(timed) - ROUND + 1, ROUND):
            cpu, wall = time.process_time(), time.perf_counter()
            for scope, body in timed[start : start + ROUND]:
                status, _, _ = await call(app, scope, body)
                assert status in (200, 304), (kind, status)
            best_cpu = min(best_cpu, (time.process_time() - cpu) / ROUND)
            best_wall = min(best_wall, (time.perf_counter() - wall) / ROUND)
        if profiler:
            profiler.disable()
        results[kind] = best_cpu * 1e6
        print(f"{kind:12s} {best_cpu * 1e6:7.1f} µs CPU/request  {best_wall * 1e6:7.1f} µs wall (best round)")
    mix = {"info_304": 0.45, "info_200": 0.15, "newer_few": 0.2, "small_post": 0.2}
    if all(k in results for k in mix):
        print(f"{'mix':12s} {sum(results[k] * w for k, w in mix.items()):7.1f} µs CPU/request (weighted)")
    if profiler:
        profiler.dump_stats(args.profile)
    await lifespan.put({"type": "lifespan.shutdown"})
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--database-url")
    parser.add_argument("--only", default="info_304,info_200,newer_few,newer,small_post")
    parser.add_argument("--log", action="store_true", help="keep the request log on (to /dev/null)")
    parser.add_argument("--profile", help="write a cProfile of the timed loops to this file")
    args = parser.parse_args()
    if args.log:
        logging.basicConfig(stream=open(os.devnull, "w"), level=logging.INFO)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
