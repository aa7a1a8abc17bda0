"""Deleting a built-in account with everything of it: the one place that
`syncstorage account delete`, the admin page and the account's own "delete"
(its settings page, through the hook app.py gives the accounts server) use.

In this order, so that a failure part way leaves something to finish with:
the account row with its sessions, devices and tokens (no sign-in, no new
token from then on); then the stored data of each tokenserver record of
`<uid>@<fxa_email_domain>` (storage-api §4.4, as `user delete` does), in
this server's storage database; then those records. If the storage
database is away, the records stay and `syncstorage user delete <uid>`
finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from syncstorage.accounts import admin as accounts_admin
from syncstorage.storage import StorageError
from syncstorage.storage.sql import SQLStorage
from syncstorage.tokenserver import admin as tokenserver_admin


class StoredDataLeft(Exception):
    """The account is gone but not its stored data: the message says how to finish."""


@dataclass(frozen=True, slots=True)
class Removed:
    uid: str  # the account's
    storage_uids: list[int]  # whose stored data was deleted


class AccountRemoval:
    """`database`: the tokenserver's database, which holds the accounts
    tables too; `storage`: this server's storage."""

    def __init__(self, database: sa.Engine, storage: SQLStorage, email_domain: str) -> None:
        self.database = database
        self.storage = storage
        self.email_domain = email_domain

    def delete_account(self, account: sa.Row) -> Removed:
        """The account (a row of accounts_admin.find) and its synced data."""
        accounts_admin.delete(self.database, account)
        return Removed(account.uid, self.delete_synced_data(account.uid))

    def delete_synced_data(self, uid: str) -> list[int]:
        """The stored data and tokenserver records of the account `uid`
        (already deleted); the storage uids whose data went."""
        email = f"{uid}@{self.email_domain}"
        storage_uids = [row.uid for row in tokenserver_admin.user_records(self.database, email=email)]
        for storage_uid in storage_uids:
            try:
                self.storage.delete_user_data(storage_uid)
            except StorageError as exc:
                raise StoredDataLeft(
                    f"account {uid} deleted, but not the stored data of uid {storage_uid} ({exc}): "
                    f"run `syncstorage user delete {uid}` to finish"
                ) from None
        tokenserver_admin.delete_user_records(self.database, email)
        return storage_uids
