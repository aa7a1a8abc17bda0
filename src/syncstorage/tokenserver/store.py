"""Every statement the tokenserver runs for a token request and at start-up
(auth-and-tokens §8-§10, §13.1): the service row and the own node, the user
records, the choice of a node. What to write is decided in records.py (§9);
the operators' statements are in admin.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa

from syncstorage.tokenserver import errors
from syncstorage.tokenserver.schema import SYNC_PATTERN, SYNC_SERVICE, nodes, services, users


# --- the service row and the own node (§8, §13.1) ---


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    pattern: str


def ensure_service(engine: sa.Engine) -> Service:
    """The `sync-1.5` service row, inserted if absent (§8)."""
    query = sa.select(services.c.id, services.c.pattern).where(services.c.service == SYNC_SERVICE)
    with engine.begin() as conn:
        row = conn.execute(query).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(services).values(service=SYNC_SERVICE, pattern=SYNC_PATTERN)
                    )
            except sa.exc.IntegrityError:
                pass  # another process inserted it first
            row = conn.execute(query).one()
    return Service(row.id, row.pattern or SYNC_PATTERN)


def ensure_node(engine: sa.Engine, service_id: int, node_url: str, capacity: int) -> bool:
    """Register `node_url` as a node with full capacity unless a row for it
    exists (§13.1). Returns whether a row was inserted."""
    if len(node_url) > 64:
        raise ValueError(f"node URL {node_url!r} is longer than the 64 characters nodes.node holds")
    exists = sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == node_url)
    with engine.begin() as conn:
        if conn.execute(exists).first() is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.insert(nodes).values(
                        service=service_id,
                        node=node_url,
                        available=capacity,
                        current_load=0,
                        capacity=capacity,
                        downed=0,
                        backoff=0,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # another process registered it first
    return True


# --- user records (§9) ---


_SELECT_USERS = sa.select(
    users.c.uid,
    users.c.generation,
    users.c.keys_changed_at,
    users.c.client_state,
    users.c.created_at,
    users.c.replaced_at,
    users.c.nodeid,
    nodes.c.node,
).select_from(users.outerjoin(nodes, users.c.nodeid == nodes.c.id))

def read_records(conn: sa.Connection, service_id: int, email: str, limit: int) -> Sequence[sa.Row]:
    """The newest `limit` records of the user, in `UserRecord`'s field order."""
    return conn.execute(
        _SELECT_USERS.where(users.c.service == service_id, users.c.email == email)
        .order_by(users.c.created_at.desc(), users.c.uid.desc())
        .limit(limit)
    ).all()


def insert_user(
    conn: sa.Connection,
    service_id: int,
    email: str,
    generation: int,
    client_state: str,
    created_at: int,
    nodeid: int,
    keys_changed_at: int | None,
) -> int:
    result = conn.execute(
        sa.insert(users).values(
            service=service_id,
            email=email,
            generation=generation,
            client_state=client_state,
            created_at=created_at,
            replaced_at=None,
            nodeid=nodeid,
            keys_changed_at=keys_changed_at,
        )
    )
    # one row was inserted: its key is there (the stubs allow None for any statement)
    return cast(sa.Row, result.inserted_primary_key)[0]


def mark_replaced(conn: sa.Connection, uids: list[int], replaced_at: int) -> None:
    conn.execute(
        sa.update(users)
        .where(users.c.uid.in_(uids), users.c.replaced_at.is_(None))
        .values(replaced_at=replaced_at)
    )


def replace_older(conn: sa.Connection, service_id: int, email: str, now: int) -> None:
    """Mark replaced at `now` every unreplaced record created before it."""
    conn.execute(
        sa.update(users)
        .where(
            users.c.service == service_id,
            users.c.email == email,
            users.c.replaced_at.is_(None),
            users.c.created_at < now,
        )
        .values(replaced_at=now)
    )


def update_keys(
    conn: sa.Connection, service_id: int, email: str, new_gen: int, new_kca: int | None
) -> None:
    """Guarded so that concurrent requests never move the values backwards."""
    conn.execute(
        sa.update(users)
        .where(
            users.c.service == service_id,
            users.c.email == email,
            users.c.generation <= new_gen,
            sa.func.coalesce(users.c.keys_changed_at, 0)
            <= sa.func.coalesce(sa.literal(new_kca, sa.BigInteger), users.c.keys_changed_at, 0),
            users.c.replaced_at.is_(None),
        )
        .values(generation=new_gen, keys_changed_at=new_kca)
    )


# --- choosing a node for a new record (§10) ---


MAX_RELEASE_ROUNDS = 5

# Lowest load ratio first (floating point: SQLite has no LN), then the most
# free slots, then the lowest id (§10 step 1).
_BY_LOAD = (
    sa.text("current_load * 1.0 / capacity"),
    nodes.c.available.desc(),
    nodes.c.id,
)


def _eligible(service_id: int):
    return sa.select(nodes.c.id, nodes.c.node).where(
        nodes.c.service == service_id,
        nodes.c.available > 0,
        nodes.c.capacity > nodes.c.current_load,
        nodes.c.downed == 0,
        nodes.c.backoff == 0,
    )


def release_capacity(conn: sa.Connection, service_id: int, release_rate: float) -> bool:
    """§10 step 2: give every full-but-not-at-capacity live node some slots.

    Returns whether any row changed. Computed in Python so the rounding
    (half up) is the same on every database.
    """
    rows = conn.execute(
        sa.select(nodes.c.id, nodes.c.available, nodes.c.capacity, nodes.c.current_load).where(
            nodes.c.service == service_id,
            nodes.c.available <= 0,
            nodes.c.capacity > nodes.c.current_load,
            nodes.c.downed == 0,
        )
    ).all()
    changed = False
    for row in rows:
        released = min(
            math.floor(row.capacity * release_rate + 0.5), row.capacity - row.current_load
        )
        if released != row.available:
            conn.execute(sa.update(nodes).where(nodes.c.id == row.id).values(available=released))
            changed = True
    return changed


def assign_node(conn: sa.Connection, service_id: int, release_rate: float) -> tuple[int, str]:
    """Pick the least-loaded eligible node and count one more user on it.

    Returns (node id, node URL); raises the §10 step 3 error (503) when no
    node can take the user.
    """
    releases = 0
    # Bounded: each pass either claims a node, releases capacity (at most
    # MAX_RELEASE_ROUNDS times) or loses a race for the last slot of a node.
    for _ in range(4 * MAX_RELEASE_ROUNDS):
        chosen = conn.execute(_eligible(service_id).order_by(*_BY_LOAD).limit(1)).first()
        if chosen is None:
            if releases == MAX_RELEASE_ROUNDS or not release_capacity(
                conn, service_id, release_rate
            ):
                break
            releases += 1
            continue
        # Guarded so two concurrent requests cannot both take the last slot.
        claimed = conn.execute(
            sa.update(nodes)
            .where(
                nodes.c.id == chosen.id,
                nodes.c.available > 0,
                nodes.c.capacity > nodes.c.current_load,
            )
            .values(
                current_load=nodes.c.current_load + 1,
                available=sa.case((nodes.c.available > 0, nodes.c.available - 1), else_=0),
            )
        ).rowcount
        if claimed:
            return chosen.id, chosen.node
    raise errors.server_error(503, "no storage node can take a new user")
