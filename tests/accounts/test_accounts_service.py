"""The accounts server object: its database errors never quote the
statement's parameters (token keys, verifiers) into logs."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from syncstorage.accounts import AccountsServer
from syncstorage.accounts.admin import make_engine
from syncstorage.accounts.schema import tokens
from syncstorage.settings import Settings
from syncstorage.storage.sql import migrate


@pytest.mark.parametrize("build", ["server", "cli"])
def test_database_errors_hide_parameters(sqlite_url, tmp_path, build):
    migrate.upgrade(sqlite_url)
    if build == "server":
        settings = Settings(database_url=sqlite_url, data_dir=tmp_path, accounts_enabled=True,
                            master_secret=[secrets.token_hex(8)])
        engine = AccountsServer(settings).engine
    else:
        engine = make_engine(sqlite_url)
    secret = secrets.token_hex(32)
    row = dict(token_id="a" * 64, kind="sessionToken", uid="b" * 32, hmac_key=secret, verified=True,
               auth_at=0, created_at=0, last_used_at=0)
    with pytest.raises(sa.exc.IntegrityError) as failure:
        with engine.begin() as conn:
            conn.execute(tokens.insert().values(**row))
            conn.execute(tokens.insert().values(**row))  # the same primary key
    assert secret not in str(failure.value)
    engine.dispose()
