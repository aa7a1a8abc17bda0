"""Every tokenserver error, with its HTTP status and JSON body (auth-and-tokens §12).

Clients compare the whole error object, so the keys and texts are exactly
those of the spec.
"""

from __future__ import annotations


class TokenserverError(Exception):
    def __init__(
        self,
        http_status: int,
        status: str,
        description: str,
        location: str = "body",
        name: str = "",
    ) -> None:
        super().__init__(f"{http_status} {status}: {description}")
        self.http_status = http_status
        self.status = status
        self.description = description
        self.location = location
        self.name = name

    def body(self) -> dict:
        return {
            "status": self.status,
            "errors": [
                {"location": self.location, "name": self.name, "description": self.description}
            ],
        }


def unsupported_application() -> TokenserverError:
    return TokenserverError(404, "error", "Unsupported application", "url", "application")


def unsupported_version(version: str) -> TokenserverError:
    return TokenserverError(404, "error", "Unsupported application version", "url", version)


def invalid_client_state_value() -> TokenserverError:
    return TokenserverError(400, "error", "Invalid client state value", "header", "X-Client-State")


def unauthorized() -> TokenserverError:
    return TokenserverError(401, "error", "Unauthorized")


def unsupported_scheme() -> TokenserverError:
    return TokenserverError(401, "error", "Unsupported")


def invalid_credentials() -> TokenserverError:
    return TokenserverError(401, "invalid-credentials", "Unauthorized")


def accounts_unavailable() -> TokenserverError:
    return TokenserverError(503, "error", "Resource is not available")


def missing_key_id() -> TokenserverError:
    return TokenserverError(401, "invalid-key-id", "Missing X-KeyID header", "header")


def client_state_mismatch() -> TokenserverError:
    return TokenserverError(401, "invalid-client-state", "Unauthorized")


def invalid_generation() -> TokenserverError:
    return TokenserverError(401, "invalid-generation", "Unauthorized")


def invalid_keys_changed_at() -> TokenserverError:
    return TokenserverError(401, "invalid-keysChangedAt", "Unauthorized")


def unacceptable_client_state(why: str) -> TokenserverError:
    return TokenserverError(
        401,
        "invalid-client-state",
        f"Unacceptable client-state value {why}",
        "header",
        "X-Client-State",
    )


def new_users_disabled() -> TokenserverError:
    return TokenserverError(403, "new-users-disabled", "New users are not allowed")


def user_not_allowed() -> TokenserverError:
    # Ours (not in Mozilla's protocol): the account is not on `allowed_users`.
    return TokenserverError(403, "user-not-allowed", "This account is not allowed on this server")


def server_error(http_status: int = 503) -> TokenserverError:
    """No node to assign (503), retired user without node (500), database failure (503)."""
    return TokenserverError(http_status, "internal-error", "Server error", "internal")
