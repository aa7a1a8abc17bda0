"""syncstorage/account_removal.py when the storage database is away: the
account goes, its tokenserver records stay for `syncstorage user delete`,
and the error says so (the admin page shows it, the settings page's hook
logs it)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from syncstorage.account_removal import AccountRemoval, StoredDataLeft
from syncstorage.accounts import admin as accounts_admin
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.migrate import upgrade
from syncstorage.tokenserver import admin as tokenserver_admin
from syncstorage.tokenserver.db import make_engine
from syncstorage.tokenserver.schema import users
from syncstorage.tokenserver.store import ensure_service

DOMAIN = "api.accounts.firefox.com"


def test_storage_away_leaves_the_records_and_says_how_to_finish(sqlite_url):
    upgrade(sqlite_url)
    database = make_engine(sqlite_url)
    away = SQLStorage("postgresql://postgres@127.0.0.1:1/none", database_timeout=2.0)
    try:
        uid = accounts_admin.add_account(database, "h@example.org", "a password", 1)
        node = tokenserver_admin.add_node(database, "https://node.example", 10)
        service = ensure_service(database).id
        with database.begin() as conn:
            conn.execute(sa.insert(users).values(
                uid=42, service=service, email=f"{uid}@{DOMAIN}", generation=0,
                client_state="", created_at=1, replaced_at=None, nodeid=node, keys_changed_at=None))
        removal = AccountRemoval(database, away, DOMAIN)
        with pytest.raises(StoredDataLeft) as left:
            removal.delete_account(accounts_admin.find(database, "h@example.org"))
        assert f"run `syncstorage user delete {uid}` to finish" in str(left.value)
        assert "not the stored data of uid 42" in str(left.value)
        with pytest.raises(accounts_admin.AccountProblem):
            accounts_admin.find(database, "h@example.org")  # the account went first
        assert [r.uid for r in tokenserver_admin.user_records(database, email=f"{uid}@{DOMAIN}")] == [42]
    finally:
        away.close()
        database.dispose()
