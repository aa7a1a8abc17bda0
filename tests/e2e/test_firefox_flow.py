"""A Firefox-like sync, end to end: real server process, real HTTP, tokens
signed with the master secret and every request Hawk-signed (issue 2,
"Tests it must have"). Runs on SQLite and on each configured backend."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from support.client import SyncClient, encrypted_payload, marker_of

pytestmark = pytest.mark.e2e

UID = 4242
HISTORY_RECORDS = 2500  # "a few thousand", uploaded 100 per POST
PAGE = 1000


def ts(response) -> str:
    return response.headers["X-Last-Modified"]


def meta_global(sync_id: str) -> dict:
    # meta/global is the one cleartext record (storage version 5 clients).
    engines = {name: {"version": 1, "syncID": f"{name[:4]}-{sync_id}"} for name in ("history", "bookmarks")}
    return {
        "id": "global",
        "payload": json.dumps({"syncID": sync_id, "storageVersion": 5, "engines": engines}),
    }


def fresh_start(client: SyncClient, sync_id: str) -> str:
    """What Firefox does when the server has no (usable) data: wipe the
    user's storage, then upload meta/global and crypto/keys, each create-only.
    Returns the X-Last-Modified of crypto/keys."""
    wiped = client.delete("")
    assert wiped.status_code == 200, wiped.text
    assert client.get("info/collections").json() == {}

    put = client.put("storage/meta/global", json=meta_global(sync_id), headers={"X-If-Unmodified-Since": "0"})
    assert put.status_code == 200, put.text
    keys = {"id": "keys", "payload": encrypted_payload(f"keys-{sync_id}")}
    put = client.put("storage/crypto/keys", json=keys, headers={"X-If-Unmodified-Since": "0"})
    assert put.status_code == 200, put.text
    return ts(put)


def batch_upload(client: SyncClient, collection: str, records: list[dict], since: str) -> str:
    """Upload like Firefox's batching uploader: 100-record POSTs into one
    batch, every POST guarded by X-If-Unmodified-Since, then commit.
    Returns the commit's timestamp."""
    headers = {"X-If-Unmodified-Since": since}
    chunks = [records[i : i + 100] for i in range(0, len(records), 100)]
    first = client.post(
        f"storage/{collection}",
        params={"batch": "true"},
        json=chunks[0],
        headers={**headers, "X-Weave-Total-Records": str(len(records))},
    )
    assert first.status_code == 202, first.text
    batch = first.json()["batch"]
    assert first.json()["failed"] == {}
    for chunk in chunks[1:-1]:
        staged = client.post(f"storage/{collection}", params={"batch": batch}, json=chunk, headers=headers)
        assert staged.status_code == 202, staged.text
        assert staged.json()["failed"] == {}
        assert staged.json()["batch"] == batch
        # staging is invisible: the collection timestamp has not moved
        assert ts(staged) == ts(first)
    last = chunks[-1] if len(chunks) > 1 else []
    commit = client.post(
        f"storage/{collection}", params={"batch": batch, "commit": "true"}, json=last, headers=headers
    )
    assert commit.status_code == 200, commit.text
    body = commit.json()
    assert body["failed"] == {}
    assert f"{body['modified']:.2f}" == ts(commit)
    return ts(commit)


def history_records(count: int, generation: str) -> list[dict]:
    return [
        {"id": f"hist{i:06d}", "payload": encrypted_payload(f"{generation}{i}"), "sortindex": i % 50}
        for i in range(count)
    ]


def download_all(client: SyncClient, collection: str, **params) -> tuple[list[dict], int]:
    """Full download with limit paging, holding X-If-Unmodified-Since to the
    first page's timestamp as Firefox does. Returns (records, pages)."""
    query = {"full": "1", "limit": str(PAGE), **params}
    first = client.get(f"storage/{collection}", params=query)
    assert first.status_code == 200, first.text
    records, pages, response = list(first.json()), 1, first
    since = ts(first)
    while "X-Weave-Next-Offset" in response.headers:
        query["offset"] = response.headers["X-Weave-Next-Offset"]
        response = client.get(f"storage/{collection}", params=query, headers={"X-If-Unmodified-Since": since})
        assert response.status_code == 200, response.text
        assert int(response.headers["X-Weave-Records"]) == len(response.json())
        records += response.json()
        pages += 1
    return records, pages


def test_first_sync_then_second_device_downloads_everything(make_client):
    first = make_client(UID)
    info = first.get("info/collections")
    assert info.status_code == 200
    assert info.json() == {}
    assert "X-Weave-Timestamp" in info.headers
    config = first.get("info/configuration").json()
    assert config["max_post_records"] == 100
    assert first.get("storage/meta/global").status_code == 404

    keys_ts = fresh_start(first, "syncid-one")
    records = history_records(HISTORY_RECORDS, "v1-")
    committed = batch_upload(first, "history", records, since="0")
    assert Decimal(committed) > Decimal(keys_ts)

    collections = first.get("info/collections").json()
    assert set(collections) == {"meta", "crypto", "history"}
    assert f"{collections['history']:.2f}" == committed
    assert first.get("info/collection_counts").json()["history"] == HISTORY_RECORDS

    # A second device of the same user, with a token of its own.
    second = make_client(UID)
    assert second.get("info/collections").json() == collections
    meta = second.get("storage/meta/global").json()
    assert json.loads(meta["payload"])["syncID"] == "syncid-one"
    assert marker_of(second.get("storage/crypto/keys").json()["payload"]) == "keys-syncid-one"

    downloaded, pages = download_all(second, "history", sort="oldest")
    assert pages == -(-HISTORY_RECORDS // PAGE)
    assert [r["id"] for r in downloaded] == sorted(r["id"] for r in records)
    sent = {r["id"]: r for r in records}
    for got in downloaded:
        assert got["payload"] == sent[got["id"]]["payload"]
        assert got.get("sortindex") == sent[got["id"]]["sortindex"]
        assert f"{got['modified']:.2f}" == committed  # one commit, one timestamp


def test_incremental_sync_with_newer(make_client):
    first, second = make_client(UID), make_client(UID)
    fresh_start(first, "syncid-inc")
    base = batch_upload(first, "history", history_records(300, "v1-"), since="0")

    changes = [{"id": f"hist{i:06d}", "payload": encrypted_payload(f"v2-{i}")} for i in (3, 7, 250)]
    changes.append({"id": "brand-new", "payload": encrypted_payload("new")})
    posted = first.post("storage/history", json=changes, headers={"X-If-Unmodified-Since": base})
    assert posted.status_code == 200, posted.text
    assert sorted(posted.json()["success"]) == sorted(c["id"] for c in changes)

    newer = second.get("storage/history", params={"newer": base, "full": "1"})
    assert newer.status_code == 200
    got = {r["id"]: marker_of(r["payload"]) for r in newer.json()}
    assert got == {"hist000003": "v2-3", "hist000007": "v2-7", "hist000250": "v2-250", "brand-new": "new"}
    # a record sent without sortindex keeps the stored one (partial update)
    assert second.get("storage/history/hist000007").json()["sortindex"] == 7
    # nothing newer than the latest write
    assert second.get("storage/history", params={"newer": ts(posted)}).json() == []


def test_concurrent_write_conflict_is_refused(make_client):
    first, second = make_client(UID), make_client(UID)
    fresh_start(first, "syncid-conflict")
    known = batch_upload(first, "bookmarks", history_records(5, "b-"), since="0")

    won = first.post(
        "storage/bookmarks",
        json=[{"id": "hist000001", "payload": encrypted_payload("first-wins")}],
        headers={"X-If-Unmodified-Since": known},
    )
    assert won.status_code == 200
    # The second device still believes `known` is current.
    lost = second.post(
        "storage/bookmarks",
        json=[{"id": "hist000001", "payload": encrypted_payload("second-loses")}],
        headers={"X-If-Unmodified-Since": known},
    )
    assert lost.status_code == 412
    assert ts(lost) == ts(won)
    # and a batch started on the stale view is refused as well
    stale_batch = second.post(
        "storage/bookmarks", params={"batch": "true"}, json=[], headers={"X-If-Unmodified-Since": known}
    )
    assert stale_batch.status_code == 412
    assert marker_of(second.get("storage/bookmarks/hist000001").json()["payload"]) == "first-wins"


def test_key_reset_deletes_storage_and_reuploads(make_client):
    first, second = make_client(UID), make_client(UID)
    fresh_start(first, "syncid-old")
    batch_upload(first, "history", history_records(250, "old-"), since="0")
    before = first.get("info/collections")

    # Reset: a new syncID and new keys mean wiping everything first.
    keys_ts = fresh_start(first, "syncid-new")
    assert Decimal(keys_ts) > Decimal(ts(before))  # the storage timestamp never goes backwards
    batch_upload(first, "history", history_records(120, "new-"), since="0")

    assert set(second.get("info/collections").json()) == {"meta", "crypto", "history"}
    meta = second.get("storage/meta/global").json()
    assert json.loads(meta["payload"])["syncID"] == "syncid-new"
    assert marker_of(second.get("storage/crypto/keys").json()["payload"]) == "keys-syncid-new"
    downloaded, _ = download_all(second, "history")
    assert len(downloaded) == 120
    assert all(marker_of(r["payload"]).startswith("new-") for r in downloaded)


def test_users_do_not_see_each_other(make_client):
    alice, bob = make_client(UID), make_client(UID + 1)
    fresh_start(alice, "alice")
    assert bob.get("info/collections").json() == {}
    assert bob.get("storage/meta/global").status_code == 404
