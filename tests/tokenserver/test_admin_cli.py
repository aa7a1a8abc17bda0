"""`syncstorage node …` / `syncstorage user …` on every database, and what
draining and removing a node do to its users' next token request."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from syncstorage.cli import cli
from syncstorage.storage.sql import migrate
from support.tokenserver import FXA_UID

A, B = "https://a.example.org", "https://b.example.org/prefix"


@pytest.fixture
def run(database_url, tmp_path):
    migrate.upgrade(database_url)
    env = {"SYNCSTORAGE_DATABASE_URL": database_url, "SYNCSTORAGE_DATA_DIR": str(tmp_path)}

    def run(*args: str, ok: bool = True):
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def lines(result, title: str) -> list[list[str]]:
    """The tab-separated output of a table (not a terminal): `# title`, then
    the header and the rows."""
    first, *rest = result.output.splitlines()
    assert first == f"# {title}"
    return [line.split("\t") for line in rest]


def nodes(run) -> list[list[str]]:
    return lines(run("node", "list"), "storage nodes")


def test_node_commands(run):
    assert run("node", "add", A, "--capacity", "10").output.startswith(f"added node {A} (id ")
    run("node", "add", B + "/", "--capacity", "5", "--current-load", "2", "--backoff")
    header, a, b = nodes(run)
    assert header == ["id", "node", "capacity", "current_load", "available", "downed", "backoff"]
    assert a[1:] == [A, "10", "0", "10", "0", "0"]
    assert b[1:] == [B, "5", "2", "3", "0", "1"]

    run("node", "update", B, "--no-backoff", "--downed", "--available", "1")
    assert nodes(run)[2][1:] == [B, "5", "2", "1", "1", "0"]

    assert "already exists" in run("node", "add", A, ok=False).output
    assert "no node" in run("node", "update", "https://nowhere.example.org", "--capacity", "1", ok=False).output
    assert "must start with http" in run("node", "add", "a.example.org", ok=False).output

    run("node", "remove", B)
    assert [row[1] for row in nodes(run)[1:]] == [A]


def test_node_list_on_a_terminal_is_a_titled_table(run, monkeypatch):
    run("node", "add", A, "--capacity", "12000")
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the output as a terminal
    output = re.sub(r"\x1b\[[0-9;]*m", "", run("node", "list").output)  # no colours
    assert output.splitlines()[0].strip() == "storage nodes"
    assert "\t" not in output
    assert "12,000" in output  # numbers as in every other table (cli/tables.py)
    # At 80 columns the URL wraps rather than being cut short with "…".
    assert "…" not in output
    cells = [line.split("│")[2].strip() for line in output.splitlines() if line.startswith("│")]
    assert "".join(cells) == A


def test_node_add_defaults_to_init_node_capacity(run, monkeypatch):
    run("node", "add", A)
    assert nodes(run)[1][2:5] == ["100000", "0", "100000"]


def test_commands_refuse_a_database_without_schema(tmp_path):
    env = {"SYNCSTORAGE_DATABASE_URL": f"sqlite:///{tmp_path}/new.db", "SYNCSTORAGE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["node", "list"], env=env)
    assert result.exit_code == 1
    assert "run `syncstorage db upgrade`" in result.output


@pytest.mark.parametrize("action", ["drain", "remove"])
def test_drained_or_removed_node_moves_its_users(run, make_tokenserver, fxa, action):
    ts = make_tokenserver(node_capacities={A: 100})
    token = fxa.access_token(FXA_UID, generation=5)
    first = ts.get(token, key_id="5-qqo").json()
    assert first["api_endpoint"] == f"{A}/1.5/{first['uid']}"
    run("node", "add", B, "--capacity", "100")

    assert "1 users will move" in run("node", action, A).output
    second = ts.get(token, key_id="5-qqo").json()
    assert second["api_endpoint"] == f"{B}/1.5/{second['uid']}"
    assert second["uid"] != first["uid"]
    # Later requests stay on the new node with the same uid.
    assert ts.get(token, key_id="5-qqo").json()["uid"] == second["uid"]

    header, *rows = lines(run("user", "list", "--all"), "tokenserver records")
    # The columns of `user show` (cli/user.py print_token_records).
    assert header == ["uid", "email", "generation", "keys changed", "client state", "created", "replaced", "node"]
    old_node = A if action == "drain" else "(gone: 1)"
    assert [(int(r[0]), r[7], r[6] != "-") for r in rows] == [
        (second["uid"], B, False), (first["uid"], old_node, True)]
    current = lines(run("user", "list", "--email", f"{FXA_UID}@api.accounts.firefox.com"), "tokenserver records")[1:]
    assert [int(r[0]) for r in current] == [second["uid"]]
    if action == "drain":
        node_a = nodes(run)[1]
        assert node_a[4:] == ["0", "0", "1"]  # no slots, backoff
