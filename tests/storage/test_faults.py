"""A database that is unreachable or drops connections (issue 3, Faults)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from support.storage import read, write
from syncstorage.storage import BSOUpdate, UnavailableError
from syncstorage.storage.sql import SQLStorage


@pytest.fixture
def layout_name() -> str:
    return "unsharded"  # connection handling does not depend on the table layout


def unreachable_url(database_url: str, tmp_path) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path}"  # a directory cannot be opened as a database
    return url.set(port=1).render_as_string(hide_password=False)  # nothing listens there


def test_unreachable_database_is_unavailable(database_url, tmp_path):
    storage = SQLStorage(unreachable_url(database_url, tmp_path), database_timeout=2)
    try:
        with pytest.raises(UnavailableError):
            storage.ping()
        with pytest.raises(UnavailableError):
            with storage.session(1, "bookmarks", write=True) as session:
                session.set_items([BSOUpdate("a")])
        with pytest.raises(UnavailableError):
            with storage.session(1) as session:
                session.storage_timestamp()
    finally:
        storage.close()


# How a second session cuts one connection of the server: the way an
# operator restart or a network failure would.
_OWN_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


def test_killed_connection_mid_request_then_recovery(storage, backend_name):
    if backend_name == "sqlite":
        pytest.skip("SQLite has no server connection to lose")
    storage.ping()
    killer = sa.create_engine(storage.url, poolclass=sa.pool.NullPool)
    try:
        with pytest.raises(UnavailableError):
            with storage.session(1, "bookmarks", write=True) as session:
                session.set_items([BSOUpdate("lost", payload="x")])
                own_id = session.conn.exec_driver_sql(_OWN_ID[backend_name]).scalar()
                with killer.connect() as conn:
                    conn.exec_driver_sql(_KILL[backend_name].format(int(own_id)))
                session.set_items([BSOUpdate("after-kill")])
        # the next requests recover by themselves, and nothing half-written stays
        storage.ping()
        write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("next", payload="y")]))
        assert read(storage, 1, "bookmarks", lambda s: s.get_item("lost")) is None
        assert read(storage, 1, "bookmarks", lambda s: s.get_item("next")).payload == "y"
    finally:
        killer.dispose()


def test_all_pooled_connections_killed(storage, backend_name):
    """A database restart kills every idle pooled connection; the pool's
    health check must replace them without failing a request."""
    if backend_name == "sqlite":
        pytest.skip("SQLite has no server connection to lose")
    ids = []
    with storage.engine.connect() as first, storage.engine.connect() as second:
        ids = [c.exec_driver_sql(_OWN_ID[backend_name]).scalar() for c in (first, second)]
    killer = sa.create_engine(storage.url, poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            for own_id in ids:
                conn.exec_driver_sql(_KILL[backend_name].format(int(own_id)))
    finally:
        killer.dispose()
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a", payload="ok")]))
    assert read(storage, 1, "bookmarks", lambda s: s.get_item("a")).payload == "ok"


def test_exhausted_pool_is_unavailable_not_a_hang(storage_url):
    storage = SQLStorage(storage_url, pool_size=1, database_timeout=1)  # 1 + 1 overflow
    try:
        with storage.session(1) as first, storage.session(2) as second:
            first.storage_timestamp(), second.storage_timestamp()
            with pytest.raises(UnavailableError):
                with storage.session(3) as third:
                    third.storage_timestamp()
        storage.ping()  # connections came back
    finally:
        storage.close()
