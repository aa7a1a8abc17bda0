"""The tokenserver tables: the migration creates exactly schema.py, in
Mozilla's column order, on every database (auth-and-tokens §8)."""

from __future__ import annotations

import sqlalchemy as sa

from support.schema import migrated_schema_diff
from syncstorage.storage.sql import migrate
from syncstorage.tokenserver.db import make_engine
from syncstorage.tokenserver.store import ensure_node, ensure_service
from syncstorage.tokenserver.schema import metadata

COLUMNS = {
    "services": ["id", "service", "pattern"],
    "nodes": ["id", "service", "node", "available", "current_load", "capacity", "downed", "backoff"],
    "users": ["uid", "service", "email", "generation", "client_state", "created_at",
              "replaced_at", "nodeid", "keys_changed_at"],
}


def test_migration_matches_schema_and_column_order(database_url):
    migrate.upgrade(database_url)
    diff = migrated_schema_diff(database_url, metadata)
    engine = migrate.migration_engine(database_url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            columns = {t: [c["name"] for c in inspector.get_columns(t)] for t in COLUMNS}
            indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("users")}
    finally:
        engine.dispose()
    assert diff == []
    assert columns == COLUMNS
    assert indexes == {
        "lookup_idx": ["email", "service", "created_at"],
        "replaced_at_idx": ["service", "replaced_at"],
        "node_idx": ["nodeid"],
    }


def test_explicit_and_automatic_ids(database_url):
    """Operators insert nodes with explicit ids; automatic ids keep working (§8)."""
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    service = ensure_service(engine)
    assert ensure_service(engine) == service  # inserted once
    assert service.pattern == "{node}/1.5/{uid}"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO nodes (id, service, node, available, current_load, capacity, downed, backoff) "
            "VALUES (1000, :s, 'https://explicit.example.org', 1, 0, 1, 0, 0)"), {"s": service.id})
    assert ensure_node(engine, service.id, "https://auto.example.org", 10)
    assert not ensure_node(engine, service.id, "https://auto.example.org", 10)
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT * FROM nodes ORDER BY node")).all()
    assert [tuple(r)[2:] for r in rows] == [
        ("https://auto.example.org", 10, 0, 10, 0, 0),
        ("https://explicit.example.org", 1, 0, 1, 0, 0),
    ]
    assert rows[1][0] == 1000
    engine.dispose()


def test_existing_tokenserver_database_is_adopted(database_url, make_tokenserver, fxa):
    """Tables made by Mozilla's tokenserver are kept, rows and all."""
    engine = make_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO services (id, service, pattern) VALUES (7, 'sync-1.5', '{node}/1.5/{uid}')"))
        conn.execute(sa.text(
            "INSERT INTO nodes (id, service, node, available, current_load, capacity, downed, backoff) "
            "VALUES (3, 7, 'https://old.example.org', 10, 1, 11, 0, 0)"))
        conn.execute(sa.text(
            "INSERT INTO users (uid, service, email, generation, client_state, created_at, replaced_at, nodeid,"
            " keys_changed_at) VALUES (4242, 7, 'abc@api.accounts.firefox.com', 5, 'aaaa', 1600000000000, NULL, 3, 5)"))
    engine.dispose()
    ts = make_tokenserver(node_capacities={})  # runs the migrations
    response = ts.get(fxa.access_token("abc", generation=5), key_id="5-qqo")
    assert response.status_code == 200, response.text
    assert response.json()["uid"] == 4242
    assert response.json()["api_endpoint"] == "https://old.example.org/1.5/4242"
