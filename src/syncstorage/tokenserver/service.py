"""`GET /1.0/sync/1.5`: trade an FxA OAuth token for storage credentials.

auth-and-tokens §6-§13. One `Tokenserver` per process; its `routes` are
mounted under the public_url prefix by `syncstorage.app.create_app`.
"""

from __future__ import annotations

import logging
import secrets as random_secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from syncstorage import metrics
from syncstorage.auth.tokens import derived_secret, make_token
from syncstorage.logs import one_line
from syncstorage.settings import Settings
from syncstorage.tokenserver import errors
from syncstorage.tokenserver.db import expected_error, make_engine
from syncstorage.tokenserver.identifiers import fxa_kid, hashed_ids
from syncstorage.tokenserver.oauth import AccountsUnavailable, InvalidToken, LocalVerifier, OAuthVerifier
from syncstorage.tokenserver.records import get_user
from syncstorage.tokenserver.store import Service, ensure_node, ensure_service
from syncstorage.tokenserver.parsing import (
    bearer_value,
    check_client_state_header,
    key_claims,
    token_duration,
)
from syncstorage.tokenserver.schema import SYNC_SERVICE

log = logging.getLogger(__name__)


def default_node_type(database_url: str) -> str:
    """§11.1: derived from the storage database URL as Mozilla's tooling does."""
    scheme = database_url.split(":", 1)[0]
    if scheme == "postgresql":
        return "postgres"
    if scheme.startswith("mysql"):
        return "mysql"
    return scheme


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The parts of the HTTP request the tokenserver reads."""

    application: str
    version: str
    authorization: str | None
    key_id: str | None
    client_state: str | None
    duration: str | None


class Tokenserver:
    def __init__(self, settings: Settings, *, local_verifier: LocalVerifier | None = None) -> None:
        """`local_verifier`: checks the tokens of an accounts server in this
        process (the built-in one) without an HTTP round trip."""
        self.settings = settings
        # Shared with the storage side (§2.1); `serve` fills in the generated one.
        self.master_secrets = list(settings.master_secret)
        if not self.master_secrets:
            raise ValueError("the tokenserver needs at least one master secret")
        self.hash_secret = settings.fxa_metrics_hash_secret or self.master_secrets[-1]
        self.node_type = settings.node_type or default_node_type(settings.effective_database_url)
        # Entries are FxA uids or <uid>@<fxa_email_domain> (checked by Settings).
        self.allowed = frozenset(entry.lower() for entry in settings.allowed_users)
        # a token request is not retried: its one lock wait gets the whole budget
        self.engine = make_engine(
            settings.effective_tokenserver_database_url,
            lock_timeout=settings.conflict_retry_seconds,
            database_timeout=settings.database_timeout,
        )
        metrics.track_pool(self.engine, "tokenserver")
        jwks = [
            jwk
            for jwk in (settings.fxa_oauth_primary_jwk, settings.fxa_oauth_secondary_jwk)
            if jwk
        ]
        self.verifier = OAuthVerifier(
            settings.fxa_oauth_server_url, settings.fxa_oauth_request_timeout, jwks, local_verifier
        )
        self._service: Service | None = None

    # --- life cycle ---

    def start(self, register_own_node: bool) -> None:
        """At server start-up: the service row, and (when this process also
        serves storage) public_url as a node, so one machine needs no SQL (§13.1)."""
        try:
            service = self.service()
            if register_own_node:
                url = self.settings.effective_public_url
                if ensure_node(self.engine, service.id, url, self.settings.init_node_capacity):
                    log.info("registered %s as a storage node", url)
        except sa.exc.SQLAlchemyError:
            # The server still starts (its heartbeat reports the database);
            # token requests answer 503 until the database is back.
            log.exception("tokenserver: cannot prepare the service and node rows at start-up")

    def close(self) -> None:
        self.verifier.close()
        self.engine.dispose()

    def service(self) -> Service:
        # The service row is the one thing that may be cached (§8).
        if self._service is None:
            self._service = ensure_service(self.engine)
        return self._service

    @property
    def routes(self) -> list[Route]:
        path = "/1.0/{application}/{version}"
        # /token/... keeps older self-hosting instructions working (§6.1).
        return [
            Route(path, self.endpoint, methods=["GET"]),
            Route("/token" + path, self.endpoint, methods=["GET"]),
        ]

    # --- the endpoint ---

    async def endpoint(self, request: Request) -> JSONResponse:
        headers = request.headers
        token_request = TokenRequest(
            application=request.path_params["application"],
            version=request.path_params["version"],
            authorization=headers.get("authorization"),
            key_id=headers.get("x-keyid"),
            client_state=headers.get("x-client-state"),
            duration=request.query_params.get("duration"),
        )
        # For the request log (syncstorage.requestlog): route, uid, and why
        # a request was refused (never the token).
        request.state.route = "tokenserver"
        try:
            body = await run_in_threadpool(self.issue, token_request)
            status = 200
            request.state.uid = body["uid"]
            metrics.observe_token_verification("ok")
        except errors.TokenserverError as exc:
            body, status = exc.body(), exc.http_status
            metrics.observe_token_verification(metrics.token_outcome(exc.http_status, exc.status))
            request.state.reason = exc.reason  # the request line is the one log line
        response_headers = {"X-Timestamp": str(int(time.time())), "X-Content-Type-Options": "nosniff"}
        if status == 503:  # the database or Firefox Accounts is away (§11.2)
            response_headers["Retry-After"] = errors.RETRY_AFTER_UNAVAILABLE
        return JSONResponse(body, status_code=status, headers=response_headers)

    def issue(self, req: TokenRequest) -> dict[str, Any]:
        """Blocking (network and database): runs in a worker thread."""
        # §6.3 processing order.
        if req.application != "sync":
            raise errors.unsupported_application()
        if req.version != "1.5":
            raise errors.unsupported_version(req.version)
        check_client_state_header(req.client_state)
        bearer = bearer_value(req.authorization)
        try:
            verified = self.verifier.verify(bearer)
        except InvalidToken as exc:
            raise errors.invalid_credentials(f"invalid OAuth token: {exc}") from exc
        except AccountsUnavailable as exc:
            raise errors.accounts_unavailable(f"accounts server unreachable: {exc}") from exc
        email = f"{verified.fxa_uid}@{self.settings.fxa_email_domain}"
        if self.allowed and not ({verified.fxa_uid.lower(), email.lower()} & self.allowed):
            log.warning("FxA uid %s is not in allowed_users; refused", verified.fxa_uid)
            raise errors.user_not_allowed()
        claims = key_claims(req.key_id, req.client_state, verified.generation)

        try:
            service = self.service()
            with self.engine.begin() as conn:
                user = get_user(
                    conn,
                    service.id,
                    email,
                    claims,
                    allow_new_users=self.settings.allow_new_users,
                    release_rate=self.settings.node_capacity_release_rate,
                )
        except sa.exc.SQLAlchemyError as exc:
            reason = "tokenserver database unavailable"
            expected = expected_error(self.engine, exc)
            if expected is None:
                log.exception("tokenserver database failure")  # a bug
            else:
                reason = one_line(reason, expected)
            raise errors.server_error(503, reason) from exc

        duration = token_duration(req.duration, self.settings.token_duration)
        hashed_fxa_uid, hashed_device_id = hashed_ids(self.hash_secret, verified.fxa_uid)
        kid_time = user.keys_changed_at if user.keys_changed_at is not None else user.generation
        payload: dict[str, Any] = {
            "uid": user.uid,
            "node": user.node,
            "expires": int(time.time()) + duration,
            "salt": random_secrets.token_hex(3),
            "fxa_uid": verified.fxa_uid,
            "fxa_kid": fxa_kid(kid_time, user.client_state),
            "hashed_fxa_uid": hashed_fxa_uid,
            "hashed_device_id": hashed_device_id,
        }
        # Minted with the newest secret (§2.1); the payload has its own
        # salt and expires, so tokenlib adds neither.
        secret = self.master_secrets[-1]
        token = make_token(payload, secret)
        key = derived_secret(token, secret, payload["salt"])
        api_endpoint = (
            service.pattern.replace("{node}", cast(str, user.node))  # get_user assigned one
            .replace("{uid}", str(user.uid))
            .replace("{service}", SYNC_SERVICE)
        )
        return {
            "id": token,
            "key": key,
            "uid": user.uid,
            "api_endpoint": api_endpoint,
            "duration": duration,
            "hashed_fxa_uid": hashed_fxa_uid,
            "hashalg": "sha256",
            "node_type": self.node_type,
        }
