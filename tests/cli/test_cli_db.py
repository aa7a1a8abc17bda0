"""`syncstorage db upgrade|current` on each real database."""

from __future__ import annotations

from e2e.server import run_cli, server_environment
from syncstorage.storage.sql import migrate


def test_upgrade_then_current(database_url, tmp_path):
    env = server_environment(database_url=database_url, data_dir=str(tmp_path))
    head = migrate.head_revision()

    before = run_cli("db", "current", env=env)
    assert before.returncode == 1
    assert before.stdout.strip() == f"no schema (this version needs {head}: run `syncstorage db upgrade`)"

    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"schema upgraded from empty database to {head}"
    assert migrate.current_revision(database_url) == head

    again = run_cli("db", "upgrade", env=env)
    assert again.stdout.strip() == f"schema already current (revision {head})"

    current = run_cli("db", "current", env=env)
    assert current.returncode == 0
    assert current.stdout.strip() == f"{head} (current)"


def test_unreachable_database_is_one_line(tmp_path):
    env = server_environment(database_url="mysql://root:topsecret@127.0.0.1:1/sync", data_dir=str(tmp_path))
    for command in (("db", "current"), ("db", "upgrade")):
        result = run_cli(*command, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("syncstorage: database mysql://root:***@127.0.0.1:1/sync: ")
        assert "topsecret" not in result.stderr
