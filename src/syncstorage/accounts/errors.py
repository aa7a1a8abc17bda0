"""Errors of the accounts API (spec accounts.md §1.3, §9).

Every error body has the four members Firefox reads, `code`, `errno`,
`error` and `message`, plus the per-error extras (`email`, `retryAfter`,
`serverTime`, ...). `reason` is for the server's log line only.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, errno: int, message: str, *, reason: str = "", **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.errno = errno
        self.message = message
        self.reason = reason or message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "code": self.status,
            "errno": self.errno,
            "error": HTTPStatus(self.status).phrase,
            "message": self.message,
            **self.extra,
        }

    def headers(self) -> dict[str, str]:
        retry_after = self.extra.get("retryAfter")
        return {"Retry-After": str(retry_after)} if retry_after is not None else {}


def account_exists(email: str) -> ApiError:
    return ApiError(400, 101, "Account already exists", email=email)


def unknown_account(email: str | None = None) -> ApiError:
    extra = {"email": email} if email is not None else {}
    return ApiError(400, 102, "Unknown account", **extra)


def incorrect_password(email: str) -> ApiError:
    return ApiError(400, 103, "Incorrect password", email=email)


def account_disabled() -> ApiError:
    """FxA's errno for a locked account (no longer sent by Mozilla's server,
    and not in spec §9): the sign-in page shows this message."""
    return ApiError(400, 121, "This account is disabled: ask the server's administrator")


def unverified_account() -> ApiError:
    return ApiError(400, 104, "Unverified account")


def invalid_code(reason: str) -> ApiError:
    return ApiError(400, 105, "Invalid or expired confirmation code", reason=reason)


def invalid_json(reason: str = "") -> ApiError:
    return ApiError(400, 106, "Invalid JSON in request body", reason=reason)


def invalid_parameter(name: str, reason: str = "") -> ApiError:
    return ApiError(400, 107, f"Invalid parameter in request body: {name}", reason=reason, validation={"keys": [name]})


def invalid_token_verify() -> ApiError:
    return ApiError(400, 108, "Invalid token")


def invalid_signature(reason: str) -> ApiError:
    return ApiError(401, 109, "Invalid request signature", reason=reason)


def invalid_auth_token(reason: str) -> ApiError:
    return ApiError(401, 110, "The authentication token could not be found", reason=reason)


def invalid_timestamp(server_time: int) -> ApiError:
    return ApiError(401, 111, "Invalid timestamp in request signature", serverTime=server_time)


def missing_content_length() -> ApiError:
    return ApiError(411, 112, "Missing content-length header")


def body_too_large() -> ApiError:
    return ApiError(413, 113, "Request body too large")


def too_many_requests(retry_after: int, reason: str = "") -> ApiError:
    return ApiError(429, 114, "Client has sent too many requests", reason=reason, retryAfter=retry_after)


def invalid_nonce() -> ApiError:
    return ApiError(401, 115, "Invalid nonce in request signature")


def incorrect_email_case(email: str) -> ApiError:
    return ApiError(400, 120, "Incorrect email case", email=email)


def unknown_device() -> ApiError:
    return ApiError(400, 123, "Unknown device")


def session_has_device(device_id: str) -> ApiError:
    return ApiError(400, 124, "Session already registered by another device", deviceId=device_id)


def request_blocked(reason: str) -> ApiError:
    return ApiError(400, 125, "The request was blocked for security reasons", reason=reason)


def unverified_session() -> ApiError:
    return ApiError(400, 138, "Unconfirmed session")


def mail_failed(reason: str) -> ApiError:
    return ApiError(422, 151, "Failed to send email", reason=reason)


def unavailable_command() -> ApiError:
    return ApiError(400, 157, "Unavailable device command")


def unknown_client(client_id: str) -> ApiError:
    return ApiError(400, 162, "Unknown client_id", clientId=client_id[:32])


def scopes_not_allowed(scopes: list[str]) -> ApiError:
    return ApiError(400, 163, "Requested scopes are not allowed", invalidScopes=scopes)


def stale_auth() -> ApiError:
    return ApiError(400, 164, "Stale authentication timestamp")


def invalid_response_type() -> ApiError:
    return ApiError(400, 168, "Invalid response_type")


def pkce_required() -> ApiError:
    return ApiError(400, 169, "Public clients require PKCE OAuth parameters")


def unknown_code() -> ApiError:
    return ApiError(400, 172, "Unknown authorization code")


def mismatched_code() -> ApiError:
    return ApiError(400, 173, "Mismatched authorization code")


def expired_code() -> ApiError:
    return ApiError(400, 174, "Expired authorization code")


def pkce_mismatch() -> ApiError:
    return ApiError(400, 175, "Public clients require PKCE OAuth parameters")


def unknown_refresh_token() -> ApiError:
    return ApiError(400, 182, "Unknown refresh token")


def not_found() -> ApiError:
    return ApiError(404, 999, "Not Found")


def unavailable(retry_after: int = 30) -> ApiError:
    return ApiError(503, 201, "Service unavailable", retryAfter=retry_after)


def internal() -> ApiError:
    return ApiError(500, 999, "Unspecified error")
