"""Helpers for the tokenserver tests: settings and a tokenserver app on a
real database, talking to the mock accounts server."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from starlette.testclient import TestClient

from syncstorage.auth.hawk import hawk_header
from syncstorage.settings import Settings
from syncstorage.storage.sql import migrate
from syncstorage.app import create_app
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine
from syncstorage.tokenserver.schema import nodes, users

SECRET = "correct horse battery staple"
NODE = "https://node-a.example.org"
FXA_UID = "0123456789abcdef0123456789abcdef"


def create_tables(database_url: str) -> None:
    migrate.upgrade(database_url)


def make_settings(database_url: str, fxa_url: str, **overrides) -> Settings:
    values = {
        "public_url": "http://127.0.0.1:8000",
        "database_url": database_url,
        "master_secret": [SECRET],
        "fxa_oauth_server_url": fxa_url,
        **overrides,
    }
    return Settings(**values)


class TokenserverUnderTest:
    """A tokenserver-only server (create_app with storage_enabled off) in-process,
    on a real database, talking to the mock FxA."""

    def __init__(self, settings: Settings, node_capacities: dict[str, int]) -> None:
        create_tables(settings.effective_tokenserver_database_url)
        self.settings = settings.model_copy(update={"storage_enabled": False})
        self.app = create_app(self.settings)
        origin = "/".join(settings.effective_public_url.split("/")[:3])  # no path prefix
        self.client = TestClient(self.app, base_url=origin)
        self.client.__enter__()
        self.engine: sa.Engine = make_engine(settings.effective_tokenserver_database_url)
        for url, capacity in node_capacities.items():
            admin.add_node(self.engine, url, capacity)

    def get(self, bearer: str | None, key_id: str | None = "1234-qqo", path: str = "/1.0/sync/1.5", **headers):
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        if key_id is not None:
            headers["X-KeyID"] = key_id
        return self.client.get(path, headers=headers)

    def users(self) -> list[sa.Row]:
        with self.engine.begin() as conn:
            return conn.execute(sa.select(users).order_by(users.c.uid)).all()

    def nodes(self) -> dict[str, sa.Row]:
        with self.engine.begin() as conn:
            return {row.node: row for row in conn.execute(sa.select(nodes)).all()}

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.dispose()




class Hawk(httpx.Auth):
    """Signs requests with the tokenserver's id/key, over the raw path, as Firefox does."""

    def __init__(self, credentials: dict) -> None:
        self.id, self.key = credentials["id"], credentials["key"]

    def auth_flow(self, request: httpx.Request):
        url = request.url
        signed = f"{url.scheme}://{url.netloc.decode('ascii')}{url.raw_path.decode('ascii')}"
        request.headers["Authorization"] = hawk_header(request.method, signed, self.id, self.key)
        yield request
