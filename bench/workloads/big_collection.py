"""One user with a very large collection (issue 6, "big collection"):
an incremental `newer` fetch, an `ids=` fetch and a full paging pass must
cost what they return, not what the collection holds."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bench.records import RecordFactory, newest_first
from bench.stats import CpuWindow, Errors, Latencies
from bench.syncclient import prepare_upload
from bench.target import Target
from syncstorage.timestamps import format_ms

COLLECTION = "history"


@dataclass
class Sizes:
    records: int = 100_000
    newer_items: int = 100  # records written last, returned by the newer fetch
    ids: int = 100  # ids per ids= fetch (the protocol's maximum)
    page: int = 1_000
    repeats: int = 20  # newer and ids= fetches are timed this many times


async def run(target: Target, sizes: Sizes) -> dict:
    latencies, errors = Latencies(), Errors()
    [client] = target.clients(1, latencies, errors)
    factory = RecordFactory(seed=3)
    bulk = factory.records(sizes.records - sizes.newer_items)
    recent = factory.records(sizes.newer_items)

    with CpuWindow(target.server) as load:
        before_recent = await client.upload(COLLECTION, prepare_upload(bulk), 0, "load")
    loaded = client.records_committed
    last = await client.upload(COLLECTION, prepare_upload(recent), before_recent, "load")
    every = newest_first(bulk + recent)

    # newer: exactly the records of the last write
    want_recent = newest_first(recent)
    for _ in range(sizes.repeats):
        response = await client.send(
            "newer_fetch", "GET", f"/storage/{COLLECTION}", f"newer={format_ms(before_recent)}&full=1"
        )
        if client.expect(response, "newer_fetch", 200):
            client.check_records("newer_fetch", orjson.loads(response.body), want_recent)

    # ids=: a random sample spread over the whole collection
    for _ in range(sizes.repeats):
        chosen = factory.rng.sample(every, min(sizes.ids, len(every)))
        query = "ids=" + ",".join(r.id for r in chosen) + "&full=1"
        response = await client.send("ids_fetch", "GET", f"/storage/{COLLECTION}", query)
        if client.expect(response, "ids_fetch", 200):
            client.check_records("ids_fetch", orjson.loads(response.body), newest_first(chosen))

    with CpuWindow(target.server) as paging:
        count = await client.download(COLLECTION, every, None, sizes.page, last, "page")
    client.close()

    return {
        "sizes": sizes.__dict__,
        "load_records_per_s": loaded / load.wall,
        "newer_fetch": Latencies.summary(latencies.by_op.get("newer_fetch", [])),
        "ids_fetch": Latencies.summary(latencies.by_op.get("ids_fetch", [])),
        "paging": {
            "records": count,
            "records_per_s": count / paging.wall,
            "page": Latencies.summary(latencies.by_op.get("page", [])),
            **paging.shares(count, "record"),
        },
        "errors": errors.count,
        "error_samples": errors.samples,
    }
