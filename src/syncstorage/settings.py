"""Every setting of the server, in one typed object.

Each field can be given in the environment as SYNCSTORAGE_<NAME IN CAPITALS>
(e.g. SYNCSTORAGE_PUBLIC_URL). Command-line flags override the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncstorage.jwk import parse_jwk
from syncstorage.tokenhash import BadTokenHash, TokenHash

_DATABASE_URL_FORMS = "sqlite:///PATH, postgresql://USER@HOST/DB or mysql://USER@HOST/DB"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCSTORAGE_", extra="forbid")

    # --- where it runs ---
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # The URL clients use to reach this server, path prefix included
    # (e.g. https://example.org/sync). Default: http://<host>:<port>.
    public_url: str | None = None
    data_dir: Path = Path("data")
    # Default: a SQLite file in data_dir.
    database_url: str | None = None
    # Seconds any one wait of a request for the database may last
    # (connecting, a pooled connection, a statement, COMMIT) before it is
    # answered 503 + Retry-After, e.g. when the database server is frozen.
    database_timeout: float = Field(default=5.0, gt=0, le=300)

    # --- HTTP limits (syncstorage.httpserver, docs/operations.md "Limits and timeouts") ---
    # Largest header line (name and value) and request head (target and
    # header lines), in bytes: a larger one is refused with 431 (414).
    max_header_line_bytes: int = Field(default=8192, ge=1024)
    max_header_bytes: int = Field(default=65536, ge=4096)
    # Seconds a client has to send a request's head, counted from the
    # connection's start or the request's first byte; then it is closed.
    header_timeout: float = Field(default=10, gt=0)
    # Seconds a client has to send a request's body once its head is in;
    # then 408 and the connection is closed.
    body_timeout: float = Field(default=60, gt=0)
    # Seconds an idle kept-alive connection stays open.
    keep_alive_timeout: float = Field(default=5, gt=0)
    # Open connections (and requests in progress) served at once; beyond
    # this, requests are answered 503.
    max_connections: int = Field(default=1000, ge=1)

    # --- optional storage API behaviours (storage-api §7, §15) ---
    # Seconds sent as X-Weave-Backoff on every storage API response, asking
    # clients to sync less often (load shedding). 0: not sent.
    backoff_seconds: int = Field(default=0, ge=0)
    # Answer 503 to Firefox iOS clients older than version 20, which crash
    # on this server's answers (production behaviour, storage-api §15.3).
    reject_old_ios_clients: bool = True
    # Refuse users who are being moved, or have moved, to another node by
    # `syncstorage node migrate` (the `migration` table: 503 with
    # Retry-After 300, storage-model §9). Off: no check at all; turn it on
    # on a node before moving its users off it.
    allow_migration: bool = False
    # The build's VCS commit, reported by /__version__ (env SYNCSTORAGE_COMMIT,
    # e.g. set from `git rev-parse HEAD` when an image is built). Empty: the
    # HEAD of the git checkout the server runs from, else "unknown".
    commit: str = ""

    # --- secrets ---
    # One secret (used whole, spaces included) or a JSON array of secrets,
    # oldest first; tokens are minted with the last one. Default: generated
    # on first start and kept in <data_dir>/master_secret.
    master_secret: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- Hawk ---
    hawk_skew_window: int = Field(default=60, gt=0)
    expired_token_timeout: int = Field(default=7200, ge=0)
    force_public_url_host: bool = False
    # Where Hawk nonces are remembered (auth-and-tokens §3.4). Empty: in
    # process memory (one worker only). Several workers: redis://host:port/db.
    nonce_store_url: str | None = None
    # CORS (storage-api §15.2): "*" echoes any request Origin; otherwise only
    # this exact origin is allowed.
    cors_allowed_origin: str = "*"

    # --- logs ---
    # "json" (one object per line), "human", or "auto": human when stderr
    # is a terminal, JSON otherwise (a service manager, a container).
    log_format: Literal["auto", "json", "human"] = "auto"

    # --- storage layout (storage-model §3.6) ---
    # Spread bso and batch_upload_items over `shardsize` tables by user id,
    # as the original server could for very large MySQL installs. Chosen when
    # the database is created: changing it later needs a new database.
    shard: bool = False
    shardsize: int = Field(default=100, gt=0, le=1000)

    # --- contention (storage-model §5.3-§5.4) ---
    # Seconds a write that conflicts with another one (the collection is
    # locked by it, or the write's timestamp would not advance) keeps being
    # retried inside the server before it is answered 503 + Retry-After.
    # Database lock waits are bounded at half of it (`lock_timeout`).
    conflict_retry_seconds: float = Field(default=3.0, gt=0, le=60)

    # --- housekeeping ---
    # Seconds between purges of expired items and stale batches inside
    # `serve` (syncstorage.background_purge); 0 = off (run `syncstorage purge`).
    purge_interval: int = Field(default=0, ge=0)

    # --- limits advertised in /info/configuration (storage-api §0) ---
    max_request_bytes: int = Field(default=2625536, gt=0)
    max_post_bytes: int = Field(default=2621440, gt=0)
    max_post_records: int = Field(default=100, gt=0)
    max_record_payload_bytes: int = Field(default=2621440, gt=0)
    max_total_bytes: int = Field(default=262144000, gt=0)
    max_total_records: int = Field(default=10000, gt=0)
    quota_enabled: bool = False
    max_quota_limit: int = Field(default=2097152000, gt=0)

    # --- tokenserver (auth-and-tokens §6-§13) ---
    # Which halves this process serves; turn one off for multi-node set-ups.
    tokenserver_enabled: bool = True
    storage_enabled: bool = True
    # Default: the storage database (the tables do not collide).
    tokenserver_database_url: str | None = None
    fxa_oauth_server_url: str = "https://oauth.accounts.firefox.com"
    # RSA public JWKs (JSON objects); when unset, the keys are fetched from
    # <fxa_oauth_server_url>/v1/jwks and cached.
    fxa_oauth_primary_jwk: dict[str, Any] | None = None
    fxa_oauth_secondary_jwk: dict[str, Any] | None = None
    fxa_oauth_request_timeout: float = Field(default=10, gt=0)
    # Forms the users.email key <fxa uid>@<domain>; never contacted (§8).
    fxa_email_domain: str = "api.accounts.firefox.com"
    # Default: the newest master secret (§11.3).
    fxa_metrics_hash_secret: str | None = None
    token_duration: int = Field(default=3600, gt=0)
    node_capacity_release_rate: float = Field(default=0.1, gt=0, le=1)
    init_node_capacity: int = Field(default=100000, gt=0)
    allow_new_users: bool = True
    # FxA uids (or their <uid>@<fxa_email_domain> form) allowed to use the
    # tokenserver; empty = everyone. Comma/space separated or a JSON array.
    allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Label for client telemetry; default derived from the database URL (§11.1).
    node_type: str | None = None

    # --- built-in accounts server (docs/accounts.md; spec accounts.md) ---
    # Serve a Firefox Accounts compatible server (sign-up, sign-in, OAuth,
    # devices, profile) from this process, so Firefox needs no Mozilla account.
    accounts_enabled: bool = False
    # The origin Firefox's autoconfig URI names (no path is best: accounts
    # pages are found relative to it). Default: public_url.
    accounts_public_url: str | None = None
    # Who may create an account from the sign-up page: anyone ("open"), only
    # holders of an invitation from `syncstorage account invite` ("invite"),
    # or nobody ("closed": only `syncstorage account add`).
    accounts_signup: Literal["open", "invite", "closed"] = "invite"
    # Lifetimes, in seconds: the longest OAuth access token (also the default
    # when Firefox asks for none), an authorization code, a key-fetch or
    # password-change token, a password-reset token and an invitation.
    accounts_access_token_ttl: int = Field(default=86400, ge=120, le=7 * 86400)
    accounts_code_ttl: int = Field(default=900, ge=30, le=3600)
    accounts_key_fetch_ttl: int = Field(default=900, ge=30, le=3600)
    accounts_reset_ttl: int = Field(default=3600, ge=60, le=86400)
    accounts_invite_ttl: int = Field(default=7 * 86400, ge=60)
    # Days a session token may go unused before it stops working (Firefox
    # then asks to reconnect); 0 = sessions live until sign-out.
    accounts_session_idle_days: int = Field(default=0, ge=0)

    # --- e-mail confirmation of accounts (docs/accounts.md "Confirming by e-mail") ---
    # The SMTP server that mails confirmation codes. Unset: no mail; every
    # account and sign-in is confirmed at once. Set: sign-up and each new
    # sign-in wait for the code sent to the account's address.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # "starttls" (upgrade the connection, usually port 587), "tls" (TLS from
    # the first byte, usually port 465) or "none" (plain text: a local relay only).
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    # Credentials for SMTP AUTH; no username: no AUTH.
    smtp_username: str | None = None
    smtp_password: str | None = None
    # The From address of the mails; required with smtp_host.
    smtp_from: str | None = None
    # Seconds a request waits for the SMTP server (connection, each reply and
    # the whole sending) before it answers that the mail could not be sent.
    smtp_timeout: float = Field(default=10, gt=0, le=120)

    # --- metrics (docs/operations.md "Metrics"); all off by default ---
    # Prometheus: served by the app at metrics_path, or, when metrics_port is
    # set, on that port of `host` instead (and not by the app).
    metrics_enabled: bool = False
    metrics_path: str = "/__metrics__"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # statsd: one UDP datagram per observation, sent when statsd_host is set.
    statsd_host: str | None = None
    statsd_port: int = Field(default=8125, ge=1, le=65535)
    statsd_prefix: str = Field(default="syncstorage", pattern=r"^[A-Za-z0-9_.-]*$")

    # --- the admin page (syncstorage.admin, docs/operations.md "The admin page") ---
    # The hash of the operator's sign-in token, a PHC string made by
    # `syncstorage admin hash-token`; unset: no admin page (404).
    admin_token: str | None = None
    admin_path: str = "/admin"

    @field_validator("allowed_users", mode="before")
    @classmethod
    def _parse_allowed_users(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item for item in re.split(r"[\s,]+", text) if item]
        return value

    @field_validator("fxa_oauth_primary_jwk", "fxa_oauth_secondary_jwk")
    @classmethod
    def _usable_jwk(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and parse_jwk(value) is None:
            raise ValueError("not a usable RSA public key (JWK with kty RSA, n and e)")
        return value

    @model_validator(mode="after")
    def _allowed_users_are_uids(self) -> Settings:
        # Firefox Accounts never tells the tokenserver a user's e-mail
        # address, so such an entry could never match: refuse it rather
        # than lock its owner out silently.
        domain = "@" + self.fxa_email_domain.lower()
        for entry in self.allowed_users:
            if "@" in entry and not entry.lower().endswith(domain):
                raise ValueError(
                    f"allowed_users entry {entry!r} is an e-mail address; Firefox Accounts does "
                    "not give the server e-mail addresses: list the account's FxA uid instead "
                    "(the server log names the uid of every refused account)"
                )
        return self

    @field_validator("master_secret", mode="before")
    @classmethod
    def _parse_secrets(cls, value: object) -> object:
        # A plain string is one secret, never split on whitespace
        # (auth-and-tokens §2.1); a JSON array gives several.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"starts with [ but is not a JSON array of secrets ({exc})") from None
            return [value] if value else []
        return value

    @field_validator("master_secret")
    @classmethod
    def _secrets_not_empty(cls, value: list[str]) -> list[str]:
        if any(not s for s in value):
            raise ValueError("a master secret may not be empty")
        return value

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError("smtp_from (the From address of confirmation mails) is needed with smtp_host")
        if self.smtp_from and ("@" not in self.smtp_from or any(c in self.smtp_from for c in "\r\n")):
            raise ValueError("smtp_from must be one e-mail address")
        if self.smtp_password and not self.smtp_username:
            raise ValueError("smtp_password needs smtp_username")
        return self

    @field_validator("metrics_path")
    @classmethod
    def _check_metrics_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() or c in "?#%" for c in value):
            raise ValueError('must be a plain path starting with "/"')
        if value.startswith(("/1.5/", "/1.0/")):
            raise ValueError("may not be below /1.5/ or /1.0/ (the storage API and tokenserver)")
        return value

    @field_validator("admin_token")
    @classmethod
    def _admin_token_is_a_hash(cls, value: str | None) -> str | None:
        # A plain token in a config file or environment would be readable by
        # anyone who reads them; only its hash is kept (as Vaultwarden does).
        if value is None:
            return None
        try:
            TokenHash(value)
        except BadTokenHash:
            raise ValueError(
                "is not a hashed token; store the output of `syncstorage admin hash-token` "
                "(it reads the token from stdin or a prompt)"
            ) from None
        return value

    @field_validator("admin_path")
    @classmethod
    def _check_admin_path(cls, value: str) -> str:
        value = value.rstrip("/")
        segments = value.split("/")[1:]
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value) or any(s in (".", "..") for s in segments):
            raise ValueError('must be a path of letters, digits and ._~- segments, starting with "/"')
        if value.startswith(("/1.5/", "/1.0/", "/site/")) or value in ("/1.5", "/1.0", "/site"):
            raise ValueError("may not be below /1.5/, /1.0/ or /site/ (the storage API, tokenserver, landing page)")
        return value

    @field_validator("public_url", "accounts_public_url")
    @classmethod
    def _strip_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"not a database URL; expected {_DATABASE_URL_FORMS}") from None
        if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
            raise ValueError(f"unsupported database {backend!r}; expected {_DATABASE_URL_FORMS}")
        return value

    @model_validator(mode="after")
    def _limits_consistent(self) -> Settings:
        # Clients size uploads from /info/configuration; these relations make
        # every upload that respects the advertised limits acceptable.
        if self.max_request_bytes < self.max_post_bytes + 4096:
            raise ValueError("max_request_bytes must be at least max_post_bytes + 4096")
        if self.max_record_payload_bytes < self.max_post_bytes:
            raise ValueError("max_record_payload_bytes must be at least max_post_bytes")
        if self.max_total_bytes < self.max_post_bytes:
            raise ValueError("max_total_bytes must be at least max_post_bytes")
        if self.max_total_records < self.max_post_records:
            raise ValueError("max_total_records must be at least max_post_records")
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port")
        return self

    # --- derived values ---
    @property
    def storage_layout(self) -> dict:
        """Keyword arguments for SQLStorage and migrate.upgrade."""
        return {"shard": self.shard, "shardsize": self.shardsize}

    @property
    def lock_timeout(self) -> float:
        """Seconds one wait for a database lock may last: half the retry
        budget, so a write stuck behind a hung transaction still gets a
        second attempt before its 503 (storage-model §5.4)."""
        return self.conflict_retry_seconds / 2

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def tokenserver_uri(self) -> str:
        """What Firefox's `identity.sync.tokenserver.uri` is set to for this
        server (auth-and-tokens §13.2)."""
        return self.effective_public_url.rstrip("/") + "/1.0/sync/1.5"

    @property
    def effective_accounts_public_url(self) -> str:
        return self.accounts_public_url or self.effective_public_url

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'syncstorage.db'}"

    @property
    def effective_tokenserver_database_url(self) -> str:
        return self.tokenserver_database_url or self.effective_database_url
