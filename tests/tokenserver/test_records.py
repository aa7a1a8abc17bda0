"""User records: every §9.3 rule and §9.4 update, on every database
(auth-and-tokens §9). Rows are seeded with SQL, as operators may."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
import tokenlib

from support.tokenserver import FXA_UID, NODE, SECRET
from syncstorage.tokenserver.schema import MAX_GENERATION, nodes, users

EMAIL = f"{FXA_UID}@api.accounts.firefox.com"
T0 = 1_600_000_000_000


def b64(client_state_hex: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(client_state_hex)).rstrip(b"=").decode()


def node_id(ts, url=NODE) -> int:
    return ts.nodes()[url].id


def seed(ts, *, generation=0, kca=None, cs="aaaa", created_at=T0, replaced_at=None, nodeid=None) -> int:
    nodeid = node_id(ts) if nodeid is None else nodeid
    with ts.engine.begin() as conn:
        service = conn.execute(sa.text("SELECT id FROM services")).scalar()
        return conn.execute(
            sa.insert(users).values(
                service=service, email=EMAIL, generation=generation, client_state=cs,
                created_at=created_at, replaced_at=replaced_at, nodeid=nodeid, keys_changed_at=kca,
            )
        ).inserted_primary_key[0]


def ask(ts, fxa, *, G=None, K=0, C="aaaa"):
    """A token request with generation G (None: absent) and X-KeyID K-C."""
    return ts.get(fxa.access_token(FXA_UID, generation=G), key_id=f"{K}-{b64(C)}")


def error(status, description, location="body", name=""):
    return {"status": status, "errors": [{"location": location, "name": name, "description": description}]}


def cs_error(why):
    return error("invalid-client-state", f"Unacceptable client-state value {why}", "header", "X-Client-State")


KCA_ERROR = error("invalid-keysChangedAt", "Unauthorized")
GEN_ERROR = error("invalid-generation", "Unauthorized")


@pytest.mark.parametrize(
    ("user", "request_", "expected"),
    [
        # rule 1: K > U.kca but G < K
        (dict(generation=10, kca=10), dict(G=15, K=20), KCA_ERROR),
        # rule 2: empty client state for a user who has one
        (dict(cs="aaaa"), dict(C=""), cs_error("empty string")),
        # rule 4: new client state without a generation change
        (dict(generation=10, cs="aaaa"), dict(G=10, C="bbbb"), cs_error("new value with no generation change")),
        (dict(generation=10, cs="aaaa"), dict(G=9, C="bbbb"), cs_error("new value with no generation change")),
        # rule 5: new client state without a keys_changed_at change
        (dict(generation=10, kca=10), dict(K=10, C="bbbb"), cs_error("new value with no keys_changed_at change")),
        (dict(generation=10, kca=10), dict(K=9, C="bbbb"), cs_error("new value with no keys_changed_at change")),
        # rule 6: generation going backwards
        (dict(generation=10), dict(G=5), GEN_ERROR),
        # rule 7: keys_changed_at going backwards
        (dict(generation=10, kca=10), dict(K=5), KCA_ERROR),
        # rule 8: no keys_changed_at for a user who has one
        (dict(generation=10, kca=10), dict(G=20), KCA_ERROR),
        # first failure wins: rules 2 and 6 both fail
        (dict(generation=10, cs="aaaa"), dict(G=5, C=""), cs_error("empty string")),
        # rules 1 and 4 both fail
        (dict(generation=10, kca=10), dict(G=10, K=20, C="bbbb"), KCA_ERROR),
        # rules 5 and 7 both fail
        (dict(generation=1, kca=10), dict(K=5, C="bbbb"), cs_error("new value with no keys_changed_at change")),
    ],
)
def test_consistency_rules(ts, fxa, user, request_, expected):
    seed(ts, **user)
    before = ts.users()
    response = ask(ts, fxa, **request_)
    assert response.status_code == 401, response.text
    assert response.json() == expected
    assert ts.users() == before  # nothing written


@pytest.mark.parametrize(
    ("user", "request_", "reason"),
    [
        (dict(generation=10, kca=10), dict(G=15, K=20), "new keys_changed_at above the token's generation"),
        (dict(generation=10, cs="aaaa"), dict(C=""), "unacceptable client state: empty string"),
        (dict(generation=10), dict(G=5), "generation older than the user's"),
        (dict(generation=10, kca=10), dict(K=5), "keys_changed_at older than the user's"),
        (dict(generation=10, kca=10), dict(G=20), "no keys_changed_at, but the user has one"),
    ],
)
def test_rules_sharing_an_answer_are_told_apart_in_the_log(ts, fxa, user, request_, reason, logged_reason):
    # Rules 1, 7 and 8 all answer invalid-keysChangedAt/Unauthorized.
    seed(ts, **user)
    assert ask(ts, fxa, **request_).status_code == 401
    assert logged_reason() == reason


def test_rule_3_stale_client_state(ts, fxa):
    seed(ts, generation=5, kca=5, cs="bbbb", created_at=T0, replaced_at=T0 + 1)
    seed(ts, generation=10, kca=10, cs="aaaa", created_at=T0 + 1)
    response = ask(ts, fxa, G=20, K=20, C="bbbb")
    assert response.status_code == 401
    assert response.json() == cs_error("stale value")


def test_rule_8_allows_zero_keys_changed_at(ts, fxa):
    seed(ts, generation=10, kca=0)
    response = ask(ts, fxa, G=20)
    assert response.status_code == 200, response.text
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at) == (20, 0)


def test_new_user_record(ts, fxa):
    response = ask(ts, fxa, G=7, K=1234, C="aaaa")
    assert response.status_code == 200
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at, row.client_state, row.replaced_at) == (7, 1234, "aaaa", None)
    assert row.nodeid == node_id(ts)
    assert response.json()["uid"] == row.uid


def test_new_user_without_generation_or_kca(ts, fxa):
    assert ask(ts, fxa, G=None, K=0, C="").status_code == 200
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at, row.client_state) == (0, None, "")
    payload = tokenlib.parse_token(ask(ts, fxa, K=0, C="").json()["id"], secret=SECRET)
    assert payload["fxa_kid"] == "0000000000000-"


def test_same_request_again_changes_nothing(ts, fxa):
    uid = ask(ts, fxa, G=7, K=7).json()["uid"]
    rows = ts.users()
    assert ask(ts, fxa, G=7, K=7).json()["uid"] == uid
    assert ts.users() == rows


def test_worked_check_kca_raises_generation(ts, fxa):
    seed(ts, generation=0, kca=None)
    response = ask(ts, fxa, K=1234)
    assert response.status_code == 200, response.text
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at) == (1234, 1234)
    assert tokenlib.parse_token(response.json()["id"], secret=SECRET)["fxa_kid"] == "0000000001234-qqo"


def test_worked_check_same_kca_keeps_generation(ts, fxa):
    seed(ts, generation=0, kca=1234)
    assert ask(ts, fxa, K=1234).status_code == 200
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at) == (0, 1234)


def test_generation_update_in_place(ts, fxa):
    uid = seed(ts, generation=10, kca=10)
    response = ask(ts, fxa, G=12, K=11)
    assert response.json()["uid"] == uid
    (row,) = ts.users()
    assert (row.generation, row.keys_changed_at) == (12, 11)


def test_fxa_kid_falls_back_to_generation(ts, fxa):
    seed(ts, generation=5, kca=None)
    payload = tokenlib.parse_token(ask(ts, fxa, G=5).json()["id"], secret=SECRET)
    assert payload["fxa_kid"] == "0000000000005-qqo"


def test_key_change_moves_user_to_new_uid_on_same_node(make_tokenserver, fxa):
    ts = make_tokenserver(node_capacities={NODE: 100, "https://node-b.example.org": 100})
    old_uid = seed(ts, generation=1234, kca=1234, cs="aaaa")
    load_before = {url: row.current_load for url, row in ts.nodes().items()}
    response = ask(ts, fxa, G=1235, K=1235, C="bbbb")
    assert response.status_code == 200, response.text
    body = response.json()
    old, new = ts.users()
    assert old.uid == old_uid and old.replaced_at == new.created_at
    assert (new.uid, new.generation, new.keys_changed_at, new.client_state, new.replaced_at) == (
        body["uid"], 1235, 1235, "bbbb", None)
    assert new.uid != old_uid
    assert new.nodeid == old.nodeid
    assert body["api_endpoint"] == f"{NODE}/1.5/{new.uid}"
    assert {url: row.current_load for url, row in ts.nodes().items()} == load_before
    payload = tokenlib.parse_token(body["id"], secret=SECRET)
    assert payload["fxa_kid"] == "0000000001235-u7s"
    # The old client state is now stale.
    assert ask(ts, fxa, G=1236, K=1236, C="aaaa").json() == cs_error("stale value")


def test_key_change_with_generation_only(ts, fxa):
    seed(ts, generation=10, cs="aaaa")
    response = ask(ts, fxa, G=11, C="bbbb")
    assert response.status_code == 200, response.text
    old, new = ts.users()
    assert old.replaced_at is not None and new.client_state == "bbbb" and new.generation == 11


def test_creation_race_is_repaired(ts, fxa):
    older = seed(ts, generation=10, created_at=T0)
    newer = seed(ts, generation=10, created_at=T0 + 5)
    response = ask(ts, fxa, G=10)
    assert response.json()["uid"] == newer
    rows = {row.uid: row for row in ts.users()}
    assert rows[older].replaced_at == T0 + 5
    assert rows[newer].replaced_at is None


def test_highest_generation_is_current(ts, fxa):
    high = seed(ts, generation=20, created_at=T0)
    seed(ts, generation=10, created_at=T0 + 5)
    assert ask(ts, fxa, G=20).json()["uid"] == high


def test_replaced_record_gets_a_copy_on_a_fresh_node(make_tokenserver, fxa):
    ts = make_tokenserver(node_capacities={NODE: 100, "https://node-b.example.org": 100})
    old_uid = seed(ts, generation=10, kca=10, cs="aaaa", replaced_at=T0 + 1)
    response = ask(ts, fxa, G=10, K=10)
    assert response.status_code == 200, response.text
    rows = ts.users()
    assert len(rows) == 2
    new = rows[1]
    assert new.uid == response.json()["uid"] != old_uid
    assert (new.generation, new.keys_changed_at, new.client_state, new.replaced_at) == (10, 10, "aaaa", None)
    # Both nodes were empty: the one with the most free slots, then the lower id, wins.
    assert new.nodeid == node_id(ts, NODE)


def test_user_whose_node_is_gone_gets_a_copy(ts, fxa):
    seed(ts, generation=10, nodeid=987654)
    response = ask(ts, fxa, G=10)
    assert response.status_code == 200, response.text
    assert response.json()["api_endpoint"].startswith(NODE + "/1.5/")
    assert ts.users()[-1].nodeid == node_id(ts)


def test_retired_user_with_node_is_used_as_is(ts, fxa):
    uid = seed(ts, generation=MAX_GENERATION, replaced_at=T0 + 1)
    response = ask(ts, fxa)  # no generation: rule 6 cannot fire
    assert response.status_code == 200
    assert response.json()["uid"] == uid
    assert len(ts.users()) == 1
    assert ask(ts, fxa, G=5).json() == GEN_ERROR


def test_retired_user_without_node(ts, fxa, logged_reason):
    seed(ts, generation=MAX_GENERATION, nodeid=987654)
    response = ask(ts, fxa)
    assert response.status_code == 500
    assert response.json() == error("internal-error", "Server error", "internal")
    assert logged_reason() == "retired user without a node"


def test_users_and_nodes_reread_every_request(ts, fxa):
    """Operators may empty the tables and insert rows with explicit ids while the server runs (§8)."""
    ask(ts, fxa, G=1)
    with ts.engine.begin() as conn:
        conn.execute(sa.delete(users))
        conn.execute(sa.delete(nodes))
        service = conn.execute(sa.text("SELECT id FROM services")).scalar()
        conn.execute(sa.insert(nodes).values(id=500, service=service, node="https://other.example.org",
                                             available=1, current_load=0, capacity=1, downed=0, backoff=0))
    response = ask(ts, fxa, G=1)
    assert response.status_code == 200, response.text
    assert response.json()["api_endpoint"].startswith("https://other.example.org/1.5/")
    assert ts.users()[0].nodeid == 500


def test_concurrent_first_requests_end_with_one_current_record(ts, fxa):
    from concurrent.futures import ThreadPoolExecutor

    token = fxa.access_token(FXA_UID, generation=3)
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: ts.get(token, key_id="3-qqo"), range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    final = ts.get(token, key_id="3-qqo").json()["uid"]  # repairs any creation race (§9.2 step 3)
    assert [u.uid for u in ts.users() if u.replaced_at is None] == [final]
    assert ts.get(token, key_id="3-qqo").json()["uid"] == final
