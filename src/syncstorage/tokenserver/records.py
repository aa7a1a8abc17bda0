"""User records: lookup, allocation, the consistency rules and the update
(auth-and-tokens §9). Everything here runs inside the request's transaction;
the statements are in store.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import sqlalchemy as sa

from syncstorage.tokenserver import errors, store
from syncstorage.tokenserver.schema import MAX_GENERATION

MAX_ROWS_READ = 20  # §9.2 step 1


@dataclass(frozen=True, slots=True)
class KeyClaims:
    """What the request says about the user's keys; zero already means absent (§6.3 step 6)."""

    generation: int | None  # G
    keys_changed_at: int | None  # K
    client_state: str  # C, lowercase hex, may be empty


@dataclass(frozen=True, slots=True)
class UserRecord:
    uid: int
    generation: int
    keys_changed_at: int | None
    client_state: str
    created_at: int
    replaced_at: int | None
    nodeid: int
    node: str | None  # None when the node row is gone


def now_ms() -> int:
    return int(time.time() * 1000)


def get_user(
    conn: sa.Connection,
    service_id: int,
    email: str,
    claims: KeyClaims,
    *,
    allow_new_users: bool,
    release_rate: float,
) -> UserRecord:
    """The user's current record after §9.2-§9.4, or a TokenserverError."""
    rows = store.read_records(conn, service_id, email, MAX_ROWS_READ)
    if not rows:
        if not allow_new_users:
            raise errors.new_users_disabled()
        # A new record cannot break the §9.3 rules and needs no §9.4 update.
        return _allocate(
            conn,
            service_id,
            email,
            generation=claims.generation or 0,
            client_state=claims.client_state,
            keys_changed_at=claims.keys_changed_at,
            release_rate=release_rate,
        )
    records = sorted(
        (UserRecord(*row) for row in rows),
        key=lambda r: (r.generation, r.created_at),
        reverse=True,  # stays a stable sort
    )
    current, others = records[0], records[1:]
    old_client_states = {r.client_state for r in others if r.client_state != current.client_state}
    # Repair creation races: only the current record may be unreplaced.
    unreplaced = [r.uid for r in others if r.replaced_at is None]
    if unreplaced:
        store.mark_replaced(conn, unreplaced, current.created_at)

    if current.replaced_at is not None or current.node is None:
        if current.generation < MAX_GENERATION:
            current = _allocate(
                conn,
                service_id,
                email,
                generation=current.generation,
                client_state=current.client_state,
                keys_changed_at=current.keys_changed_at,
                release_rate=release_rate,
            )
        elif current.node is None:
            raise errors.server_error(500, "retired user without a node")
        # A retired user that still has a node is used as it is.

    check_rules(current, old_client_states, claims)
    return _update(conn, service_id, email, current, claims)


def check_rules(current: UserRecord, old_client_states: set[str], claims: KeyClaims) -> None:
    """§9.3: the first failing rule wins."""
    G, K, C = claims.generation, claims.keys_changed_at, claims.client_state
    gen, kca, cs = current.generation, current.keys_changed_at, current.client_state
    if K is not None and kca is not None and K > kca and G is not None and G < K:
        raise errors.invalid_keys_changed_at("new keys_changed_at above the token's generation")
    if cs and not C:
        raise errors.unacceptable_client_state("empty string")
    if C in old_client_states:
        raise errors.unacceptable_client_state("stale value")
    if C != cs and G is not None and G <= gen:
        raise errors.unacceptable_client_state("new value with no generation change")
    if C != cs and K is not None and kca is not None and K <= kca:
        raise errors.unacceptable_client_state("new value with no keys_changed_at change")
    if G is not None and gen > G:
        raise errors.invalid_generation()
    if K is not None and kca is not None and kca > K:
        raise errors.invalid_keys_changed_at("keys_changed_at older than the user's")
    if K is None and kca is not None and kca != 0:
        raise errors.invalid_keys_changed_at("no keys_changed_at, but the user has one")


def new_values(current: UserRecord, claims: KeyClaims) -> tuple[int, int | None]:
    """§9.4: (generation', keys_changed_at') for a record that passed §9.3."""
    G, K = claims.generation, claims.keys_changed_at
    gen, kca = current.generation, current.keys_changed_at
    # Without K, rule 8 left kca NULL or 0, and it is kept.
    new_kca = K if K is not None else kca
    if G is not None:
        new_gen = G
    elif K is not None and (kca is None or K > kca) and K > gen:
        new_gen = K
    else:
        new_gen = gen
    return new_gen, new_kca


def _update(
    conn: sa.Connection, service_id: int, email: str, current: UserRecord, claims: KeyClaims
) -> UserRecord:
    new_gen, new_kca = new_values(current, claims)
    if claims.client_state != current.client_state:
        # Key change: a new uid on the same node (its load is not touched), so
        # the client starts on an empty storage; every older row is replaced.
        now = now_ms()
        uid = store.insert_user(
            conn, service_id, email, new_gen, claims.client_state, now, current.nodeid, new_kca
        )
        store.replace_older(conn, service_id, email, now)
        return UserRecord(
            uid, new_gen, new_kca, claims.client_state, now, None, current.nodeid, current.node
        )
    if (new_gen, new_kca) != (current.generation, current.keys_changed_at):
        # Guarded so that concurrent requests never move the values backwards.
        store.update_keys(conn, service_id, email, new_gen, new_kca)
        return replace(current, generation=new_gen, keys_changed_at=new_kca)
    return current


def _allocate(
    conn: sa.Connection,
    service_id: int,
    email: str,
    *,
    generation: int,
    client_state: str,
    keys_changed_at: int | None,
    release_rate: float,
) -> UserRecord:
    nodeid, node = store.assign_node(conn, service_id, release_rate)
    now = now_ms()
    uid = store.insert_user(
        conn, service_id, email, generation, client_state, now, nodeid, keys_changed_at
    )
    return UserRecord(uid, generation, keys_changed_at, client_state, now, None, nodeid, node)
