"""Two storage nodes' databases and a tokenserver database, for the tests of
`syncstorage node migrate` (docs/fleet.md "Moving users between nodes")."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from support.cli import invoke
from syncstorage import db
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.schema import nodes, users

NODE_A = "https://a.example"
NODE_B = "https://b.example"
EMAIL_DOMAIN = "api.accounts.firefox.com"
BSO_COLUMNS = ("id", "sortindex", "modified", "payload", "payload_size", "ttl")


def fxa_uid(uid: int) -> str:
    return f"{uid:032x}"


@dataclass
class Nodes:
    source_url: str
    dest_url: str
    token_url: str

    def migrate(self, *args: str):
        """`syncstorage node migrate --from A --to B ARGS` on these databases."""
        return invoke(
            self.source_url, "node", "migrate", "--from", NODE_A, "--to", NODE_B,
            "--from-database", self.source_url, "--to-database", self.dest_url, *args,
            allow_migration="true", tokenserver_database_url=self.token_url,
        )

    def token_engine(self) -> sa.Engine:
        return sa.create_engine(db.for_url(self.token_url, lock_timeout=10)[1])

    def add_user(self, uid: int, node: str = NODE_A) -> None:
        engine = self.token_engine()
        try:
            with engine.begin() as conn:
                node_id = conn.execute(sa.select(nodes.c.id).where(nodes.c.node == node)).scalar_one()
                conn.execute(
                    sa.insert(users).values(
                        uid=uid, service=1, email=f"{fxa_uid(uid)}@{EMAIL_DOMAIN}", generation=1,
                        client_state="aaaa", created_at=1, nodeid=node_id, keys_changed_at=1,
                    )
                )
                conn.execute(sa.update(nodes).where(nodes.c.id == node_id).values(current_load=nodes.c.current_load + 1))
        finally:
            engine.dispose()

    def node_of(self) -> dict[int, str]:
        """uid -> node URL of every current user."""
        engine = self.token_engine()
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(users.c.uid, nodes.c.node).join(nodes, users.c.nodeid == nodes.c.id).where(users.c.replaced_at.is_(None))
                ).all()
        finally:
            engine.dispose()
        return dict(rows)


def make_nodes(source_url: str, dest_url: str, token_url: str) -> Nodes:
    for url in (source_url, dest_url, token_url):
        migrate.upgrade(url)
    engine = sa.create_engine(db.for_url(token_url, lock_timeout=10)[1])
    try:
        admin.add_node(engine, NODE_A, 100)
        admin.add_node(engine, NODE_B, 100)
    finally:
        engine.dispose()
    return Nodes(source_url, dest_url, token_url)


def fill(storage: SQLStorage, uid: int, records: int = 30) -> None:
    """Records of every kind a move must keep: sortindex or none, a ttl, an
    expired one not purged yet, a custom collection, a deleted collection
    (the tombstone), unicode payloads."""
    with storage.session(uid, "bookmarks", write=True) as s:
        s.set_items([BSOUpdate(f"b{n:04}", payload=f"bookmark {n} ✓", sortindex=n % 7 if n % 3 else None) for n in range(records)])
    with storage.session(uid, "history", write=True) as s:
        s.set_items([BSOUpdate(f"h{n}", payload="h" * n, ttl=3600 + n) for n in range(records)])
        s.set_items([BSOUpdate("gone", payload="expired", ttl=0)])
    with storage.session(uid, f"custom-{uid % 2}", write=True) as s:
        s.set_items([BSOUpdate("c", payload="custom")])
    with storage.session(uid, "forms", write=True) as s:
        s.set_items([BSOUpdate("f", payload="form")])
    with storage.session(uid, "forms", write=True) as s:
        s.delete_collection()


def user_rows(storage: SQLStorage, uid: int) -> tuple[dict, dict]:
    """({collection name: sorted bso rows}, {collection name: last_modified}),
    tombstone as "", read straight from the tables."""
    t = storage.tables
    bso = t.bso_for(uid)
    with storage.engine.connect() as conn:
        names = dict(conn.execute(sa.select(t.collections.c.collectionid, t.collections.c.name)).all())
        names[0] = ""
        rows: dict[str, list] = {}
        for row in conn.execute(sa.select(bso.c.collection, *(bso.c[c] for c in BSO_COLUMNS)).where(bso.c.userid == uid)):
            rows.setdefault(names[row[0]], []).append(tuple(row[1:]))
        stamps = {
            names[cid]: modified
            for cid, modified in conn.execute(
                sa.select(t.user_collections.c.collection, t.user_collections.c.last_modified).where(t.user_collections.c.userid == uid)
            )
        }
    return {name: sorted(r) for name, r in rows.items()}, stamps


def migration_states(storage: SQLStorage) -> dict[str, int]:
    m = storage.tables.migration
    with storage.engine.connect() as conn:
        return dict(conn.execute(sa.select(m.c.fxa_uid, m.c.state).where(m.c.fxa_uid != "")).all())
