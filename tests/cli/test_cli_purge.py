"""`syncstorage purge` on each real database: expired rows and stale batches
go, live rows stay, the work is done in bounded passes that are reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from support.server import run_cli, server_environment, start_server
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.schema import BATCH_LIFETIME_MS, MAX_TTL
from syncstorage.timestamps import now_ms

GRACE = 3600
EXPIRED = 2500  # with --batch-size 1000: passes of 1000, 1000, 500


@pytest.fixture
def env(database_url, tmp_path):
    env = server_environment(database_url=database_url, data_dir=str(tmp_path / "data"))
    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    return env


@pytest.fixture
def storage(database_url, env):
    storage = SQLStorage(database_url)
    yield storage
    storage.close()


def seed(storage: SQLStorage) -> None:
    """Rows in every state the purge must tell apart, written straight into
    the tables (the API cannot make rows that expired long ago)."""
    now_s = now_ms() // 1000
    bso = storage.tables.bso_tables[0]

    def rows(prefix, count, ttl):
        return [
            {"userid": 1, "collection": 4, "id": f"{prefix}{i}", "modified": now_ms(), "payload": "x", "payload_size": 1, "ttl": ttl}
            for i in range(count)
        ]

    stale = now_ms() - BATCH_LIFETIME_MS - (GRACE + 100) * 1000
    fresh = now_ms() - 1000
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(bso), rows("live", 5, MAX_TTL))
        conn.execute(sa.insert(bso), rows("later", 3, now_s + 3600))
        conn.execute(sa.insert(bso), rows("ingrace", 2, now_s - 100))
        conn.execute(sa.insert(bso), rows("expired", EXPIRED, now_s - GRACE - 100))
        batches, items = storage.tables.batch_uploads, storage.tables.item_tables[0]
        for batch in (stale, stale + 1, fresh):
            conn.execute(sa.insert(batches).values(batch=batch, userid=1, collection=4))
            conn.execute(sa.insert(items), [{"batch": batch, "userid": 1, "id": f"s{i}", "payload": "y"} for i in range(4)])


def remaining(storage: SQLStorage) -> dict[str, int]:
    bso, batches, items = storage.tables.bso_tables[0], storage.tables.batch_uploads, storage.tables.item_tables[0]
    with storage.engine.connect() as conn:
        ids = [row.id for row in conn.execute(sa.select(bso.c.id))]
        return {
            "live": sum(i.startswith(("live", "later", "ingrace")) for i in ids),
            "expired": sum(i.startswith("expired") for i in ids),
            "batches": conn.execute(sa.select(sa.func.count()).select_from(batches)).scalar_one(),
            "items": conn.execute(sa.select(sa.func.count()).select_from(items)).scalar_one(),
        }


def test_purge_deletes_expired_and_stale_in_bounded_passes(env, storage):
    seed(storage)
    result = run_cli("purge", "--grace", str(GRACE), "--batch-size", "1000", env=env)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line)["message"] for line in result.stderr.splitlines()]  # JSON: not a terminal
    passes = [message for message in messages if message.startswith("pass ")]
    assert len(passes) == 3
    assert "pass 1 deleted 1000 expired items, 2 stale batches, 8 staged batch items" in passes[0]
    assert "pass 2 deleted 1000 expired items, 0 stale batches" in passes[1]
    assert "pass 3 deleted 500 expired items" in passes[2]
    assert f"purge done: 3 passes in" in result.stderr
    assert f"deleted {EXPIRED} expired items, 2 stale batches, 8 staged batch items" in result.stderr
    assert remaining(storage) == {"live": 10, "expired": 0, "batches": 1, "items": 4}

    again = run_cli("purge", "--grace", str(GRACE), env=env)
    assert "purge done: 1 passes" in again.stderr
    assert remaining(storage) == {"live": 10, "expired": 0, "batches": 1, "items": 4}
    # both runs recorded for the admin page, newest first
    runs = storage.purge_runs()
    assert [(r.expired_items, r.stale_batches, r.stale_batch_items, r.source) for r in runs] == [
        (0, 0, 0, "command"), (EXPIRED, 2, 8, "command")]


def test_grace_zero_also_takes_rows_in_grace(env, storage):
    seed(storage)
    assert run_cli("purge", "--grace", "0", env=env).returncode == 0
    assert remaining(storage)["live"] == 8


def test_dry_run_counts_and_deletes_nothing(env, storage):
    seed(storage)
    before = remaining(storage)
    result = run_cli("purge", "--dry-run", "--grace", str(GRACE), env=env)
    assert result.returncode == 0, result.stderr
    assert f"would delete {EXPIRED} expired items, 2 stale batches, 8 staged batch items" in result.stderr
    assert remaining(storage) == before


def test_purge_refuses_a_database_without_schema(tmp_path):
    env = server_environment(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    result = run_cli("purge", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("run `syncstorage db upgrade`")


def test_interval_repeats_until_stopped(env, storage, tmp_path):
    seed(storage)
    log_path = tmp_path / "purge.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncstorage", "purge", "--interval", "1", "--grace", str(GRACE)],
            env=env, stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while log_path.read_text().count("purge done") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log_path.read_text().count("purge done") >= 2
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert remaining(storage)["expired"] == 0


def test_progress_bar_on_a_terminal(sqlite_url, tmp_path):
    env = server_environment(database_url=sqlite_url)
    assert run_cli("db", "upgrade", env=env).returncode == 0
    storage = SQLStorage(sqlite_url)
    seed(storage)
    primary, secondary = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "syncstorage", "purge", "--grace", str(GRACE), "--batch-size", "500"],
        env={**env, "COLUMNS": "100", "TERM": "xterm"}, stderr=secondary, stdout=subprocess.DEVNULL,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=30) == 0
    os.close(primary)
    text = output.decode(errors="replace")
    assert "purge done: 6 passes" in text  # 5 full passes of 500, one finding none
    assert " pass 1 deleted" not in text  # the bar replaces the per-pass lines
    assert "purging" in text
    assert remaining(storage)["expired"] == 0
    storage.close()


def test_background_purge_inside_serve(database_url, tmp_path):
    server = start_server(tmp_path / "data", database_url=database_url, master_secret="s" * 32, purge_interval="1")
    storage = SQLStorage(database_url)
    try:
        seed(storage)  # the server created the schema at start
        bso = storage.tables.bso_tables[0]
        two_days_ago = now_ms() // 1000 - 2 * 86400  # beyond the default grace of a day
        with storage.engine.begin() as conn:
            conn.execute(sa.update(bso).where(bso.c.id.like("expired%")).values(ttl=two_days_ago))
        deadline = time.monotonic() + 30
        while remaining(storage)["expired"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert remaining(storage)["expired"] == 0
        assert remaining(storage)["live"] == 10
        assert "background purge every 1 s" in server.log()
    finally:
        storage.close()
        server.stop()
    assert "background purge deleted" in server.log()
