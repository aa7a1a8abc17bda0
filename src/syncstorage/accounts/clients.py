"""The OAuth clients the server knows (spec accounts.md §5.1): Firefox's
public clients. All are public (no secret), need PKCE S256, and get no
consent screen; they may ask only for these scopes."""

from __future__ import annotations

SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
PROFILE_SCOPE = "profile"
ALLOWED_SCOPES = frozenset({PROFILE_SCOPE, "profile:write", SYNC_SCOPE})
KEY_BEARING_SCOPES = frozenset({SYNC_SCOPE})

CLIENTS = {
    "5882386c6d801776": "Firefox",  # desktop
    "a2270f727f45f648": "Firefox for Android",  # unverified (spec §2.6)
    "1b1a3e44c54fbb58": "Firefox for iOS",  # unverified (spec §2.6)
}
