"""`syncstorage db upgrade|current` on each real database."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa
from starlette.testclient import TestClient

from support.server import invoke_cli, server_environment
from syncstorage.auth import derived_secret, hawk_header, make_token
from syncstorage import db
from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql import migrate


def test_upgrade_then_current(database_url, tmp_path):
    env = server_environment(database_url=database_url, data_dir=str(tmp_path))
    head = migrate.head_revision()

    before = invoke_cli("db", "current", env=env)
    assert before.returncode == 1
    assert before.stdout.strip() == f"no schema (this version needs {head}: run `syncstorage db upgrade`)"

    upgraded = invoke_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"schema upgraded from empty database to {head}"
    assert migrate.current_revision(database_url) == head

    again = invoke_cli("db", "upgrade", env=env)
    assert again.stdout.strip() == f"schema already current (revision {head})"

    current = invoke_cli("db", "current", env=env)
    assert current.returncode == 0
    assert current.stdout.strip() == f"{head} (current)"


def test_unreachable_database_is_one_line(tmp_path):
    env = server_environment(database_url="mysql://root:topsecret@127.0.0.1:1/sync", data_dir=str(tmp_path))
    for command in (("db", "current"), ("db", "upgrade")):
        result = invoke_cli(*command, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("syncstorage: database mysql://root:***@127.0.0.1:1/sync: ")
        assert "topsecret" not in result.stderr


def test_default_database_before_the_data_dir_exists(tmp_path):
    """Commands run in a fresh directory: one line and a hint, never a
    traceback; `db upgrade` creates data_dir, as `serve` does."""
    data_dir = tmp_path / "not-yet"
    env = server_environment(data_dir=str(data_dir))
    for command in (("db", "current"), ("node", "list"), ("stats",), ("user", "show", "1")):
        result = invoke_cli(*command, env=env)
        assert result.returncode == 1, result.stderr
        assert result.stderr == (
            f"syncstorage: database sqlite:///{data_dir}/syncstorage.db: No such file or directory:"
            " start `syncstorage serve` once, or run `syncstorage db upgrade`\n"
        )
    upgraded = invoke_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (data_dir / "syncstorage.db").exists()
    assert invoke_cli("node", "list", env=env).returncode == 0


def test_shard_settings_reach_schema_and_server(sqlite_url, tmp_path):
    """SYNCSTORAGE_SHARD/SHARDSIZE (storage-model §3.6) give `db upgrade` the
    sharded tables, and the app's storage writes a user's rows into its shard."""
    env = server_environment(database_url=sqlite_url, data_dir=str(tmp_path), shard="true", shardsize="3")
    upgraded = invoke_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = sa.create_engine(sqlite_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"bso0", "bso1", "bso2", "batch_upload_items2"} <= tables
    assert "bso" not in tables and "bso3" not in tables

    public_url, secret = "http://localhost:8000", "s" * 32
    settings = Settings(database_url=sqlite_url, master_secret=secret, public_url=public_url, shard=True, shardsize=3)
    token = make_token({"uid": 5, "node": public_url}, secret)
    key = derived_secret(token, secret)
    url = f"{public_url}/1.5/5/storage/bookmarks/a"
    with TestClient(create_app(settings)) as http:
        put = http.put(url, json={"payload": "x"}, headers={"Authorization": hawk_header("PUT", url, token, key)})
        assert put.status_code == 200, put.text
        got = http.get(url, headers={"Authorization": hawk_header("GET", url, token, key)})
        assert got.json()["payload"] == "x"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM bso2")).scalars().all() == ["a"]  # 5 mod 3
    engine.dispose()


def test_servers_starting_at_once_on_an_empty_database(database_url, tmp_path):
    """Four `db upgrade` processes at once (what `serve` runs first): one
    creates the schema, the others wait for its lock and find it current.
    Before the lock, two of three such starts on MariaDB died with "Table
    'collections' already exists" and a wrong hint to import a syncserver."""
    env = server_environment(database_url=database_url, data_dir=str(tmp_path))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "syncstorage", "db", "upgrade"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    results = [(p.communicate(timeout=120), p.returncode) for p in processes]
    head = migrate.head_revision()
    assert [code for _, code in results] == [0] * 4, [err for (_, err), _ in results]
    outputs = sorted(out.strip() for (out, _), _ in results)
    assert outputs == [f"schema already current (revision {head})"] * 3 + [
        f"schema upgraded from empty database to {head}"
    ]
    assert migrate.current_revision(database_url) == head


def test_upgrade_gives_up_on_a_lock_held_too_long(database_url, tmp_path, monkeypatch):
    """The wait for another process's migration is bounded: then one line."""
    dialect, engine = db.create_engine(database_url, lock_timeout=5.0, pool_size=None)
    held = dialect.try_lock(engine, migrate.LOCK_NAME, 60)
    assert held is not None
    monkeypatch.setattr(migrate, "LOCK_WAIT_SECONDS", 0.5)
    try:
        result = invoke_cli("db", "upgrade", env=server_environment(database_url=database_url, data_dir=str(tmp_path)))
        assert migrate.current_revision(database_url) is None  # nothing ran while it was held
    finally:
        held.release()
        engine.dispose()
    assert result.returncode == 1
    assert result.stderr.endswith(": another process has been migrating the schema for over 0 s\n"), result.stderr
    assert len(result.stderr.splitlines()) == 1
