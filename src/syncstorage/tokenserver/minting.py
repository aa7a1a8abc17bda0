"""Minting the storage token (auth-and-tokens §2)."""

from __future__ import annotations

import tokenlib


def make_token_and_key(payload: dict, secret: str) -> tuple[str, str]:
    """(token, derived Hawk secret) for `payload`, signed with `secret`.

    TODO(auth merge): use syncstorage.auth.tokens.make_token/derived_secret.
    """
    token = tokenlib.make_token(payload, secret=secret)
    return token, tokenlib.get_derived_secret(token, secret=secret)
