"""The admin page's harness: the real app (make_client, tests/conftest.py)
with admin_token set, a browser-like sign-in, and tokenserver rows."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from support.web import PUBLIC_URL, SyncClient
from syncstorage.tokenhash import hash_token
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine
from syncstorage.tokenserver.records import now_ms
from syncstorage.tokenserver.schema import users
from syncstorage.tokenserver.store import ensure_service

TOKEN = "the operator's admin token"
# few scrypt rounds: the tests sign in often; the format is the real one
TOKEN_HASH = hash_token(TOKEN, log2_n=4)
ADMIN = PUBLIC_URL + "/admin"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: SyncClient, base: str = ADMIN, token: str = TOKEN):
    """What a browser does: GET the form (it sets the sign-in cookie), POST it."""
    form = client.http.get(base + "/sign-in")
    assert form.status_code == 200, form.text
    return client.http.post(base + "/sign-in", data={"csrf": csrf_of(form.text), "token": token}, follow_redirects=False)


def signed_in(client: SyncClient, base: str = ADMIN) -> str:
    """Sign in; the session's CSRF token (from a page's forms)."""
    response = sign_in(client, base)
    assert response.status_code == 303, response.text
    return csrf_of(client.http.get(base + "/users").text)


@pytest.fixture
def admin_client(make_client, sqlite_url) -> SyncClient:
    return make_client(sqlite_url, admin_token=TOKEN_HASH)


class Tokenserver:
    """Nodes and user records in the server's tokenserver tables."""

    def __init__(self, client: SyncClient) -> None:
        self.engine = make_engine(client.settings.effective_tokenserver_database_url)
        self.service = ensure_service(self.engine).id

    def add_node(self, url: str = PUBLIC_URL, capacity: int = 100, current_load: int = 0) -> None:
        admin.add_node(self.engine, url, capacity, current_load=current_load)

    def add_user(self, uid: int, email: str, node: str = PUBLIC_URL, *, replaced: bool = False) -> None:
        row = admin.find_node(self.engine, node)
        assert row is not None
        with self.engine.begin() as conn:
            conn.execute(sa.insert(users).values(
                uid=uid, service=self.service, email=email, generation=0, client_state="",
                created_at=now_ms(), replaced_at=now_ms() if replaced else None, nodeid=row.id, keys_changed_at=None,
            ))

    def node(self, url: str = PUBLIC_URL) -> sa.Row:
        row = admin.find_node(self.engine, url)
        assert row is not None
        return row

    def current_uids(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(users.c.uid).where(users.c.replaced_at.is_(None))).scalars())


@pytest.fixture
def tokenserver(admin_client):
    ts = Tokenserver(admin_client)
    yield ts
    ts.engine.dispose()
