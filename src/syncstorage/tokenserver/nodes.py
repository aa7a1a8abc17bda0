"""Choosing a storage node for a new user record (auth-and-tokens §10)."""

from __future__ import annotations

import math

import sqlalchemy as sa

from syncstorage.tokenserver import errors
from syncstorage.tokenserver.schema import nodes

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
