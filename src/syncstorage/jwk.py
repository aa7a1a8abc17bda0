"""Whether a JWK is an RSA public key usable for RS256: the tokenserver
verifies OAuth tokens with such keys (auth-and-tokens §7.1) and the settings
refuse a configured key that is not one. Below both, so the settings do not
import the tokenserver.
"""

from __future__ import annotations

from typing import Any

import jwt


def parse_jwk(jwk: Any) -> jwt.PyJWK | None:
    """An RSA public key usable for RS256, or None for anything else."""
    try:
        key = jwt.PyJWK(jwk, algorithm="RS256")
    except (jwt.PyJWKError, jwt.InvalidKeyError, TypeError, ValueError, KeyError):
        return None
    return key if key.key_type == "RSA" else None
