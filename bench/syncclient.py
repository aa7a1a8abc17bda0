"""A Firefox-like sync client that checks every answer it gets.

Each method sends the requests a Firefox client sends for one sync step,
times them (signing excluded), and compares status codes, counts, ids and
payloads with what it wrote. Every mismatch counts as an error.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import httptools
import orjson

from bench.httpclient import Connection, ConnectionClosed, Response
from bench.records import Record, encode_batch
from bench.stats import Errors, Latencies
from bench.users import User
from syncstorage.timestamps import format_ms

JSON = "Content-Type: application/json\r\n"
MAX_POST_RECORDS = 100  # storage-api §0 defaults, as /info/configuration advertises
MAX_TOTAL_RECORDS = 10_000
_BSO_KEYS = {"id", "modified", "payload", "sortindex"}


def seconds_to_ms(value: float) -> int:
    """A two-decimal JSON number of seconds as integer ms (exact for 2 decimals)."""
    return round(value * 100) * 10


def prepare_upload(records: list[Record]) -> list[list[tuple[list[Record], bytes]]]:
    """Split records as Firefox does: batches of at most max_total_records,
    POSTs of at most max_post_records; bodies encoded ahead of time so the
    timed phase spends the generator's CPU on HTTP only."""
    posts = [
        (records[i : i + MAX_POST_RECORDS], encode_batch(records[i : i + MAX_POST_RECORDS]))
        for i in range(0, len(records), MAX_POST_RECORDS)
    ]
    per_batch = MAX_TOTAL_RECORDS // MAX_POST_RECORDS
    return [posts[i : i + per_batch] for i in range(0, len(posts), per_batch)]


class SyncClient:
    def __init__(
        self, user: User, connection: Connection, latencies: Latencies, errors: Errors
    ) -> None:
        self.user = user
        self.connection = connection
        self.records_committed = 0  # by upload(): records the server accepted and committed
        self.latencies = latencies
        self.errors = errors
        self.base = f"/1.5/{user.uid}"

    def close(self) -> None:
        self.connection.close()

    async def send(
        self, op: str, method: str, path: str, query: str = "", headers: str = "", body=None
    ) -> Response | None:
        target = f"{self.base}{path}?{query}" if query else f"{self.base}{path}"
        head = self.user.authorization(method, target) + headers
        if body is not None:
            head += JSON
        start = time.perf_counter()
        try:
            response = await self.connection.request(method, target, head, body)
        except (OSError, ConnectionClosed, httptools.HttpParserError) as exc:
            self.errors.add(f"{op} {method} {target}: {exc!r}")
            return None
        self.latencies.add(op, time.perf_counter() - start)
        return response

    def expect(self, response: Response | None, op: str, *statuses: int) -> bool:
        if response is None:
            return False
        return self.errors.check(
            response.status in statuses,
            f"{op}: status {response.status}, expected {statuses}: {response.body[:200]!r}",
        )

    # --- uploads ---------------------------------------------------------------

    async def upload(self, collection: str, batches, since: int, op: str = "upload") -> int:
        """Batched upload (storage-api §9.4) of prepared POSTs, each commit
        guarded by X-If-Unmodified-Since. Sets `modified` on the records and
        returns the collection's new timestamp (`since` if nothing committed)."""
        path = f"/storage/{collection}"
        for posts in batches:
            guard = f"X-If-Unmodified-Since: {format_ms(since)}\r\n"
            batch_id = None
            for index, (records, body) in enumerate(posts):
                last = index == len(posts) - 1
                if batch_id is None:
                    query = "batch=true&commit=true" if last else "batch=true"
                else:
                    query = f"batch={quote(batch_id, safe='')}" + ("&commit=true" if last else "")
                response = await self.send(op, "POST", path, query, guard, body)
                if not self.expect(response, op, 200 if last else 202):
                    return since
                answer = orjson.loads(response.body)
                ids = [r.id for r in records]
                self.errors.check(
                    answer.get("success") == ids and answer.get("failed") == {},
                    f"{op}: success/failed do not list the {len(ids)} ids sent: {response.body[:200]!r}",
                )
                if last:
                    since = seconds_to_ms(answer["modified"])
                    for staged, _ in posts:
                        self.records_committed += len(staged)
                        for record in staged:
                            record.modified = since
                elif batch_id is None:
                    batch_id = answer.get("batch")
                    if not self.errors.check(isinstance(batch_id, str), f"{op}: no batch id"):
                        return since
                else:
                    self.errors.check(answer.get("batch") == batch_id, f"{op}: batch id changed")
        return since

    # --- downloads -------------------------------------------------------------

    async def download(
        self,
        collection: str,
        expected: list[Record],
        sort: str | None,
        limit: int,
        since: int,
        op: str = "download",
    ) -> int:
        """Page through the whole collection with `full=1&limit=` as Firefox
        does, guarded by X-If-Unmodified-Since; checks every record against
        `expected` (already in the order `sort` gives). Returns records seen."""
        base_query = f"full=1&limit={limit}" + (f"&sort={sort}" if sort else "")
        guard = f"X-If-Unmodified-Since: {format_ms(since)}\r\n"
        position = 0
        offset = None
        while True:
            query = base_query + (f"&offset={quote(offset, safe='')}" if offset else "")
            response = await self.send(op, "GET", f"/storage/{collection}", query, guard)
            if not self.expect(response, op, 200):
                return position
            items = orjson.loads(response.body)
            self.check_records(op, items, expected[position : position + limit])
            position += len(items)
            self.errors.check(
                response.header(b"x-weave-records") == str(len(items)),
                f"{op}: X-Weave-Records {response.header(b'x-weave-records')} for {len(items)} items",
            )
            offset = response.header(b"x-weave-next-offset")
            if offset is None:
                break
            if not self.errors.check(items != [], f"{op}: empty page with a next offset"):
                break
        self.errors.check(
            position == len(expected), f"{op}: got {position} records, expected {len(expected)}"
        )
        return position

    def check_records(self, op: str, items: list, expected: list[Record]) -> None:
        """Compare returned BSOs with the expected ones, in order."""
        if not self.errors.check(
            len(items) == len(expected), f"{op}: {len(items)} records, expected {len(expected)}"
        ):
            return
        for item, want in zip(items, expected):
            if not (
                item.keys() <= _BSO_KEYS
                and item.get("id") == want.id
                and item.get("payload") == want.payload
                and item.get("sortindex") == want.sortindex
                and seconds_to_ms(item.get("modified", -1)) == want.modified
            ):
                self.errors.add(f"{op}: record {str(item)[:150]} differs from {want.id}")
