"""`syncstorage node migrate`: users move between nodes' databases of any
two kinds with their data exactly, their tokenserver record follows, the
source keeps refusing them; interrupted runs finish; refusals are one line
(docs/fleet.md "Moving users between nodes")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from support.cli import invoke
from support.databases import fresh_database_url
from support.nodes import NODE_A, NODE_B, Nodes, fill, fxa_uid, make_nodes, migration_states, user_rows
from support.server import free_port, server_environment
from syncstorage.node_migration import LOCK_NAME
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.moves import MOVED, MOVING, copy_user, mark_moving
from syncstorage.tokenserver.admin import move_user
from syncstorage.tokenserver.schema import nodes as node_table

PAIRS = [("sqlite", "postgresql"), ("postgresql", "mysql"), ("mysql", "sqlite")]


@pytest.fixture(params=PAIRS, ids=["->".join(pair) for pair in PAIRS])
def pair(request, tmp_path) -> Nodes:
    source, dest = request.param
    return make_nodes(
        fresh_database_url(source, tmp_path, "_from"),
        fresh_database_url(dest, tmp_path, "_to"),
        f"sqlite:///{tmp_path / 'tokens.db'}",
    )


@pytest.fixture
def sqlite_pair(tmp_path) -> Nodes:
    return make_nodes(f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}", f"sqlite:///{tmp_path / 'tokens.db'}")


def storages(nodes: Nodes) -> tuple[SQLStorage, SQLStorage]:
    return SQLStorage(nodes.source_url), SQLStorage(nodes.dest_url)


def test_users_move_with_their_data_exactly(pair):
    source, dest = storages(pair)
    try:
        # the destination already has other custom collections: ids differ there
        with dest.session(99, "zzz-other", write=True) as s:
            s.set_items([])
        with dest.session(99, "custom-1", write=True) as s:
            s.set_items([])
        for uid in (1, 2, 3):
            fill(source, uid)
            pair.add_user(uid)
        pair.add_user(4, NODE_B)  # not on the source node: left alone
        before = {uid: user_rows(source, uid) for uid in (1, 2, 3)}

        result = pair.migrate("--chunk-size", "7")  # several chunks per collection
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1].startswith(f"moved 3 users (186 records) from {NODE_A} to {NODE_B}")
        assert "users/s" in result.output and "records/s" in result.output

        for uid in (1, 2, 3):
            moved = user_rows(dest, uid)
            assert moved == before[uid]
            assert {"custom-1", "custom-0", "", "bookmarks", "history"} & set(moved[1]) == set(moved[1])
            assert user_rows(source, uid) == before[uid]  # the source keeps its copy
        assert migration_states(source) == {fxa_uid(uid): MOVED for uid in (1, 2, 3)}
        assert pair.node_of() == {1: NODE_B, 2: NODE_B, 3: NODE_B, 4: NODE_B}
        loads = _loads(pair)
        assert loads[NODE_A] == (0, 100) and loads[NODE_B] == (4, 97)

        again = pair.migrate()  # nothing left to move
        assert again.exit_code == 0, again.output
        assert again.output.splitlines()[-1].startswith("moved 0 users (0 records)")
    finally:
        source.close()
        dest.close()


def _loads(nodes: Nodes) -> dict[str, tuple[int, int]]:
    engine = nodes.token_engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(node_table.c.node, node_table.c.current_load, node_table.c.available))
            return {node: (load, available) for node, load, available in rows}
    finally:
        engine.dispose()


def test_users_n_moves_the_next_n(sqlite_pair):
    source, dest = storages(sqlite_pair)
    try:
        for uid in (5, 6, 7):
            fill(source, uid, records=3)
            sqlite_pair.add_user(uid)
        first = sqlite_pair.migrate("--users", "2")
        assert first.exit_code == 0, first.output
        assert "moved 2 users" in first.output
        assert sqlite_pair.node_of() == {5: NODE_B, 6: NODE_B, 7: NODE_A}
        second = sqlite_pair.migrate("--users", "2")
        assert "moved 1 users" in second.output
        assert sqlite_pair.node_of() == {5: NODE_B, 6: NODE_B, 7: NODE_B}
    finally:
        source.close()
        dest.close()


def test_an_interrupted_run_finishes_without_duplicates_or_loss(pair):
    """What a run killed at each step leaves: a user marked with part of its
    copy made, and a user moved whose mark was not completed."""
    source, dest = storages(pair)
    try:
        for uid in (1, 2, 3):
            fill(source, uid)
            pair.add_user(uid)
        before = {uid: user_rows(source, uid) for uid in (1, 2, 3)}
        # uid 1: copied and moved, killed before its mark became "moved"
        mark_moving(source, fxa_uid(1))
        copy_user(source, dest, 1, 1000)
        engine = pair.token_engine()
        try:
            assert move_user(engine, 1, NODE_A, NODE_B)
        finally:
            engine.dispose()
        # uid 2: killed in the middle of its copy (some rows there, no timestamps)
        mark_moving(source, fxa_uid(2))
        copy_user(source, dest, 2, 1000)
        bso = dest.tables.bso_for(2)
        with dest.engine.begin() as conn:
            conn.execute(sa.delete(bso).where(bso.c.userid == 2, bso.c.id.like("h%")))
            conn.execute(sa.delete(dest.tables.user_collections).where(dest.tables.user_collections.c.userid == 2))
        assert migration_states(source) == {fxa_uid(1): MOVING, fxa_uid(2): MOVING}

        result = pair.migrate()
        assert result.exit_code == 0, result.output
        assert f"completed the interrupted move of {fxa_uid(1)}" in result.output
        assert "moved 2 users" in result.output.splitlines()[-1]
        for uid in (1, 2, 3):
            assert user_rows(dest, uid) == before[uid]
        assert migration_states(source) == {fxa_uid(uid): MOVED for uid in (1, 2, 3)}
        assert pair.node_of() == {1: NODE_B, 2: NODE_B, 3: NODE_B}
    finally:
        source.close()
        dest.close()


def _one_line_refusal(result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_unknown_node_is_one_line(sqlite_pair):
    result = invoke(
        sqlite_pair.source_url, "node", "migrate", "--from", "https://nowhere.example", "--to", NODE_B,
        "--from-database", sqlite_pair.source_url, "--to-database", sqlite_pair.dest_url,
        allow_migration="true", tokenserver_database_url=sqlite_pair.token_url,
    )
    assert "no node 'https://nowhere.example'" in _one_line_refusal(result)


def test_database_down_or_old_schema_is_one_line(sqlite_pair, tmp_path):
    down = Nodes(f"postgresql://postgres@127.0.0.1:{free_port()}/none", sqlite_pair.dest_url, sqlite_pair.token_url)
    assert "postgres" in _one_line_refusal(down.migrate())
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(empty).dispose()
    old = Nodes(sqlite_pair.source_url, empty, sqlite_pair.token_url)
    assert "run `syncstorage db upgrade`" in _one_line_refusal(old.migrate())


def test_refused_without_allow_migration(sqlite_pair):
    result = invoke(
        sqlite_pair.source_url, "node", "migrate", "--from", NODE_A, "--to", NODE_B,
        "--from-database", sqlite_pair.source_url, "--to-database", sqlite_pair.dest_url,
        tokenserver_database_url=sqlite_pair.token_url,
    )
    assert "allow_migration is off" in _one_line_refusal(result, exit_code=2)


def test_a_run_killed_mid_copy_finishes_when_run_again(tmp_path):
    """kill -9 of the command while it copies a user, then a second run."""
    nodes = make_nodes(
        fresh_database_url("sqlite", tmp_path, "_from"),
        fresh_database_url("postgresql", tmp_path, "_to"),
        f"sqlite:///{tmp_path / 'tokens.db'}",
    )
    source, dest = storages(nodes)
    try:
        for uid in (1, 2):
            fill(source, uid, records=400)
            nodes.add_user(uid)
        before = {uid: user_rows(source, uid) for uid in (1, 2)}
        env = server_environment(
            database_url=nodes.source_url, tokenserver_database_url=nodes.token_url, allow_migration="true"
        )
        command = [
            sys.executable, "-m", "syncstorage", "node", "migrate", "--from", NODE_A, "--to", NODE_B,
            "--from-database", nodes.source_url, "--to-database", nodes.dest_url, "--chunk-size", "1",
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bso = dest.tables.bso_for(1)
        deadline = time.monotonic() + 60
        copied = 0
        while copied < 50 and time.monotonic() < deadline and process.poll() is None:
            with dest.engine.connect() as conn:
                copied = conn.execute(sa.select(sa.func.count()).select_from(bso).where(bso.c.userid == 1)).scalar_one()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert copied >= 50 and migration_states(source) == {fxa_uid(1): MOVING}  # killed mid-copy
        assert nodes.node_of() == {1: NODE_A, 2: NODE_A}

        again = nodes.migrate()
        assert again.exit_code == 0, again.output
        assert "moved 2 users" in again.output.splitlines()[-1]
        for uid in (1, 2):
            assert user_rows(dest, uid) == before[uid]  # no duplicate, nothing missing
        assert migration_states(source) == {fxa_uid(1): MOVED, fxa_uid(2): MOVED}
    finally:
        source.close()
        dest.close()


def test_a_copy_that_differs_leaves_the_user_on_the_source(sqlite_pair):
    """The destination changes what it is given (a trigger): verification
    fails, the user stays assigned to A and is no longer refused there,
    the partial copy is removed; one line for the user, exit status 1."""
    source, dest = storages(sqlite_pair)
    try:
        for uid in (1, 2):
            fill(source, uid, records=5)
            sqlite_pair.add_user(uid)
        with dest.engine.begin() as conn:
            conn.execute(sa.text(
                "CREATE TRIGGER corrupt AFTER INSERT ON bso WHEN NEW.userid = 1 AND NEW.id = 'h3'"
                " BEGIN UPDATE bso SET payload = 'changed' WHERE rowid = NEW.rowid; END"
            ))
        result = sqlite_pair.migrate()
        assert result.exit_code == 1, result.output
        assert "uid 1: not moved: the copy differs: history: the rows' contents differ" in result.output
        assert "Traceback" not in result.output
        assert "moved 1 users" in result.output
        assert sqlite_pair.node_of() == {1: NODE_A, 2: NODE_B}
        assert migration_states(source) == {fxa_uid(2): MOVED}
        assert user_rows(dest, 1) == ({}, {})
    finally:
        source.close()
        dest.close()


def test_the_same_database_for_both_nodes_is_refused(sqlite_pair):
    result = invoke(
        sqlite_pair.source_url, "node", "migrate", "--from", NODE_A, "--to", NODE_B,
        allow_migration="true", tokenserver_database_url=sqlite_pair.token_url,
    )
    assert "give --from-database and --to-database" in _one_line_refusal(result, exit_code=2)


def test_the_same_database_spelled_otherwise_is_refused(sqlite_pair, tmp_path):
    # on the string comparison the command had first, a link to the source
    # file was taken for another node's database
    link = tmp_path / "link-to-a.db"
    link.symlink_to(tmp_path / "a.db")
    result = invoke(
        sqlite_pair.source_url, "node", "migrate", "--from", NODE_A, "--to", NODE_B,
        "--to-database", f"sqlite:///{link}",
        allow_migration="true", tokenserver_database_url=sqlite_pair.token_url,
    )
    assert "give --from-database and --to-database" in _one_line_refusal(result, exit_code=2)


def test_one_run_at_a_time_per_source(sqlite_pair):
    source, dest = storages(sqlite_pair)
    held = source.dialect.try_lock(source.engine, LOCK_NAME, 600)
    try:
        fill(source, 1, records=2)
        sqlite_pair.add_user(1)
        assert held is not None
        assert "another `node migrate` is moving users off this database" in _one_line_refusal(sqlite_pair.migrate())
        assert sqlite_pair.node_of() == {1: NODE_A} and migration_states(source) == {}
        held.release()
        held = None
        assert "moved 1 users" in sqlite_pair.migrate().output
    finally:
        if held is not None:
            held.release()
        source.close()
        dest.close()
