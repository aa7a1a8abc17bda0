"""Steady state: many users' browsers doing incremental syncs (issue 6, "steady").

Each of `connections` workers owns a disjoint set of users and keeps a model
of their data, so every answer can be checked exactly: a 304 when nothing
changed, the precise collection map, the precise records newer than a
timestamp, the ids accepted by a POST. With `strict=False` (the ceiling app,
which stores nothing) only statuses and response shapes are checked.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import orjson

from bench.records import Record, RecordFactory, newest_first
from bench.stats import CpuWindow, Errors, Latencies
from bench.syncclient import SyncClient, prepare_upload, seconds_to_ms
from bench.target import Target
from syncstorage.timestamps import format_ms


@dataclass
class Sizes:
    users: int = 200
    connections: int = 32
    seconds: float = 20.0
    warmup_seconds: float = 3.0


# The incremental-sync mix: (operation, weight).
MIX = (("info_collections", 60), ("newer_fetch", 20), ("small_post", 13),
       ("meta_global_put", 2), ("delete_one", 5))  # fmt: skip
SEED = {"bookmarks": 50, "history": 100, "clients": 2, "tabs": 1}


@dataclass
class Collection:
    ts: int = 0
    items: dict[str, Record] = field(default_factory=dict)
    writes: list[int] = field(default_factory=list)  # recent write timestamps

    def written(self, ts: int, records=()) -> None:
        self.ts = ts
        self.writes = self.writes[-3:] + [ts]
        for record in records:
            record.modified = ts
            self.items[record.id] = record


@dataclass
class Model:
    """What one user's data must look like on the server."""

    client: SyncClient
    collections: dict[str, Collection] = field(default_factory=dict)

    def storage_ts(self) -> int:
        return max((c.ts for c in self.collections.values()), default=0)

    def collection(self, name: str) -> Collection:
        return self.collections.setdefault(name, Collection())


class Worker:
    """One connection's worth of users, driven one request at a time."""

    def __init__(self, models: list[Model], seed: int, strict: bool, errors: Errors):
        self.models = models
        self.rng = random.Random(seed)
        self.factory = RecordFactory(seed)
        self.strict = strict
        self.errors = errors
        names, weights = zip(*MIX)
        self.ops = [getattr(self, name) for name in names]
        self.weights = weights

    async def seed(self) -> None:
        for model in self.models:
            await self.meta_global_put(model)
            for name, count in SEED.items():
                records = self.factory.records(count)
                coll = model.collection(name)
                ts = await model.client.upload(name, prepare_upload(records), coll.ts, "seed")
                coll.written(ts, records)

    async def loop(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            op = self.rng.choices(self.ops, self.weights)[0]
            await op(self.rng.choice(self.models))

    # --- the operations of the mix -------------------------------------------

    async def info_collections(self, model: Model) -> None:
        # Mostly "anything new?" with the last seen storage timestamp (304);
        # sometimes a device that has never seen this storage (full map).
        current = self.rng.random() < 0.75
        since = model.storage_ts() if current else 0
        response = await model.client.send(
            "info_collections", "GET", "/info/collections", "",
            f"X-If-Modified-Since: {format_ms(since)}\r\n",
        )  # fmt: skip
        if not self.strict:
            model.client.expect(response, "info_collections", 200, 304)
            return
        if not model.client.expect(response, "info_collections", 304 if current else 200):
            return
        self.errors.check(
            response.header(b"x-last-modified") == format_ms(model.storage_ts()),
            f"info_collections: X-Last-Modified {response.header(b'x-last-modified')}, "
            f"expected {format_ms(model.storage_ts())}",
        )
        if not current:
            got = {k: seconds_to_ms(v) for k, v in orjson.loads(response.body).items()}
            # a collection whose writes all failed (ts 0) does not exist
            want = {k: c.ts for k, c in model.collections.items() if c.ts}
            self.errors.check(got == want, f"info_collections: {got} != {want}")

    async def newer_fetch(self, model: Model) -> None:
        name = self.rng.choice(("bookmarks", "history", "clients", "tabs"))
        coll = model.collection(name)
        newer = self.rng.choice(coll.writes) if coll.writes else 0
        response = await model.client.send(
            "newer_fetch", "GET", f"/storage/{name}", f"newer={format_ms(newer)}&full=1"
        )
        if not model.client.expect(response, "newer_fetch", 200):
            return
        items = orjson.loads(response.body)
        if self.strict:
            want = newest_first(r for r in coll.items.values() if r.modified > newer)
            model.client.check_records("newer_fetch", items, want)
        else:
            self.errors.check(isinstance(items, list), "newer_fetch: not a list")

    async def small_post(self, model: Model) -> None:
        name = self.rng.choice(("history", "history", "history", "bookmarks", "tabs"))
        coll = model.collection(name)
        records = self.factory.records(self.rng.randint(1, 5) if name != "tabs" else 1)
        if name != "history" and coll.items:
            # bookmarks and tabs mostly change records that already exist
            records[0].id = self.rng.choice(list(coll.items))
        ts = await model.client.upload(name, prepare_upload(records), coll.ts, "small_post")
        if ts != coll.ts:
            coll.written(ts, records)

    async def meta_global_put(self, model: Model) -> None:
        coll = model.collection("meta")
        record = Record("global", self.factory.payload(200), None)
        response = await model.client.send(
            "meta_global_put", "PUT", "/storage/meta/global", "",
            f"X-If-Unmodified-Since: {format_ms(coll.ts)}\r\n",
            orjson.dumps(record.to_json()),
        )  # fmt: skip
        if model.client.expect(response, "meta_global_put", 200):
            coll.written(seconds_to_ms(orjson.loads(response.body)), [record])

    async def delete_one(self, model: Model) -> None:
        coll = model.collection("history")
        if not coll.items:
            return await self.small_post(model)
        victim = self.rng.choice(list(coll.items))
        response = await model.client.send(
            "delete_one", "DELETE", f"/storage/history/{victim}"
        )
        if model.client.expect(response, "delete_one", 200):
            del coll.items[victim]
            coll.written(seconds_to_ms(orjson.loads(response.body)["modified"]))


async def sample_rss(target: Target, peaks: dict[int, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for pid, rss in target.server.stats().rss_kb.items():
            peaks[pid] = max(peaks.get(pid, 0), rss)
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def run(target: Target, sizes: Sizes, strict: bool = True) -> dict:
    errors = Errors()
    seed_latencies = Latencies()
    users = target.users(sizes.users)
    connections = [target.connection() for _ in range(min(sizes.connections, sizes.users))]
    # Users are spread over the connections (as behind a proxy); each user
    # belongs to one worker, so its model is never raced.
    clients = [
        SyncClient(user, connections[i % len(connections)], seed_latencies, errors)
        for i, user in enumerate(users)
    ]
    workers = [
        Worker([Model(c) for c in clients[w :: len(connections)]], seed=w, strict=strict, errors=errors)
        for w in range(len(connections))
    ]
    await asyncio.gather(*(w.seed() for w in workers))

    async def phase(seconds: float, latencies: Latencies) -> None:
        for worker in workers:
            for model in worker.models:
                model.client.latencies = latencies
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(w.loop(deadline) for w in workers))

    await phase(sizes.warmup_seconds, Latencies())
    latencies, peaks, stop = Latencies(), {}, asyncio.Event()
    sampler = asyncio.create_task(sample_rss(target, peaks, stop))
    with CpuWindow(target.server) as window:
        await phase(sizes.seconds, latencies)
    requests = len(latencies.all())
    stop.set()
    await sampler
    for connection in connections:
        connection.close()
    return {
        "sizes": sizes.__dict__,
        "requests": requests,
        "requests_per_s": requests / window.wall,
        "latency": Latencies.summary(latencies.all()),
        "by_op": {op: Latencies.summary(v) for op, v in sorted(latencies.by_op.items())},
        "rss_peak_mb": {str(pid): kb / 1024 for pid, kb in peaks.items()},
        "errors": errors.count,
        "error_samples": errors.samples,
        **window.shares(requests, "request"),
    }
