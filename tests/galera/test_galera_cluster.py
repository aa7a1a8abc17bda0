"""The server on a real three-node MariaDB Galera cluster (issue 17): what
deploy/galera/ and docs/operations.md "Running on a Galera cluster" promise.

Writers and readers go through two different nodes, as with several
servers each pointed at its nearest node. Runs when Debian's mariadb-server,
galera-4 and rsync are installed; SYNCSTORAGE_TEST_REQUIRE_GALERA=1 (CI)
makes their absence a failure.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import galera
from support.databases import unavailable
from support.server import server_environment
from support.storage import read, write
from syncstorage.storage import BSOUpdate, ConflictError, ItemQuery, UnavailableError
from syncstorage.storage.sql import SQLStorage, migrate

_databases = itertools.count()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    problem = galera.missing()
    if problem:
        unavailable(f"the Galera tests {problem}", required_by="SYNCSTORAGE_TEST_REQUIRE_GALERA")
    running = galera.Cluster(tmp_path_factory.mktemp("galera"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def database(cluster) -> str:
    """An empty database on the cluster (replicated to every node)."""
    name = f"sst_galera_{next(_databases)}"
    cluster.nodes[0].sql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")
    return name


def test_servers_starting_at_once_through_two_nodes(cluster, database, tmp_path):
    """Four `db upgrade`s (what `serve` runs first), two through each node:
    one migrates under the lease row, the others find the schema current.
    With GET_LOCK, which holds on one node only, two migrated at once."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "syncstorage", "db", "upgrade"],
            env=server_environment(database_url=node.url(database), data_dir=str(tmp_path / str(i))),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i, node in enumerate(cluster.nodes[:2] * 2)
    ]
    results = [(p.communicate(timeout=180), p.returncode) for p in processes]
    assert [code for _, code in results] == [0] * 4, [err for (_, err), _ in results]
    head = migrate.head_revision()
    assert sorted(out.strip() for (out, _), _ in results) == [f"schema already current (revision {head})"] * 3 + [
        f"schema upgraded from empty database to {head}"
    ]


@pytest.fixture
def two_nodes(cluster, database):
    """SQLStorage through node 0 and through node 1, on a migrated database."""
    first, second = cluster.nodes[:2]
    migrate.upgrade(first.url(database))
    storages = [SQLStorage(node.url(database), lock_timeout=1.0) for node in (first, second)]
    yield storages
    for storage in storages:
        storage.close()


def test_writers_on_two_nodes_lose_no_update(two_nodes):
    """Read-modify-write of one record from both nodes: the cluster aborts
    one of two conflicting commits (a conflict, retried), never loses one."""
    write(two_nodes[0], 1, "bookmarks", lambda s: s.set_items([BSOUpdate("counter", payload="0")]))
    per_thread, threads = 5, 4
    unexpected: list[BaseException] = []
    conflicts = {"count": 0}
    lock = threading.Lock()

    def worker(storage):
        done = 0
        while done < per_thread:
            try:
                with storage.session(1, "bookmarks", write=True) as session:
                    value = int(session.get_item("counter").payload) + 1
                    session.set_items([BSOUpdate("counter", payload=str(value))])
            except ConflictError:
                with lock:
                    conflicts["count"] += 1
                continue
            except BaseException as exc:  # noqa: BLE001 - reported below
                unexpected.append(exc)
                return
            done += 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, two_nodes[i % 2]) for i in range(threads)]:
            future.result(timeout=180)
    assert not unexpected, unexpected
    finals = [int(read(storage, 1, "bookmarks", lambda s: s.get_item("counter")).payload) for storage in two_nodes]
    assert finals == [threads * per_thread] * 2
    print(f"{conflicts['count']} conflicts retried")


def test_readers_on_another_node_see_whole_batches(two_nodes):
    writer, reader = two_nodes
    batches, size = 6, 30
    done = threading.Event()
    violations: list[str] = []

    def commit_batches():
        try:
            for k in range(batches):
                batch = write(writer, 1, "history", lambda s: s.create_batch())
                items = [BSOUpdate(f"b{k}-{i:02}", payload=f"batch{k}") for i in range(size)]
                write(writer, 1, "history", lambda s, b=batch, i=items: s.append_to_batch(b, i))
                write(writer, 1, "history", lambda s, b=batch: s.commit_batch(b))
        finally:
            done.set()

    def observe():
        while not done.is_set():
            try:
                page = read(reader, 1, "history", lambda s: s.find_items(ItemQuery(full=True)))
            except ConflictError:
                # the node aborted the read for a replicated write that needed
                # its shared lock: the HTTP layer retries it, so does this
                continue
            counts: dict[str, int] = {}
            for bso in page.items:
                counts[bso.payload] = counts.get(bso.payload, 0) + 1
            violations.extend(f"{tag} has {n} of {size}" for tag, n in counts.items() if n != size)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(commit_batches), pool.submit(observe)]:
            future.result(timeout=180)
    assert violations == []


def test_a_node_killed_under_load_loses_no_acknowledged_write(cluster, two_nodes):
    """Writers on two nodes; one node dies (SIGKILL) in the middle. Its
    writers get UnavailableError (503 to a client) or a conflict, none
    hangs; every write that returned is on the surviving node, and on the
    killed node once it has rejoined."""
    survivor, victim = two_nodes
    acknowledged: list[str] = []
    acknowledged_at: list[float] = []
    failures: dict[str, int] = {}
    slowest_failure = [0.0]  # how long a request to the dead node took to fail
    lock = threading.Lock()
    stop = threading.Event()

    def writer(storage, tag):
        for n in itertools.count():
            if stop.is_set():
                return
            item = f"{tag}-{n}"
            started = time.monotonic()
            try:
                with storage.session(1, "history", write=True) as session:
                    session.set_items([BSOUpdate(item, payload="x")])
            except (ConflictError, UnavailableError) as exc:
                with lock:
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    slowest_failure[0] = max(slowest_failure[0], time.monotonic() - started)
                continue
            with lock:
                acknowledged.append(item)
                acknowledged_at.append(time.monotonic())

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer, storage, f"{tag}{k}") for k, (storage, tag) in
                   enumerate([(survivor, "s"), (survivor, "s"), (victim, "v"), (victim, "v")])]
        _wait_for(lambda: len(acknowledged) >= 40)
        killed_at = time.monotonic()
        cluster.nodes[1].kill()
        before = len(acknowledged)
        _wait_for(lambda: len(acknowledged) >= before + 40)  # the survivor goes on
        stop.set()
        for future in futures:
            future.result(timeout=120)
    stored = {bso.id for bso in read(survivor, 1, "history", lambda s: s.find_items(ItemQuery())).items}
    assert set(acknowledged) <= stored
    assert failures.get("UnavailableError", 0) > 0  # the victim's writers saw it go
    # how long the survivor's writers paused: the longest gap between two
    # acknowledged writes after the kill
    after = [t for t in acknowledged_at if t >= killed_at]
    pause = max(b - a for a, b in zip([killed_at, *after], after))
    assert slowest_failure[0] < 10, "a request to the dead node hung"
    restarted = time.monotonic()
    cluster.nodes[1].restart_after_kill()  # rejoins by incremental state transfer
    cluster.nodes[1].wait_synced()
    rejoin = time.monotonic() - restarted
    assert cluster.size(cluster.nodes[0]) == 3
    victim.engine.dispose()  # connections to the dead server
    rejoined = {bso.id for bso in read(victim, 1, "history", lambda s: s.find_items(ItemQuery())).items}
    assert set(acknowledged) <= rejoined
    print(
        f"{len(acknowledged)} writes acknowledged, 0 lost; failures {failures}; slowest failure "
        f"{slowest_failure[0]:.2f} s; survivor's longest pause {pause:.2f} s; rejoined in {rejoin:.1f} s"
    )


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
