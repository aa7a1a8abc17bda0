"""Every tokenserver error, with its HTTP status and JSON body (auth-and-tokens §12).

Clients compare the whole error object, so the keys and texts are exactly
those of the spec. Many answers share a body (a missing Authorization header
and one without a space are both `error`/`Unauthorized`), so each error also
carries a `reason` saying precisely why: it goes to the logs and the request
log (syncstorage.requestlog), never to the client, and never holds a token.
"""

from __future__ import annotations

from syncstorage.db.errors import RETRY_AFTER_UNAVAILABLE as RETRY_AFTER_UNAVAILABLE


class TokenserverError(Exception):
    def __init__(
        self,
        http_status: int,
        status: str,
        description: str,
        location: str = "body",
        name: str = "",
        *,
        reason: str,
    ) -> None:
        super().__init__(f"{http_status} {status}: {reason}")
        self.http_status = http_status
        self.status = status
        self.description = description
        self.location = location
        self.name = name
        self.reason = reason

    def body(self) -> dict:
        return {
            "status": self.status,
            "errors": [
                {"location": self.location, "name": self.name, "description": self.description}
            ],
        }


def unsupported_application() -> TokenserverError:
    return TokenserverError(
        404, "error", "Unsupported application", "url", "application",
        reason="unsupported application",
    )


def unsupported_version(version: str) -> TokenserverError:
    return TokenserverError(
        404, "error", "Unsupported application version", "url", version,
        reason="unsupported application version",
    )


def invalid_client_state_value(reason: str) -> TokenserverError:
    return TokenserverError(
        400, "error", "Invalid client state value", "header", "X-Client-State", reason=reason
    )


def unauthorized(reason: str) -> TokenserverError:
    return TokenserverError(401, "error", "Unauthorized", reason=reason)


def unsupported_scheme() -> TokenserverError:
    # The scheme itself is not logged: a client that forgot "Bearer " sends
    # its token in that place.
    return TokenserverError(401, "error", "Unsupported", reason="unsupported authorization scheme")


def invalid_credentials(reason: str) -> TokenserverError:
    return TokenserverError(401, "invalid-credentials", "Unauthorized", reason=reason)


def accounts_unavailable(reason: str) -> TokenserverError:
    return TokenserverError(503, "error", "Resource is not available", reason=reason)


def missing_key_id() -> TokenserverError:
    return TokenserverError(
        401, "invalid-key-id", "Missing X-KeyID header", "header", reason="missing X-KeyID header"
    )


def client_state_mismatch() -> TokenserverError:
    return TokenserverError(
        401, "invalid-client-state", "Unauthorized",
        reason="X-Client-State header does not match X-KeyID",
    )


def invalid_generation() -> TokenserverError:
    return TokenserverError(
        401, "invalid-generation", "Unauthorized",
        reason="generation older than the user's",
    )


def invalid_keys_changed_at(reason: str) -> TokenserverError:
    return TokenserverError(401, "invalid-keysChangedAt", "Unauthorized", reason=reason)


def unacceptable_client_state(why: str) -> TokenserverError:
    return TokenserverError(
        401,
        "invalid-client-state",
        f"Unacceptable client-state value {why}",
        "header",
        "X-Client-State",
        reason=f"unacceptable client state: {why}",
    )


def new_users_disabled() -> TokenserverError:
    return TokenserverError(
        403, "new-users-disabled", "New users are not allowed",
        reason="new users are not allowed (allow_new_users is off)",
    )


def user_not_allowed() -> TokenserverError:
    # Ours (not in Mozilla's protocol): the account is not on `allowed_users`.
    return TokenserverError(
        403, "user-not-allowed", "This account is not allowed on this server",
        reason="account not on allowed_users",
    )


def server_error(http_status: int, reason: str) -> TokenserverError:
    """No node to assign (503), retired user without node (500), database failure (503)."""
    return TokenserverError(http_status, "internal-error", "Server error", "internal", reason=reason)
