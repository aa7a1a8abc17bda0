"""`syncstorage import-syncserver` refusing a source it cannot copy, blaming
the source, and leaving the target as it found it (issue 14 items 2-6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from support.databases import fresh_database_url
from support.old_syncserver import build_old_database
from support.cli import invoke
from sqlalchemy.engine import make_url

from syncstorage.config import masked_url
from syncstorage import db
from syncstorage.storage.sql import migrate


def tables(database_url: str) -> dict[str, int]:
    """Every table of a database with its row count."""
    engine = sa.create_engine(db.for_url(database_url, lock_timeout=10)[1])
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one() for name in names}
    finally:
        engine.dispose()


def refused(database_url: str, source_url: str, **settings: str) -> str:
    """The import's one-line refusal, after checking that it wrote nothing."""
    before = tables(database_url)
    result = invoke(database_url, "import-syncserver", source_url, **settings)
    assert result.exit_code == 1, result.output
    assert tables(database_url) == before  # no schema created, no row written
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def test_a_directory_is_reported_as_a_directory(database_url, tmp_path):
    output = refused(database_url, f"sqlite:///{tmp_path}")
    assert output == f"syncstorage: the source sqlite:///{tmp_path}: {tmp_path} is a directory, not a SQLite file"


@pytest.mark.parametrize("source_url, reason", [
    ("not a url", "not a database URL: Could not parse SQLAlchemy URL"),
    ("oracle://scott:tiger@db.example/orcl", "not a database URL: unsupported database 'oracle'"),
    ("postgresql+nosuchdriver://db.example/sync", "not a database URL: Can't load plugin"),
])
def test_an_unparsable_source_url_is_blamed_on_the_source(database_url, source_url, reason):
    output = refused(database_url, source_url)
    assert output.startswith(f"syncstorage: the source {masked_url(source_url)}: {reason}"), output
    assert "tiger" not in output
    assert masked_url(database_url) not in output  # the target is not to blame


def test_a_refused_source_leaves_the_target_as_it_was(database_url, tmp_path):
    """Issue 14 item 5: the source is checked before the target's schema is
    created; `refused` checks that no table appeared."""
    assert tables(database_url) == {}
    missing = refused(database_url, f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.endswith("nope.db does not exist")
    other = fresh_database_url("sqlite", tmp_path, "_other")
    engine = sa.create_engine(other)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE collections (collectionid INTEGER, name TEXT)"))
        conn.execute(sa.text("CREATE TABLE user_collections (userid INTEGER, collection INTEGER)"))
        conn.execute(sa.text("CREATE TABLE bso (userid INTEGER)"))
    engine.dispose()
    assert refused(database_url, other).endswith(
        "not a syncserver database: table user_collections has no column last_modified"
    )
    assert tables(database_url) == {}


def test_timestamps_of_both_units_are_refused(database_url, tmp_path):
    """Issue 14 item 2: a value that can only be seconds among ms is no
    unit to convert by; the file is refused with the values that disagree."""
    source = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(source)
    engine = sa.create_engine(source)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO bso (userid, collection, id, modified, payload, payload_size, ttl)"
            " VALUES (7, 1, 'late', 1600272865.78, 'x', 1, 2100000000)"
        ))
    engine.dispose()
    output = refused(database_url, source)
    assert (
        "the timestamps mix units: bso.modified holds 1600272865.78, which can only be seconds,"
        " and user_collections.last_modified holds 1600000000000, which can only be milliseconds"
    ) in output


def test_a_copy_that_fails_says_what_it_left(sqlite_url, tmp_path):
    """Issue 14 item 5: a failure after the checks (here the target refusing
    user rows, as a full disk would) names what this run wrote; a second run
    finishes the copy."""
    source = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(source)
    assert invoke(sqlite_url, "db", "upgrade").exit_code == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TRIGGER full BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'disk full'); END"))

    stopped = invoke(sqlite_url, "import-syncserver", source, public_url="https://sync.example")
    assert stopped.exit_code == 1
    assert stopped.output.strip().splitlines()[-1] == (
        f"syncstorage: database {sqlite_url}: disk full; the import stopped and left: 1 collection names,"
        " 6 collection timestamps, 9 items, the node record of https://sync.example;"
        " run the import again to finish (it copies only what is missing)"
    )
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER full"))
    engine.dispose()
    again = invoke(sqlite_url, "import-syncserver", source, public_url="https://sync.example")
    assert again.exit_code == 0, again.output
    assert "items: 10 read, 0 copied, 9 already present, 1 skipped" in again.output
    assert "users: 4 read, 3 copied, 0 already present, 1 skipped" in again.output


def written_differently(database_url: str, tmp_path: Path, monkeypatch) -> str:
    """The same database in another spelling: a relative SQLite path, or a
    named driver and an explicit default port on a server."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        monkeypatch.chdir(tmp_path)
        return f"sqlite:///{Path(url.database).name}"
    driver = {"postgresql": "postgresql+psycopg", "mysql": "mariadb+pymysql"}[url.get_backend_name()]
    default_port = {"postgresql": 5432, "mysql": 3306}[url.get_backend_name()]
    return url.set(drivername=driver, port=url.port or default_port).render_as_string(hide_password=False)


def test_the_target_is_refused_as_the_source(database_url, tmp_path, monkeypatch):
    """Issue 14 item 6: this server's own database, however written, also
    once it has our schema (where every row would be 'already present')."""
    old = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(old)
    assert invoke(database_url, "import-syncserver", old).exit_code == 0
    itself = written_differently(database_url, tmp_path, monkeypatch)
    assert refused(database_url, itself).endswith(
        "this is this server's own database (database_url); give the old server's sqluri"
    )
    tokens = fresh_database_url("sqlite", tmp_path, "_tokens")
    assert invoke(tokens, "db", "upgrade").exit_code == 0
    assert refused(database_url, tokens, tokenserver_database_url=tokens).endswith(
        "this is this server's own database (tokenserver_database_url); give the old server's sqluri"
    )
    # a database of this software that the settings do not name: told by its schema
    assert refused(database_url, tokens).endswith(
        f"this database has this server's schema (revision {migrate.head_revision()}),"
        " it is not one of Mozilla's syncserver; give the old server's sqluri"
    )


def test_the_old_database_as_target_and_source_is_refused(tmp_path, monkeypatch):
    """database_url pointing at the old file itself: refused before the
    target's schema would be attempted, the old file unchanged."""
    old = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(old)
    output = refused(old, written_differently(old, tmp_path, monkeypatch))
    assert output.endswith("this is this server's own database (database_url); give the old server's sqluri")
