"""Configuration discovery (spec accounts.md §2.2, §2.6): the documents
Firefox reads from `identity.fxaccounts.autoconfig.uri`."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.http import Call


def routes(ctx: AccountsContext) -> list[Route]:
    return [
        ctx.route("GET", "/.well-known/fxa-client-configuration", client_configuration),
        ctx.route("GET", "/.well-known/openid-configuration", openid_configuration),
    ]


def client_configuration(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    # No trailing slash and no /v1 (Firefox appends it); no pairing server,
    # so Firefox never offers pairing through Mozilla's channel server.
    accounts = ctx.public_url
    return {
        "auth_server_base_url": accounts,
        "oauth_server_base_url": accounts,
        "profile_server_base_url": f"{accounts}/profile",
        "sync_tokenserver_base_url": ctx.settings.effective_public_url,
    }


def openid_configuration(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    accounts = ctx.public_url
    return {
        "issuer": accounts,
        "authorization_endpoint": f"{accounts}/authorization",
        "token_endpoint": f"{accounts}/v1/oauth/token",
        "userinfo_endpoint": f"{accounts}/profile/v1/profile",
        "jwks_uri": f"{accounts}/v1/jwks",
        "introspection_endpoint": f"{accounts}/v1/introspect",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
    }
