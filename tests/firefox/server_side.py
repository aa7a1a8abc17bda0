"""What the server under test holds, seen through its own APIs: a token
from the tokenserver (as Firefox gets one), then the storage API."""

from __future__ import annotations

import httpx

from support.client import SyncClient
from support.server import RunningServer
from support.mock_fxa import Account, MockFxA

TOKEN_PATH = "/1.0/sync/1.5"


def storage_client(server: RunningServer, fxa: MockFxA, account: Account) -> SyncClient:
    """A client of `account`'s storage, with a token got as Firefox gets it."""
    response = httpx.get(
        server.public_url + TOKEN_PATH,
        headers={"Authorization": f"Bearer {fxa.access_token(account.uid, generation=account.generation)}",
                 "X-KeyID": account.key_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return SyncClient.from_tokenserver(response.json())


def collection_counts(server: RunningServer, fxa: MockFxA, account: Account) -> dict[str, int]:
    """Records per collection on the server (GET info/collection_counts)."""
    with storage_client(server, fxa, account) as client:
        response = client.get("info/collection_counts")
        assert response.status_code == 200, response.text
        return response.json()
