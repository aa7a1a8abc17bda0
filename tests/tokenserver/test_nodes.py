"""Node assignment and capacity release (auth-and-tokens §10), start-up
registration of the server's own node (§13.1), on every database."""

from __future__ import annotations

import pytest

from syncstorage.tokenserver import Tokenserver, admin
from support.tokenserver import create_tables, make_settings

A, B, C = "https://a.example.org", "https://b.example.org", "https://c.example.org"
NO_NODE = {"status": "internal-error", "errors": [{"location": "internal", "name": "", "description": "Server error"}]}


@pytest.fixture
def empty_ts(make_tokenserver):
    return make_tokenserver(node_capacities={})


def node_of(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["api_endpoint"].split("/1.5/")[0]


def new_user(ts, fxa, n=[0]):
    n[0] += 1
    return ts.get(fxa.access_token(f"user{n[0]}"))


def test_least_loaded_node_wins(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 100, current_load=50)
    admin.add_node(empty_ts.engine, B, 100, current_load=10)
    admin.add_node(empty_ts.engine, C, 10, current_load=2)  # 20 %
    assert node_of(new_user(empty_ts, fxa)) == B
    nodes = empty_ts.nodes()
    assert (nodes[B].current_load, nodes[B].available) == (11, 89)
    assert (nodes[A].current_load, nodes[A].available) == (50, 50)


def test_ties_go_to_most_available_then_lowest_id(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 10)
    admin.add_node(empty_ts.engine, B, 100)
    assert node_of(new_user(empty_ts, fxa)) == B
    admin.add_node(empty_ts.engine, C, 100, current_load=1)
    admin.update_node(empty_ts.engine, A, downed=True)
    # B and C now both at 1/100 with 99 available: the lower id (B) wins
    assert node_of(new_user(empty_ts, fxa)) == B


def test_downed_and_backoff_nodes_get_no_new_users(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 100, downed=True)
    admin.add_node(empty_ts.engine, B, 100, backoff=True)
    response = new_user(empty_ts, fxa)
    assert response.status_code == 503 and response.json() == NO_NODE
    admin.add_node(empty_ts.engine, C, 100, current_load=99)
    assert {node_of(new_user(empty_ts, fxa)) for _ in range(1)} == {C}


def test_existing_user_on_downed_node_keeps_it(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 100)
    token = fxa.access_token("someone")
    assert node_of(empty_ts.get(token)) == A
    admin.update_node(empty_ts.engine, A, downed=True)
    assert node_of(empty_ts.get(token)) == A


def test_capacity_release_example(empty_ts, fxa):
    """§10: loads 99/100, 90/100, 80/81, all with available 0 → released 1, 10, 1;
    the 90/100 node wins and ends with available 9."""
    admin.add_node(empty_ts.engine, A, 100, current_load=99, available=0)
    admin.add_node(empty_ts.engine, B, 100, current_load=90, available=0)
    admin.add_node(empty_ts.engine, C, 81, current_load=80, available=0)
    assert node_of(new_user(empty_ts, fxa)) == B
    nodes = empty_ts.nodes()
    assert {url: row.available for url, row in nodes.items()} == {A: 1, B: 9, C: 1}
    assert nodes[B].current_load == 91


def test_release_skips_downed_but_not_backoff(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 100, current_load=50, available=0, downed=True)
    admin.add_node(empty_ts.engine, B, 100, current_load=50, available=0, backoff=True)
    admin.add_node(empty_ts.engine, C, 100, current_load=95, available=0)
    assert node_of(new_user(empty_ts, fxa)) == C
    nodes = empty_ts.nodes()
    assert (nodes[A].available, nodes[B].available, nodes[C].available) == (0, 10, 4)


def test_configured_release_rate(make_tokenserver, fxa):
    ts = make_tokenserver(node_capacities={}, node_capacity_release_rate=0.5)
    admin.add_node(ts.engine, A, 10, current_load=2, available=0)
    assert node_of(new_user(ts, fxa)) == A
    assert ts.nodes()[A].available == 4  # 5 released, 1 taken


def test_full_nodes_give_503(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 2, current_load=2, available=0)
    response = new_user(empty_ts, fxa)
    assert response.status_code == 503 and response.json() == NO_NODE
    assert empty_ts.users() == []


def test_users_spread_by_capacity(empty_ts, fxa):
    admin.add_node(empty_ts.engine, A, 10)
    admin.add_node(empty_ts.engine, B, 30)
    assigned = [node_of(new_user(empty_ts, fxa)) for _ in range(8)]
    assert (assigned.count(A), assigned.count(B)) == (2, 6)
    nodes = empty_ts.nodes()
    assert (nodes[A].current_load, nodes[B].current_load) == (2, 6)


def test_server_registers_its_own_node_at_start(database_url, fxa):
    settings = make_settings(database_url, fxa.url, public_url="https://sync.example.org/prefix",
                             init_node_capacity=500)
    create_tables(database_url)
    for _ in range(2):  # a restart registers nothing new
        tokenserver = Tokenserver(settings)
        tokenserver.start(register_own_node=True)
        rows = admin.list_nodes(tokenserver.engine)
        tokenserver.close()
        assert [(r.node, r.capacity, r.available, r.current_load, r.downed, r.backoff) for r in rows] == [
            ("https://sync.example.org/prefix", 500, 500, 0, 0, 0)]


def test_tokenserver_only_registers_no_node(database_url, fxa):
    create_tables(database_url)
    tokenserver = Tokenserver(make_settings(database_url, fxa.url))
    tokenserver.start(register_own_node=False)
    assert admin.list_nodes(tokenserver.engine) == []
    tokenserver.close()
