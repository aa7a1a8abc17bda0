"""Lease rows (db/leases.py): the one-process lock of the server databases,
which, unlike a session lock, holds across the nodes of a Galera cluster."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from syncstorage import db
from syncstorage.db.leases import LEASES, take_lease


@pytest.fixture
def lease_db(database_url):
    dialect, engine = db.create_engine(database_url, lock_timeout=5.0, pool_size=10)
    yield dialect, engine
    engine.dispose()


def test_one_holder_until_released(lease_db):
    dialect, engine = lease_db
    first = take_lease(dialect, engine, "job", 60)
    assert first is not None
    assert take_lease(dialect, engine, "job", 60) is None
    assert take_lease(dialect, engine, "other job", 60) is not None  # names are independent
    first.release()
    again = take_lease(dialect, engine, "job", 60)
    assert again is not None
    again.release()


def test_an_expired_lease_is_taken_over_and_its_release_spares_the_new_holder(lease_db):
    dialect, engine = lease_db
    dead = take_lease(dialect, engine, "job", 0)  # a holder that died: expired at once
    assert dead is not None
    successor = take_lease(dialect, engine, "job", 60)
    assert successor is not None
    dead.release()  # a late release deletes only its own row
    assert take_lease(dialect, engine, "job", 60) is None
    successor.release()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LEASES)).scalar() == 0


def test_racing_takers_get_one_lease(lease_db):
    dialect, engine = lease_db
    start = threading.Barrier(8)

    def take():
        start.wait(10)
        return take_lease(dialect, engine, "job", 60)

    with ThreadPoolExecutor(8) as pool:
        held = [lease for lease in pool.map(lambda _: take(), range(8)) if lease is not None]
    assert len(held) == 1
    held[0].release()


def test_try_lock_of_each_database(lease_db):
    """What migrations and the purge use: a lease on the server databases,
    an flock on SQLite; either way one holder at a time."""
    dialect, engine = lease_db
    held = dialect.try_lock(engine, "job", 60)
    assert held is not None
    assert dialect.try_lock(engine, "job", 60) is None
    held.release()
    held = dialect.try_lock(engine, "job", 60)
    assert held is not None
    held.release()
