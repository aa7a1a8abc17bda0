"""The tokenserver: `GET /1.0/sync/1.5` trades a Firefox Accounts OAuth token
for a storage token and node (auth-and-tokens §6-§13).

`Tokenserver(settings)` is built by `syncstorage.app.create_app` (unless
`tokenserver_enabled` is off): its `routes` sit beside the storage API under
the public_url prefix, its `start()` runs at server start-up and `close()`
at shutdown. With `storage_enabled` off the same app is a tokenserver alone.
"""

from syncstorage.tokenserver.oauth import AccountsUnavailable, InvalidToken, LocalToken
from syncstorage.tokenserver.service import Tokenserver

__all__ = ["AccountsUnavailable", "InvalidToken", "LocalToken", "Tokenserver"]
