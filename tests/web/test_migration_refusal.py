"""The migration 503 (storage-model §9): with allow_migration on, a user
the `migration` table marks is refused on every storage endpoint with
Retry-After 300 and body 0, other users are served; with it off the table
is never read."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from support.web import PUBLIC_URL, SECRET, HawkAuth
from syncstorage.auth import derived_secret, make_token
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.moves import MOVED, mark_moving, set_state

MOVING_FXA_UID, OTHER_FXA_UID = "a" * 32, "b" * 32
REQUESTS = [
    ("GET", "/info/collections"),
    ("GET", "/info/configuration"),
    ("GET", "/info/quota"),
    ("GET", "/info/collection_counts"),
    ("GET", "/storage/bookmarks?full=1"),
    ("GET", "/storage/bookmarks/b1"),
    ("PUT", "/storage/bookmarks/b2"),
    ("POST", "/storage/bookmarks"),
    ("DELETE", "/storage/bookmarks/b1"),
    ("DELETE", "/storage"),
]


def auth(uid: int, fxa_uid: str) -> HawkAuth:
    token = make_token({"uid": uid, "node": PUBLIC_URL, "fxa_uid": fxa_uid, "fxa_kid": "k"}, SECRET, duration=3600)
    return HawkAuth(token, derived_secret(token, SECRET))


def send(client, uid: int, fxa_uid: str, method: str, path: str):
    body = {"json": [{"id": "b3", "payload": "x"}]} if method == "POST" else {"json": {"payload": "x"}} if method == "PUT" else {}
    return client.request(method, f"{PUBLIC_URL}/1.5/{uid}{path}", auth=auth(uid, fxa_uid), **body)


def test_a_moving_user_is_refused_everywhere_and_others_are_served(database_url, make_client):
    client = make_client(database_url, allow_migration=True)
    for uid, fxa_uid in ((1, MOVING_FXA_UID), (2, OTHER_FXA_UID)):
        assert send(client, uid, fxa_uid, "PUT", "/storage/bookmarks/b1").status_code == 200
    storage = SQLStorage(database_url)
    try:
        mark_moving(storage, MOVING_FXA_UID)
        for state in ("moving", "moved"):
            for method, path in REQUESTS:
                refused = send(client, 1, MOVING_FXA_UID, method, path)
                assert (refused.status_code, refused.headers.get("retry-after"), refused.text) == (503, "300", "0"), (state, method, path)
                assert send(client, 2, OTHER_FXA_UID, "GET", "/info/collections").status_code == 200
            set_state(storage, MOVING_FXA_UID, MOVED)  # the old node keeps refusing the user
        for method, path in REQUESTS:
            assert send(client, 2, OTHER_FXA_UID, method, path).status_code in (200, 404), (method, path)
    finally:
        storage.close()


@pytest.mark.parametrize("allow_migration", [False, True])
def test_the_table_is_not_read_when_allow_migration_is_off(database_url, make_client, allow_migration):
    """Without the table every request still succeeds: nothing reads it.
    (With allow_migration on, the same requests fail: the check is real.)"""
    client = make_client(database_url, allow_migration=allow_migration)
    storage = SQLStorage(database_url)
    try:
        with storage.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE migration"))
    finally:
        storage.close()
    statuses = {send(client, 1, MOVING_FXA_UID, method, path).status_code for method, path in REQUESTS}
    if allow_migration:
        assert 200 not in statuses
    else:
        assert statuses <= {200, 404}
