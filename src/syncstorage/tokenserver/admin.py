"""Operator actions on the tokenserver tables: nodes and users.

Used by the `syncstorage node …` / `syncstorage user …` / `check` commands
(cli/node.py, cli/user.py, checks.py) and the admin page (admin/users.py,
admin/nodes.py), which hold no SQL. Each function is one transaction;
operators may also edit the tables with their own SQL (auth-and-tokens §8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from syncstorage.db import prefix_range
from syncstorage.tokenserver.store import ensure_service
from syncstorage.tokenserver.records import now_ms
from syncstorage.tokenserver.schema import SYNC_SERVICE, nodes, services, users

NODE_FIELDS = ("capacity", "available", "current_load", "downed", "backoff")


class NodeNotFound(LookupError):
    pass


def _node_id(conn: sa.Connection, service_id: int, url: str) -> int:
    node_id = conn.execute(
        sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == url)
    ).scalar()
    if node_id is None:
        raise NodeNotFound(f"no node {url!r}")
    return node_id


def _node_url(url: str) -> str:
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"node URL {url!r} must start with http:// or https://")
    if len(url) > 64:
        raise ValueError(f"node URL {url!r} is longer than the 64 characters nodes.node holds")
    return url


def add_node(
    engine: sa.Engine,
    url: str,
    capacity: int,
    *,
    available: int | None = None,
    current_load: int = 0,
    downed: bool = False,
    backoff: bool = False,
) -> int:
    """Insert a node; `available` defaults to its free capacity. Returns its id."""
    url = _node_url(url)
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == url)
        ).first()
        if exists is not None:
            raise ValueError(f"node {url} already exists (id {exists.id})")
        result = conn.execute(
            sa.insert(nodes).values(
                service=service_id,
                node=url,
                available=capacity - current_load if available is None else available,
                current_load=current_load,
                capacity=capacity,
                downed=int(downed),
                backoff=int(backoff),
            )
        )
        # one row was inserted: its key is there (the stubs allow None for any statement)
        return cast(sa.Row, result.inserted_primary_key)[0]


def update_node(engine: sa.Engine, url: str, **fields: Any) -> None:
    """Set any of NODE_FIELDS on the node (None values are left alone)."""
    unknown = set(fields) - set(NODE_FIELDS)
    if unknown:
        raise ValueError(f"unknown node fields: {sorted(unknown)}")
    values = {name: int(value) for name, value in fields.items() if value is not None}
    url = _node_url(url)
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        node_id = _node_id(conn, service_id, url)
        if values:
            conn.execute(sa.update(nodes).where(nodes.c.id == node_id).values(**values))


def _unassign_users(conn: sa.Connection, node_id: int) -> int:
    # A replaced current record makes the next token request allocate a copy
    # on another node (auth-and-tokens §9.2 step 4); the client re-uploads.
    return conn.execute(
        sa.update(users)
        .where(users.c.nodeid == node_id, users.c.replaced_at.is_(None))
        .values(replaced_at=now_ms())
    ).rowcount


def drain_node(engine: sa.Engine, url: str) -> int:
    """No new users for the node, and its users move to other nodes at their
    next sync. Returns the number of users moved."""
    url = _node_url(url)
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        node_id = _node_id(conn, service_id, url)
        conn.execute(sa.update(nodes).where(nodes.c.id == node_id).values(available=0, backoff=1))
        return _unassign_users(conn, node_id)


def remove_node(engine: sa.Engine, url: str) -> int:
    """Delete the node; its users move to other nodes at their next sync.
    Returns the number of users moved."""
    url = _node_url(url)
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        node_id = _node_id(conn, service_id, url)
        moved = _unassign_users(conn, node_id)
        conn.execute(sa.delete(nodes).where(nodes.c.id == node_id))
        return moved


def list_nodes(engine: sa.Engine) -> Sequence[sa.Row]:
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        return conn.execute(
            sa.select(nodes).where(nodes.c.service == service_id).order_by(nodes.c.id)
        ).all()


# User rows with their node URL (None when the node row is gone), newest
# first: what `user list` and `user show` print.
USERS_WITH_NODE = (
    sa.select(users, nodes.c.node)
    .select_from(users.outerjoin(nodes, users.c.nodeid == nodes.c.id))
    .order_by(users.c.created_at.desc(), users.c.uid.desc())
)


def list_users(
    engine: sa.Engine, email: str | None = None, include_replaced: bool = False
) -> Sequence[sa.Row]:
    """User rows with their node URL, newest first."""
    service_id = ensure_service(engine).id
    query = USERS_WITH_NODE.where(users.c.service == service_id)
    if email is not None:
        query = query.where(users.c.email == email)
    if not include_replaced:
        query = query.where(users.c.replaced_at.is_(None))
    with engine.begin() as conn:
        return conn.execute(query).all()


def user_records(engine: sa.Engine, *, uid: int | None = None, email: str | None = None) -> Sequence[sa.Row]:
    """The user rows of one uid, or else of one email (any service), with
    their node URL, newest first: what `user show` and `user delete` read."""
    where = users.c.uid == uid if uid is not None else users.c.email == email
    with engine.connect() as conn:
        return conn.execute(USERS_WITH_NODE.where(where)).all()


def find_node(engine: sa.Engine, url: str) -> sa.Row | None:
    """The sync service's node row of `url`, or None: what `check` reads."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(nodes)
            .join(services, services.c.id == nodes.c.service)
            .where(services.c.service == SYNC_SERVICE, nodes.c.node == url)
        ).first()


def user_page(
    engine: sa.Engine, *, before: int | None = None, search: str = "", limit: int = 50
) -> tuple[Sequence[sa.Row], int]:
    """One page of user records with their node URL, and the number of
    current users. Without `search`: the current records, highest uid
    first, below uid `before` (keyset paging: the last uid of the previous
    page). `search`: a uid (digits), else the start of an email (records in
    email order, the first `limit`, read from the lookup_idx index alone);
    a search finds replaced records too."""
    service_id = ensure_service(engine).id
    query = (
        sa.select(users.c.uid, users.c.email, users.c.created_at, users.c.replaced_at, users.c.nodeid, nodes.c.node)
        .select_from(users.outerjoin(nodes, users.c.nodeid == nodes.c.id))
        .limit(limit)
    )
    if search.isdigit():
        query = query.where(users.c.uid == int(search))
    elif search:
        # every record (replaced ones too): a filter on service or
        # replaced_at would lead SQLite's planner to replaced_at_idx and a
        # scan of every current user
        query = query.where(prefix_range(users.c.email, search)).order_by(users.c.email, users.c.service, users.c.created_at)
    else:
        query = query.where(users.c.service == service_id, users.c.replaced_at.is_(None)).order_by(users.c.uid.desc())
        if before is not None:
            query = query.where(users.c.uid < before)
    current = sa.select(sa.func.count()).select_from(users).where(
        users.c.service == service_id, users.c.replaced_at.is_(None)
    )
    with engine.connect() as conn:
        return conn.execute(query).all(), conn.execute(current).scalar_one()


def undrain_node(engine: sa.Engine, url: str) -> None:
    """Undo `drain_node`: the node takes new users again, up to its free
    capacity (`node update URL --no-backoff --available N`)."""
    url = _node_url(url)
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        node_id = _node_id(conn, service_id, url)
        conn.execute(
            sa.update(nodes)
            .where(nodes.c.id == node_id)
            .values(
                backoff=0,
                available=sa.case(
                    (nodes.c.capacity > nodes.c.current_load, nodes.c.capacity - nodes.c.current_load), else_=0
                ),
            )
        )


def delete_user_records(engine: sa.Engine, email: str) -> int:
    """Delete every record of one email (a deleted account's): the number deleted."""
    with engine.begin() as conn:
        return conn.execute(sa.delete(users).where(users.c.email == email)).rowcount


# --- moving users between nodes (`node migrate`, syncstorage/node_migration.py) ---


def users_on_node(engine: sa.Engine, url: str, limit: int, *, after: int = 0) -> Sequence[sa.Row]:
    """(uid, email) of up to `limit` current users of the node with a uid
    above `after`, lowest uid first."""
    service_id = ensure_service(engine).id
    with engine.connect() as conn:
        node_id = _node_id(conn, service_id, _node_url(url))
        query = (
            sa.select(users.c.uid, users.c.email)
            .where(users.c.service == service_id, users.c.nodeid == node_id, users.c.replaced_at.is_(None))
            .where(users.c.uid > after)
            .order_by(users.c.uid)
            .limit(limit)
        )
        return conn.execute(query).all()


def current_node(engine: sa.Engine, email: str) -> str | None:
    """The node URL of the sync user's current record, None without one."""
    service_id = ensure_service(engine).id
    with engine.connect() as conn:
        return conn.execute(
            sa.select(nodes.c.node)
            .select_from(users.join(nodes, users.c.nodeid == nodes.c.id))
            .where(users.c.service == service_id, users.c.email == email, users.c.replaced_at.is_(None))
        ).scalar()


def move_user(engine: sa.Engine, uid: int, from_url: str, to_url: str) -> bool:
    """Point the user's current record at the node `to_url`, keeping its uid
    (the data was copied under it); False if it is not on `from_url` any
    more. The destination counts one more user and has one slot less
    available; the source one user less, its available slots unchanged (an
    operator moving users off a node does not want new ones sent there)."""
    service_id = ensure_service(engine).id
    with engine.begin() as conn:
        from_id = _node_id(conn, service_id, _node_url(from_url))
        to_id = _node_id(conn, service_id, _node_url(to_url))
        moved = conn.execute(
            sa.update(users)
            .where(users.c.uid == uid, users.c.nodeid == from_id, users.c.replaced_at.is_(None))
            .values(nodeid=to_id)
        ).rowcount
        if not moved:
            return False
        conn.execute(
            sa.update(nodes)
            .where(nodes.c.id == to_id)
            .values(
                current_load=nodes.c.current_load + 1,
                available=sa.case((nodes.c.available > 0, nodes.c.available - 1), else_=0),
            )
        )
        conn.execute(
            sa.update(nodes)
            .where(nodes.c.id == from_id)
            .values(current_load=sa.case((nodes.c.current_load > 0, nodes.c.current_load - 1), else_=0))
        )
        return True
