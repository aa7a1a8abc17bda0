"""A database of Mozilla's old Python syncserver, built by the tests that
check moving in (issue 5 item 7): server-syncstorage's storage tables and the
tokenserver's `users` table of that era, with their column types."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from syncstorage.timestamps import now_ms

NEVER = 2_100_000_000  # the old MAX_TTL
T0 = 1_600_000_000_000  # ms, a multiple of 10 like every old timestamp
EMAIL = "0123456789abcdef0123456789abcdef@api.accounts.firefox.com"


def old_schema(*, shards: int = 0, keys_changed_at: bool = True, services: bool = True, seconds: bool = False) -> sa.MetaData:
    """The tables as the old server created them (its dbconnector and
    tokenserver's sqlnode schema): INTEGER userid and ttl, BIGINT ms
    timestamps, TEXT payloads, default (case-insensitive on MySQL) collations.
    `seconds`: the versions that kept timestamps as DECIMAL(12,2) seconds."""
    timestamp = sa.Numeric(12, 2) if seconds else sa.BigInteger
    md = sa.MetaData()
    sa.Table("collections", md, sa.Column("collectionid", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(32), nullable=False, unique=True))
    sa.Table("user_collections", md, sa.Column("userid", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("last_modified", timestamp, nullable=False))
    for name in [f"bso{n}" for n in range(shards)] or ["bso"]:
        sa.Table(name, md, sa.Column("userid", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("id", sa.String(64), primary_key=True),
                 sa.Column("sortindex", sa.Integer),
                 sa.Column("modified", timestamp, nullable=False),
                 sa.Column("payload", sa.Text, nullable=False),
                 sa.Column("payload_size", sa.Integer, nullable=False, default=0),
                 sa.Column("ttl", sa.Integer, nullable=False, default=NEVER),
                 sa.Index(f"{name}_ttl_idx", "ttl"),
                 sa.Index(f"{name}_usr_col_mdf_idx", "userid", "collection", "modified"))
    sa.Table("batch_uploads", md, sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
             sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
             sa.Column("collection", sa.Integer, nullable=False))
    sa.Table("batch_upload_items", md, sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
             sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
             sa.Column("id", sa.String(64), primary_key=True), sa.Column("sortindex", sa.Integer),
             sa.Column("payload", sa.Text), sa.Column("payload_size", sa.Integer), sa.Column("ttl_offset", sa.Integer))
    if services:
        sa.Table("services", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("service", sa.String(30), unique=True), sa.Column("pattern", sa.String(128)))
        sa.Table("nodes", md, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("service", sa.Integer, nullable=False),
                 sa.Column("node", sa.String(64), nullable=False), sa.Column("available", sa.Integer, nullable=False),
                 sa.Column("current_load", sa.Integer, nullable=False), sa.Column("capacity", sa.Integer, nullable=False),
                 sa.Column("downed", sa.Integer, nullable=False), sa.Column("backoff", sa.Integer, nullable=False))
    sa.Table("users", md, sa.Column("uid", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
             sa.Column("service", sa.Integer, nullable=False), sa.Column("email", sa.String(255), nullable=False),
             sa.Column("generation", sa.BigInteger, nullable=False), sa.Column("client_state", sa.String(32), nullable=False),
             sa.Column("created_at", sa.BigInteger, nullable=False), sa.Column("replaced_at", sa.BigInteger),
             sa.Column("nodeid", sa.BigInteger, nullable=False),
             *([sa.Column("keys_changed_at", sa.BigInteger)] if keys_changed_at else []))
    return md


def build_old_database(url: str, *, standard_collections: bool = False, **layout) -> dict:
    """Fill an old-schema database; returns what the test expects back."""
    md = old_schema(**layout)
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    md.create_all(engine)
    t = md.tables

    def stored(ms: int):  # a timestamp as the old version kept it
        return Decimal(ms) / 1000 if layout.get("seconds") else ms

    # Without standard_collections the old server numbered collections as
    # they first appeared; with it, ids 1-13 were fixed in code, not rows.
    if standard_collections:
        ids = {"meta": 6, "crypto": 2, "bookmarks": 7, "tabs": 9}
        names = [{"collectionid": 99, "name": ""}, {"collectionid": 100, "name": "greasemonkey"}]
        ids["greasemonkey"] = 100
    else:
        ids = {"meta": 1, "crypto": 2, "bookmarks": 3, "tabs": 4, "greasemonkey": 5}
        names = [{"collectionid": cid, "name": name} for name, cid in ids.items()]
    now_s = now_ms() // 1000
    items = {  # uid -> collection -> [(id, sortindex, modified, payload, ttl)]
        3: {"bookmarks": [("old", None, T0, "from before the key change", NEVER)]},
        5: {
            "meta": [("global", None, T0 + 10, '{"syncID":"abc","storageVersion":5}', NEVER)],
            "crypto": [("keys", None, T0 + 10, '{"ciphertext":"k"}', NEVER)],
            "bookmarks": [
                ("menu", 100, T0 + 20, "é✓ unicode", NEVER),
                ("toolbar", -5, T0 + 30, "negative sortindex", NEVER),
                ("soon", 7, T0 + 40, "expires in an hour", now_s + 3600),
                ("gone", 1, T0 + 50, "expired", now_s - 100),
            ],
            "greasemonkey": [("script", None, T0 + 60, "custom collection", NEVER)],
        },
        6: {"tabs": [("laptop", None, T0 + 70, "tabs", now_s + 7 * 86400)]},
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(t["collections"]), names)
        for uid, by_collection in items.items():
            bso = t[f"bso{uid % layout['shards']}" if layout.get("shards") else "bso"]
            for collection, rows in by_collection.items():
                conn.execute(sa.insert(bso), [
                    {"userid": uid, "collection": ids[collection], "id": i, "sortindex": s, "modified": stored(m),
                     "payload": p, "payload_size": len(p), "ttl": ttl} for i, s, m, p, ttl in rows])
                conn.execute(sa.insert(t["user_collections"]).values(
                    userid=uid, collection=ids[collection], last_modified=stored(max(r[2] for r in rows))))
        # an item of a collection id nothing names (left by a failed write),
        # and an unfinished batch. Numbered by first appearance, 12 is no
        # standard id (it would be `addresses`): it stays an orphan.
        orphan = 42 if standard_collections else 12
        conn.execute(sa.insert(t["bso3" if layout.get("shards") else "bso"]).values(
            userid=6, collection=orphan, id="orphan", modified=stored(T0), payload="?", payload_size=1, ttl=NEVER))
        conn.execute(sa.insert(t["user_collections"]).values(userid=6, collection=orphan, last_modified=stored(T0)))
        conn.execute(sa.insert(t["batch_uploads"]).values(batch=T0 + 5, userid=5, collection=ids["bookmarks"]))
        if layout.get("services", True):
            conn.execute(sa.insert(t["services"]), [{"id": 1, "service": "sync-1.1", "pattern": "x"},
                                                   {"id": 2, "service": "sync-1.5", "pattern": "{node}/1.5/{uid}"}])
            conn.execute(sa.insert(t["nodes"]).values(id=1, service=2, node="http://old.example:5000", available=1,
                                                      current_load=3, capacity=100, downed=0, backoff=0))
        extra = {"keys_changed_at": T0} if layout.get("keys_changed_at", True) else {}
        user_rows = [
            {"uid": 3, "email": EMAIL, "generation": T0 - 1000, "client_state": "aaaa", "created_at": T0 - 1000, "replaced_at": T0, **extra},
            {"uid": 5, "email": EMAIL, "generation": T0, "client_state": "bbbb", "created_at": T0, "replaced_at": None, **extra},
            {"uid": 6, "email": "fedcba@api.accounts.firefox.com", "generation": 0, "client_state": "", "created_at": T0, "replaced_at": None, **extra},
        ]
        if layout.get("services", True):
            user_rows.append({"uid": 9, "email": "legacy@example.com", "generation": 0, "client_state": "", "created_at": T0, "replaced_at": None, "service": 1, **extra})
        conn.execute(sa.insert(t["users"]), [{"service": 2, "nodeid": 1, **row} for row in user_rows])
    engine.dispose()
    return items
