"""A move's mark and the writes in flight (storage/sql/moves.py): a write
that started before the mark commits before the mark does, so the copy
made after the mark has it; a write after the mark is refused."""

from __future__ import annotations

import threading

import pytest

from syncstorage.storage import BSOUpdate, UserMigrating
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.moves import mark_moving, user_digest

FXA_UID = "c" * 32


@pytest.fixture
def guarded(storage_url, layout):
    """The serving node's storage, with allow_migration on."""
    storage = SQLStorage(storage_url, **layout, allow_migration=True)
    yield storage
    storage.close()


def test_a_write_in_flight_commits_before_the_mark(guarded, storage_url, layout):
    events: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def write() -> None:
        with guarded.session(1, "bookmarks", write=True, fxa_uid=FXA_UID) as s:
            s.set_items([BSOUpdate("in-flight", payload="kept")])
            inside.set()
            release.wait(30)
        events.append("write committed")

    migrator = SQLStorage(storage_url, **layout)
    try:
        writer = threading.Thread(target=write)
        writer.start()
        assert inside.wait(30)

        def mark() -> None:
            mark_moving(migrator, FXA_UID)
            events.append("marked")

        marker = threading.Thread(target=mark)
        marker.start()
        marker.join(1.0)  # a mark that does not wait for the write ends here
        release.set()
        writer.join(30)
        marker.join(30)
        assert events == ["write committed", "marked"]
        assert user_digest(migrator, 1, 100).rows == {"bookmarks": 1}  # what the copy reads

        with pytest.raises(UserMigrating):
            with guarded.session(1, "bookmarks", write=True, fxa_uid=FXA_UID) as s:
                s.set_items([BSOUpdate("late", payload="refused")])
        with pytest.raises(UserMigrating):
            with guarded.session(1, None, write=True, fxa_uid=FXA_UID) as s:
                s.delete_storage()
        assert user_digest(migrator, 1, 100).rows == {"bookmarks": 1}
        with guarded.session(2, "bookmarks", write=True, fxa_uid="d" * 32) as s:
            s.set_items([BSOUpdate("other user", payload="fine")])
    finally:
        release.set()
        migrator.close()
