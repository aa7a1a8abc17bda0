"""Moving users between nodes (issue 17, `syncstorage node migrate`): a
source node's database filled with `users` users of `records` records
each (payloads of 300-600 bytes, as Firefox's encrypted ones), a
tokenserver database (SQLite) with both nodes and the users on the
source, then the real command in a child process moves them all: copy,
verification, tokenserver flip. Reported: its own users/s and records/s
(the whole run, verification included) and a count of the rows the
destination then holds.

    ./dev bench --only migrate                                     # SQLite -> SQLite
    ./dev bench --only migrate --migrate-to postgresql://...       # SQLite -> PostgreSQL
    ./dev bench --only migrate --database-url postgresql://... --migrate-to mysql://...

Both databases must be empty (their schema is created here).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.records import RecordFactory
from syncstorage import db
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.schema import nodes, users

FROM_NODE, TO_NODE = "https://node-a.bench.example", "https://node-b.bench.example"
_SUMMARY = re.compile(r"moved (\d+) users \((\d+) records\) .* in ([\d.]+) s: ([\d.]+) users/s, (\d+) records/s")


@dataclass
class Sizes:
    users: int = 100
    records: int = 1_000  # per user
    chunk_size: int = 1_000  # the command's --chunk-size


async def run(sizes: Sizes, workdir: Path, logs: Path, env: dict, source_url: str, dest_url: str) -> dict:
    token_url = f"sqlite:///{workdir / 'migrate-tokens.db'}"
    filled_s = await asyncio.to_thread(_fill, sizes, source_url, dest_url, token_url)
    command = [
        sys.executable, "-m", "syncstorage", "node", "migrate", "--from", FROM_NODE, "--to", TO_NODE,
        "--from-database", source_url, "--to-database", dest_url, "--chunk-size", str(sizes.chunk_size),
    ]
    child_env = dict(env, SYNCSTORAGE_ALLOW_MIGRATION="true", SYNCSTORAGE_TOKENSERVER_DATABASE_URL=token_url,
                     SYNCSTORAGE_DATABASE_URL=source_url)  # fmt: skip
    started = time.monotonic()
    done = await asyncio.to_thread(subprocess.run, command, env=child_env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    Path(f"{logs}-migrate.log").write_text(done.stdout + done.stderr)
    found = _SUMMARY.search(done.stdout)
    expected = sizes.users * sizes.records
    at_destination = await asyncio.to_thread(_rows, dest_url)
    errors = [] if done.returncode == 0 and found else [f"exit {done.returncode}: {(done.stdout + done.stderr)[-500:]}"]
    if at_destination != expected:
        errors.append(f"the destination holds {at_destination} records, not {expected}")
    return {
        "sizes": sizes.__dict__,
        "from": make_backend(source_url),
        "to": make_backend(dest_url),
        "fill_s": filled_s,
        "wall_s": wall,  # the child process, start-up included
        "users_per_s": float(found.group(4)) if found else 0.0,
        "records_per_s": float(found.group(5)) if found else 0.0,
        "records_at_destination": at_destination,
        "errors": len(errors),
        "error_samples": errors,
    }


def make_backend(url: str) -> str:
    return sa.engine.make_url(url).get_backend_name()


def _fill(sizes: Sizes, source_url: str, dest_url: str, token_url: str) -> float:
    started = time.monotonic()
    for url in (source_url, dest_url, token_url):
        migrate.upgrade(url)
    engine = sa.create_engine(db.for_url(token_url, lock_timeout=10)[1])
    source = SQLStorage(source_url)
    factory = RecordFactory(seed=17)
    try:
        admin.add_node(engine, FROM_NODE, sizes.users)
        admin.add_node(engine, TO_NODE, sizes.users)
        with engine.begin() as conn:
            from_id = conn.execute(sa.select(nodes.c.id).where(nodes.c.node == FROM_NODE)).scalar_one()
            conn.execute(sa.insert(users), [
                {"uid": uid, "service": 1, "email": f"{uid:032x}@api.accounts.firefox.com", "generation": 1,
                 "client_state": "", "created_at": 0, "nodeid": from_id, "keys_changed_at": 1}
                for uid in range(1, sizes.users + 1)
            ])  # fmt: skip
        for uid in range(1, sizes.users + 1):
            records = factory.records(sizes.records)
            for start in range(0, len(records), 1000):
                with source.session(uid, "history", write=True) as session:
                    session.set_items(
                        [BSOUpdate(r.id, payload=r.payload, sortindex=r.sortindex) for r in records[start : start + 1000]]
                    )
    finally:
        source.close()
        engine.dispose()
    return time.monotonic() - started


def _rows(url: str) -> int:
    storage = SQLStorage(url)
    try:
        with storage.engine.connect() as conn:
            return sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in storage.tables.bso_tables)
    finally:
        storage.close()
