"""Random writes checked against a plain-Python model of storage-api §3.3,
§9.4 and §11: partial updates, `modified` bumps, ttl-only writes, expired
rows updated in place, batch merges."""

from __future__ import annotations

import random
from dataclasses import dataclass

from support.storage import read, write
from syncstorage.storage import BSO, BSOUpdate, ItemQuery

IDS = ["a", "b", "c", "d", "e"]
NEVER = None  # no expiry


@dataclass
class Record:
    payload: str
    sortindex: int | None
    modified: int
    expires_s: int | None  # NEVER or absolute seconds


def random_update(rng: random.Random, id: str) -> BSOUpdate:
    return BSOUpdate(
        id,
        payload=rng.choice([None, f"p{rng.randrange(1000)}", "ü€"]),
        sortindex=rng.choice([None, rng.randrange(-5, 5)]),
        ttl=rng.choice([None, None, 0, 3600]),  # 0: expired at once, 3600: outlives the test
    )


def apply(model: dict[str, Record], update: BSOUpdate, now: int, *, batch: bool) -> None:
    """storage-api §3.3 (direct writes) and §9.4 (batch commit: modified = T always)."""
    stored = model.get(update.id)
    expires = NEVER if update.ttl is None else now // 1000 + update.ttl
    if stored is None:  # an expired-but-unpurged row is still "stored"
        model[update.id] = Record(
            update.payload if update.payload is not None else "",
            update.sortindex,
            now,
            expires,
        )
        return
    if update.payload is not None:
        stored.payload = update.payload
    if update.sortindex is not None:
        stored.sortindex = update.sortindex
    if update.ttl is not None:
        stored.expires_s = expires
    if batch or update.payload is not None or update.sortindex is not None:
        stored.modified = now


def merge_staged(staged: dict[str, BSOUpdate], update: BSOUpdate) -> None:
    """§9.4: fields supplied later replace earlier ones, others stay."""
    old = staged.get(update.id)
    if old is None:
        staged[update.id] = BSOUpdate(update.id, update.payload, update.sortindex, update.ttl)
        return
    for field in ("payload", "sortindex", "ttl"):
        if getattr(update, field) is not None:
            setattr(old, field, getattr(update, field))


def visible(model: dict[str, Record], now_s: int) -> list[BSO]:
    return sorted(
        (
            BSO(id, r.modified, r.payload, r.sortindex)
            for id, r in model.items()
            if r.expires_s is NEVER or r.expires_s > now_s
        ),
        key=lambda b: b.id,
    )


def test_random_writes_match_the_model(storage):
    rng = random.Random(20261127)
    model: dict[str, Record] = {}
    for _ in range(40):
        ids = rng.sample(IDS, rng.randint(1, 3))
        action = rng.choice(["set", "set", "batch", "delete"])
        if action == "set":
            updates = [random_update(rng, id) for id in ids]
            now = write(storage, 1, "bookmarks", lambda s, u=updates: s.set_items(u))
            for update in updates:
                apply(model, update, now, batch=False)
        elif action == "batch":
            batch = write(storage, 1, "bookmarks", lambda s: s.create_batch())
            staged: dict[str, BSOUpdate] = {}
            for _ in range(rng.randint(1, 3)):
                updates = [random_update(rng, id) for id in rng.sample(ids, rng.randint(1, len(ids)))]
                write(storage, 1, "bookmarks", lambda s, u=updates: s.append_to_batch(batch, u))
                for update in updates:
                    merge_staged(staged, update)
            now = write(storage, 1, "bookmarks", lambda s: s.commit_batch(batch))
            for update in staged.values():
                apply(model, update, now, batch=True)
        else:
            write(storage, 1, "bookmarks", lambda s, i=ids: s.delete_items(i))
            for id in ids:
                model.pop(id, None)

        def listing(session):
            return session.now // 1000, session.find_items(ItemQuery(full=True)).items

        now_s, items = read(storage, 1, "bookmarks", listing)
        assert sorted(items, key=lambda b: b.id) == visible(model, now_s), action
