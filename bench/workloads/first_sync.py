"""First sync: many users upload their whole profile at once, then a second
device of each downloads everything (issue 6, "first sync")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.records import RecordFactory, by_index, newest_first
from bench.stats import CpuWindow, Errors, Latencies
from bench.syncclient import SyncClient, prepare_upload
from bench.target import Target


@dataclass
class Sizes:
    users: int = 20
    bookmarks: int = 2_000
    history: int = 5_000
    page: int = 1_000  # limit= of the downloading client


# Firefox downloads bookmarks and history ordered by sortindex.
COLLECTIONS = (("bookmarks", "index"), ("history", "index"))


async def run(target: Target, sizes: Sizes) -> dict:
    latencies, errors = Latencies(), Errors()
    uploaders = target.clients(sizes.users, latencies, errors)
    factory = RecordFactory(seed=1)
    profiles = [
        {"bookmarks": factory.records(sizes.bookmarks), "history": factory.records(sizes.history)}
        for _ in uploaders
    ]
    uploads = [{name: prepare_upload(recs) for name, recs in p.items()} for p in profiles]
    timestamps: list[dict[str, int]] = [{} for _ in uploaders]

    async def upload(i: int) -> None:
        for name, _ in COLLECTIONS:
            timestamps[i][name] = await uploaders[i].upload(name, uploads[i][name], 0)

    with CpuWindow(target.server) as up:
        await asyncio.gather(*(upload(i) for i in range(len(uploaders))))
    for client in uploaders:
        client.close()

    # The second device: same user, a new connection.
    down_latencies = Latencies()
    downloaders = [SyncClient(c.user, target.connection(), down_latencies, errors) for c in uploaders]
    expected = [
        {name: (by_index if sort == "index" else newest_first)(p[name]) for name, sort in COLLECTIONS}
        for p in profiles
    ]

    async def download(i: int) -> int:
        count = 0
        for name, sort in COLLECTIONS:
            count += await downloaders[i].download(
                name, expected[i][name], sort, sizes.page, timestamps[i][name]
            )
        return count

    with CpuWindow(target.server) as down:
        counts = await asyncio.gather(*(download(i) for i in range(len(downloaders))))
    for client in downloaders:
        client.close()

    # Only what the server committed counts (a failed batch is an error above).
    records = sum(client.records_committed for client in uploaders)
    return {
        "sizes": sizes.__dict__,
        "upload": {
            "records": records,
            "records_per_s": records / up.wall,
            "post": Latencies.summary(latencies.all()),
            **up.shares(records, "record"),
        },
        "download": {
            "records": sum(counts),
            "records_per_s": sum(counts) / down.wall,
            "page": Latencies.summary(down_latencies.all()),
            **down.shares(sum(counts), "record"),
        },
        "errors": errors.count,
        "error_samples": errors.samples,
    }
