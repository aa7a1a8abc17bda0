"""`syncstorage check`: one PASS/FAIL line per check with a hint, exit code 1
when anything failed, and each cause of failure detected (issue 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.server import invoke_cli, server_environment

SECRET = "0123456789abcdef0123456789abcdef"


def check(env) -> tuple[int, dict[str, str], str]:
    """(exit code, check name -> its line, whole output)."""
    result = invoke_cli("check", env=env)
    lines = {}
    for line in result.stdout.splitlines():
        if line[:4] in ("PASS", "FAIL", "SKIP"):
            lines[line[5:].split(":", 1)[0]] = line
    return result.returncode, lines, result.stdout


PUBLIC_URL = "https://sync.example.org/prefix"


def installation(database_url, tmp_path, node_options=()) -> dict[str, str]:
    """The environment of a correctly set-up installation: schema created,
    this server registered as the tokenserver's node."""
    env = server_environment(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        master_secret=SECRET,
        public_url=PUBLIC_URL,
    )
    assert invoke_cli("db", "upgrade", env=env).returncode == 0
    if node_options is not None:
        added = invoke_cli("node", "add", PUBLIC_URL, *node_options, env=env)
        assert added.returncode == 0, added.stderr
    return env


@pytest.fixture
def ready(database_url, tmp_path):
    """A correct installation on each backend."""
    return installation(database_url, tmp_path)


@pytest.fixture
def ready_sqlite(sqlite_url, tmp_path):
    """For checks that do not depend on the database."""
    return installation(sqlite_url, tmp_path)


def test_all_pass(ready):
    code, lines, out = check(ready)
    assert code == 0, out
    assert all(line.startswith("PASS") for line in lines.values())
    assert set(lines) == {"database reachable", "schema current", "master secret", "public URL", "node registered"}
    assert "identity.sync.tokenserver.uri = https://sync.example.org/prefix/1.0/sync/1.5" in lines["public URL"]


def test_missing_schema(database_url, tmp_path):
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).touch()  # exists, but empty
    env = server_environment(database_url=database_url, master_secret=SECRET, data_dir=str(tmp_path))
    code, lines, out = check(env)
    assert code == 1
    assert lines["database reachable"].startswith("PASS")
    assert lines["schema current"].startswith("FAIL schema current: ")
    assert " at no schema, this version needs " in lines["schema current"]
    assert "hint: run `syncstorage db upgrade`" in out


def test_unreachable_database(tmp_path):
    env = server_environment(database_url="postgresql://sync:pw@127.0.0.1:1/sync", master_secret=SECRET, data_dir=str(tmp_path))
    code, lines, out = check(env)
    assert code == 1
    assert lines["database reachable"].startswith("FAIL database reachable: postgresql://sync:***@127.0.0.1:1/sync")
    assert "pw@" not in out
    assert lines["schema current"].startswith("SKIP")


def test_missing_sqlite_file_is_not_created(tmp_path):
    env = server_environment(data_dir=str(tmp_path / "data"), master_secret=SECRET)
    code, lines, _ = check(env)
    assert code == 1
    assert lines["database reachable"].startswith("FAIL")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("file_content", "mode", "expected", "hint"),
    [
        (None, None, "does not exist", "start `syncstorage serve` once"),
        (SECRET, 0o644, "is readable by others (mode 0644)", "chmod 600"),
        ("\n", 0o600, "empty", "secret generate"),
        ("short", 0o600, "shorter than 16 characters", "secret generate"),
    ],
)
def test_master_secret_file_problems(ready_sqlite, tmp_path, file_content, mode, expected, hint):
    env = {k: v for k, v in ready_sqlite.items() if k != "SYNCSTORAGE_MASTER_SECRET"}
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    if file_content is not None:
        path = data_dir / "master_secret"
        path.write_text(file_content)
        os.chmod(path, mode)
    code, lines, out = check(env)
    assert code == 1
    assert lines["master secret"].startswith("FAIL") and expected in lines["master secret"]
    assert hint in out
    assert SECRET not in out


def test_generated_secret_file_passes(ready_sqlite, tmp_path):
    env = {k: v for k, v in ready_sqlite.items() if k != "SYNCSTORAGE_MASTER_SECRET"}
    path = tmp_path / "data" / "master_secret"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    code, lines, _ = check(env)
    assert code == 0
    assert lines["master secret"] == f"PASS master secret: {path}"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"host": "0.0.0.0", "public_url": ""}, "clients cannot connect to 0.0.0.0"),
        ({"public_url": "http://sync.example.org:99999"}, "is not a usable http(s) URL"),
        ({"public_url": "https://sync.example.org/?x=1"}, "has a query or fragment"),
    ],
)
def test_public_url_problems(ready_sqlite, settings, expected):
    env = dict(ready_sqlite)
    for name, value in settings.items():
        env[f"SYNCSTORAGE_{name.upper()}"] = value
        if not value:
            del env[f"SYNCSTORAGE_{name.upper()}"]
    code, lines, out = check(env)
    assert code == 1
    assert lines["public URL"].startswith("FAIL") and expected in lines["public URL"]
    assert "hint: " in out


@pytest.mark.parametrize(
    ("node_options", "expected", "hint"),
    [
        (None, f"no node {PUBLIC_URL}", "`syncstorage node add"),
        (("--downed",), "is marked down", "--not-downed"),
        (("--capacity", "0"), "is full (0 of 0 users)", "--capacity N"),
    ],
)
def test_node_problems(database_url, tmp_path, node_options, expected, hint):
    env = installation(database_url, tmp_path, node_options)
    code, lines, out = check(env)
    assert code == 1
    assert lines["node registered"].startswith("FAIL") and expected in lines["node registered"]
    assert hint in out


def test_node_check_not_needed_without_tokenserver(ready_sqlite):
    code, lines, _ = check({**ready_sqlite, "SYNCSTORAGE_TOKENSERVER_ENABLED": "false"})
    assert code == 0
    assert lines["node registered"].startswith("PASS node registered: not needed")
