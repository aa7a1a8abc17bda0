"""Moving in from Mozilla's old Python syncserver (issue 5 item 7).

Each test builds a database in the old schema (tests/support/old_syncserver.py),
runs `syncstorage import-syncserver` on it, and checks that data, timestamps,
ttl and uids are kept and that the user syncs on through the HTTP app with a
token for the same uid (tests/tokenserver/test_tokenserver_moving_in.py: the
tokenserver gives that uid).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support.databases import fresh_database_url
from support.web import PUBLIC_URL
from support.old_syncserver import EMAIL, NEVER, T0, build_old_database
from support.cli import invoke

from syncstorage import db
from syncstorage.storage.sql import SQLStorage
from syncstorage.timestamps import format_ms
from syncstorage.tokenserver.schema import nodes, users


def run_import(source_url: str, database_url: str):
    result = invoke(database_url, "import-syncserver", source_url, "--chunk-size", "2",
                    public_url=PUBLIC_URL, log_format="json")
    assert result.exit_code == 0, result.output
    return result.output


def check_user_5_syncs_on(client, items) -> None:
    """The imported data through the storage API, with a token for uid 5."""
    collections = client.get("/info/collections")
    assert collections.status_code == 200, collections.text
    assert collections.json() == {
        name: float(format_ms(max(r[2] for r in rows))) for name, rows in items[5].items()
    }
    listed = client.get("/storage/bookmarks?full=1&sort=oldest").json()
    assert [(b["id"], b.get("sortindex"), b["modified"], b["payload"]) for b in listed] == [
        (i, s, float(format_ms(m)), p) for i, s, m, p, _ in items[5]["bookmarks"][:3]
    ]  # the expired one is invisible, as it was on the old server
    assert client.get("/storage/greasemonkey/script").json()["payload"] == "custom collection"
    assert client.get("/info/collection_counts").json()["bookmarks"] == 3
    # and it writes on, after the old timestamps
    client.upload("bookmarks", {"id": "new", "payload": "synced after the move"})
    assert client.get("/storage/bookmarks/new").status_code == 200


def stored_ttls(database_url: str, uid: int) -> dict[str, int]:
    storage = SQLStorage(database_url)
    try:
        bso = storage.tables.bso_for(uid)
        with storage.engine.connect() as conn:
            return dict(conn.execute(sa.select(bso.c.id, bso.c.ttl).where(bso.c.userid == uid)).all())
    finally:
        storage.close()


def engine_for(database_url: str) -> sa.Engine:
    return sa.create_engine(db.for_url(database_url, lock_timeout=10)[1])


def user_rows(database_url: str) -> tuple:
    engine = engine_for(database_url)
    try:
        with engine.connect() as conn:
            node = conn.execute(sa.select(nodes).where(nodes.c.node == PUBLIC_URL)).one()
            rows = conn.execute(sa.select(users).order_by(users.c.uid)).all()
            return node, rows
    finally:
        engine.dispose()


@pytest.mark.parametrize("source_backend", ["sqlite", "mysql"])
def test_import_keeps_data_timestamps_ttl_and_uids(source_backend, database_url, tmp_path, make_client):
    source_url = fresh_database_url(source_backend, tmp_path, "_old")
    items = build_old_database(source_url)

    output = run_import(source_url, database_url)
    assert "items: 10 read, 9 copied, 0 already present, 1 skipped (unknown collection id)" in output
    assert "users: 4 read, 3 copied, 0 already present, 1 skipped (not of the sync-1.5 service)" in output

    ttls = stored_ttls(database_url, 5)
    assert ttls["menu"] == NEVER and ttls["soon"] == items[5]["bookmarks"][2][4] and ttls["gone"] == items[5]["bookmarks"][3][4]
    node, rows = user_rows(database_url)
    assert [(r.uid, r.email, r.generation, r.client_state, r.created_at, r.replaced_at, r.keys_changed_at, r.nodeid) for r in rows] == [
        (3, EMAIL, T0 - 1000, "aaaa", T0 - 1000, T0, T0, node.id),
        (5, EMAIL, T0, "bbbb", T0, None, T0, node.id),
        (6, "fedcba@api.accounts.firefox.com", 0, "", T0, None, T0, node.id),
    ]
    assert node.current_load == 2  # the current records of uid 5 and 6

    client = make_client(database_url, uid=5)
    check_user_5_syncs_on(client, items)
    assert client.as_user(6).get("/storage/tabs/laptop").json()["payload"] == "tabs"
    assert client.as_user(3).get("/storage/bookmarks/old").status_code == 200

    # again: nothing new, nothing lost (the upload since the move included)
    again = run_import(source_url, database_url)
    assert "items: 10 read, 0 copied, 9 already present, 1 skipped" in again
    assert "users: 4 read, 0 copied, 3 already present" in again
    assert client.get("/storage/bookmarks/new").status_code == 200
    assert client.get("/info/collection_counts").json()["bookmarks"] == 4

    # a new tokenserver user never gets an imported uid
    engine = engine_for(database_url)
    with engine.begin() as conn:
        new_uid = conn.execute(sa.insert(users).values(
            service=1, email="new@x", generation=0, client_state="", created_at=0, nodeid=node.id)).inserted_primary_key[0]
    engine.dispose()
    assert new_uid > 6


def test_an_unnamed_id_is_an_orphan_when_collections_are_numbered_by_appearance(database_url, tmp_path, make_client):
    """Issue 14 item 1: this source numbers meta=1, crypto=2, ...; its orphan
    item of uid 6 is in collection 12, which is `addresses` only under the
    standard numbering. It must stay invisible, skipped and counted."""
    source_url = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(source_url)

    output = run_import(source_url, database_url)
    client = make_client(database_url, uid=6)
    assert client.get("/info/collections").json().keys() == {"tabs"}
    assert client.get("/storage/addresses/orphan").status_code == 404
    assert "collections: 5 mapped by name (numbered in order of first appearance: an id without a name is an orphan)" in output
    assert "collection timestamps: 7 read, 6 copied, 0 already present, 1 skipped (unknown collection id)" in output
    assert "items: 10 read, 9 copied, 0 already present, 1 skipped (unknown collection id)" in output


@pytest.mark.parametrize("source_backend", ["sqlite", "mysql"])
def test_import_converts_timestamps_kept_in_seconds(source_backend, database_url, tmp_path, make_client):
    """Issue 14 item 2: DECIMAL(12,2) seconds (1600000000.02, on SQLite a
    REAL) become exactly the ms they stand for; ttl stays in seconds."""
    source_url = fresh_database_url(source_backend, tmp_path, "_old")
    items = build_old_database(source_url, seconds=True)

    output = run_import(source_url, database_url)
    check_user_5_syncs_on(make_client(database_url, uid=5), items)  # every modified, to the 10 ms
    ttls = stored_ttls(database_url, 5)
    assert ttls["menu"] == NEVER and ttls["soon"] == items[5]["bookmarks"][2][4]
    assert "timestamps: seconds in the old database, converted to milliseconds" in output
    assert "items: 10 read, 9 copied, 0 already present, 1 skipped" in output


def test_import_of_an_older_layout_sharded_standard_ids_no_keys_changed_at(database_url, tmp_path, make_client):
    source_url = fresh_database_url("sqlite", tmp_path, "_old")
    items = build_old_database(source_url, shards=4, standard_collections=True, keys_changed_at=False, services=False)

    output = run_import(source_url, database_url)
    assert "collections: 14 mapped by name (standard numbering: ids 1-13 are the standard collections)" in output
    assert "items: 10 read, 9 copied, 0 already present, 1 skipped" in output
    assert "users: 3 read, 3 copied, 0 already present" in output
    _node, rows = user_rows(database_url)
    assert [(r.uid, r.keys_changed_at) for r in rows] == [(3, None), (5, None), (6, None)]
    check_user_5_syncs_on(make_client(database_url, uid=5), items)


def test_import_refuses_what_is_not_a_syncserver_database(database_url, tmp_path):
    missing = invoke(database_url, "import-syncserver", f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.exit_code == 1 and "nope.db does not exist" in missing.output
    assert not (tmp_path / "nope.db").exists()
    other = fresh_database_url("sqlite", tmp_path, "_other")
    engine = sa.create_engine(other)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE something (x INTEGER)"))
    engine.dispose()
    result = invoke(database_url, "import-syncserver", other)
    assert result.exit_code == 1
    assert "not a syncserver database: no bso, collections, user_collections table" in result.output
    down = invoke(database_url, "import-syncserver", "mysql://root:hunter2@127.0.0.1:1/syncserver")
    assert down.exit_code == 1
    assert "mysql://root:***@127.0.0.1:1/syncserver: (2003" in down.output  # pymysql: can't connect
    assert "hunter2" not in down.output


def test_db_upgrade_on_the_old_database_points_to_the_import(tmp_path):
    old = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(old)

    def contents():
        engine = sa.create_engine(old)
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            found = {name: conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one() for name in names}
        engine.dispose()
        return found

    before = contents()
    result = invoke(old, "db", "upgrade")
    assert result.exit_code == 1
    assert "looks like the database of Mozilla's syncserver" in result.output
    assert "syncstorage import-syncserver" in result.output
    assert contents() == before  # nothing created, nothing changed
