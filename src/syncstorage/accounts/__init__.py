"""The built-in accounts server (spec accounts.md; docs/accounts.md): lets
Firefox sign up, sign in and sync without a Mozilla account.

A sibling of the tokenserver and the storage API: it reaches the database
through `syncstorage.db` and imports neither. `AccountsServer(settings)` is
built by `syncstorage.app.create_app` when `accounts_enabled` is on; the web
pages (`accounts/pages`) do the browser side of the protocol.
"""

from syncstorage.accounts.access_tokens import AccessClaims, InvalidAccessToken
from syncstorage.accounts.service import AccountsServer

__all__ = ["AccessClaims", "AccountsServer", "InvalidAccessToken"]
