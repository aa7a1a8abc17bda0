"""Authenticate one storage request: the checks of auth-and-tokens §5, in order.

Everything that depends only on the token string (signature, payload sanity,
identifier charset, node, derived key) is computed once per token and kept in
a bounded LRU cache: a sync sends the same token on every request (issue 6).
Expiry, MAC, timestamp, nonce and uid are checked on every request.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from syncstorage.auth.hawk import (
    DEFAULT_PORTS,
    MacKey,
    compute_mac,
    macs_equal,
    normalized_string,
    parse_authorization,
    stale_timestamp_header,
)
from syncstorage.auth.identity import AuthError, Identity
from syncstorage.auth.nonces import NonceStore, nonce_key
from syncstorage.auth.tokens import TokenVerifier, derived_secret
from syncstorage.timestamps import WALL_CLOCK, Clock

_IDENTIFIER = re.compile(r"[A-Za-z0-9=\-_]{1,64}")
_IDENTIFIER_FIELDS = ("hashed_fxa_uid", "fxa_uid", "fxa_kid", "hashed_device_id", "device_id")


@dataclass(frozen=True, slots=True)
class _VerifiedToken:
    identity: Identity
    expires: float
    node_matches: bool
    hawk_key: MacKey


def normalize_url(url: str) -> str | None:
    """Comparable form of a node URL (§5 step 6): lower-case scheme and host,
    no default port, no trailing slash. None if it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _identity_from_payload(payload: dict) -> Identity:
    """§5 steps 3-4: field types and identifier charset."""
    uid = payload.get("uid")
    if type(uid) is not int or uid < 0:  # bool is an int subclass: excluded
        raise AuthError("token uid is not a non-negative integer")
    if not isinstance(payload.get("node"), str):
        raise AuthError("token node is not a string")
    if not isinstance(payload.get("salt"), str):
        raise AuthError("token salt is not a string")
    expires = payload.get("expires")
    # type(), not isinstance: True is no expiry; mypy narrows only isinstance
    if type(expires) not in (int, float) or not math.isfinite(expires):  # type: ignore[arg-type]
        raise AuthError("token expires is not a number")
    for field in _IDENTIFIER_FIELDS:
        value = payload.get(field)
        if value is not None and not (isinstance(value, str) and _IDENTIFIER.fullmatch(value)):
            raise AuthError(f"token {field} has invalid characters or length")
    hashed_fxa_uid = payload.get("hashed_fxa_uid")
    if hashed_fxa_uid is not None and (payload.get("fxa_uid") is None or payload.get("fxa_kid") is None):
        raise AuthError("token has hashed_fxa_uid without fxa_uid and fxa_kid")
    return Identity(
        uid=uid,
        fxa_uid=payload.get("fxa_uid"),
        fxa_kid=payload.get("fxa_kid"),
        # A legacy token carrying only fxa_uid uses it as the hashed id (§5 step 4).
        hashed_fxa_uid=hashed_fxa_uid if hashed_fxa_uid is not None else payload.get("fxa_uid"),
        hashed_device_id=payload.get("hashed_device_id"),
    )


def _first(value: str) -> str:
    """First entry of a possibly comma-separated forwarded header."""
    return value.split(",", 1)[0].strip()


# ASCII digits only, and few of them: str.isdigit() also takes "²" (a
# latin-1 header byte) and int() refuses more than 4300 digits, and both
# were 500s (issue 10).
_PORT = re.compile(r"[0-9]{1,5}")


def _port(text: str, header: str) -> str:
    """The decimal port `text` without leading zeros, or AuthError."""
    if _PORT.fullmatch(text) is None or int(text) > 65535:
        raise AuthError(f"malformed {header}")
    return str(int(text))


def _split_host(value: str, header: str = "host header") -> tuple[str, str]:
    """(lower-case host, port or "") of a Host value (§3.3). IPv6 literals
    lose their brackets, as in the host Firefox signs (nsIURI.asciiHost)."""
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise AuthError(f"malformed {header}")
        port = rest[1:]
    else:
        host, _, port = value.rpartition(":") if ":" in value else (value, "", "")
    if not host:
        raise AuthError(f"malformed {header}")
    return host.lower(), _port(port, header) if port else ""


class HawkAuthenticator:
    def __init__(
        self,
        *,
        secrets: Sequence[str],
        public_url: str,
        nonce_store: NonceStore,
        skew_window: int = 60,
        expired_token_timeout: int = 7200,
        force_public_url_host: bool = False,
        token_cache_size: int = 10_000,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self._clock = clock
        self._tokens = TokenVerifier(secrets)
        self._nonce_store = nonce_store
        self._skew_window = skew_window
        self._expired_token_timeout = expired_token_timeout
        self._public_node = normalize_url(public_url)
        if self._public_node is None:
            raise ValueError(f"public_url {public_url!r} is not an http(s) URL")
        public = urlsplit(public_url)
        # The signed path is prefix + routed path (§3.3, storage-api §1.1).
        self._prefix = public.path.rstrip("/")
        self._forced_host: tuple[str, str] | None = None
        if force_public_url_host:
            host, port = _split_host(public.netloc)
            self._forced_host = (host, port or str(DEFAULT_PORTS[public.scheme.lower()]))
        self._verify_token = functools.lru_cache(maxsize=token_cache_size)(self._verify_token_uncached)

    @classmethod
    def from_settings(
        cls, settings, nonce_store: NonceStore, clock: Clock = WALL_CLOCK
    ) -> HawkAuthenticator:
        return cls(
            clock=clock,
            secrets=settings.master_secret,
            public_url=settings.effective_public_url,
            nonce_store=nonce_store,
            skew_window=settings.hawk_skew_window,
            expired_token_timeout=settings.expired_token_timeout,
            force_public_url_host=settings.force_public_url_host,
        )

    @property
    def in_process(self) -> bool:
        """Whether authenticate() can run on the event loop: all its work is
        CPU unless the nonce check is a round trip to a shared store."""
        return self._nonce_store.in_process

    def authenticate(
        self,
        *,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        scheme: str,
        path_uid: int,
        allow_expired: bool = False,
    ) -> Identity:
        """Return the signer's Identity or raise AuthError (§5, in order).

        `path` is the raw routed path (public_url prefix removed), `headers`
        a case-insensitive mapping, `allow_expired` True only for GET/HEAD of
        /1.5/{uid}/info/collections. May raise NonceStoreUnavailable.
        """
        # 1. header present and well-formed
        authorization = headers.get("authorization")
        if authorization is None:
            raise AuthError("missing authorization header")
        hawk = parse_authorization(authorization)
        # 2-4, 6-7 (token-only facts, cached)
        token = self._verify_token(hawk["id"])
        # 5. expiry, with the grace for polling info/collections
        now = self._clock.time()
        if token.expires <= now:
            if not allow_expired:
                raise AuthError("expired token")
            if now - token.expires >= self._expired_token_timeout:
                raise AuthError("expired token beyond the info/collections grace")
        # 6. node
        if not token.node_matches:
            raise AuthError("token node does not match public_url")
        # 7. MAC over the request as the client saw it
        host, port = self._signed_host(headers, scheme)
        path_qs = self._prefix + path + (f"?{query_string}" if query_string else "")
        expected = compute_mac(token.hawk_key, normalized_string(
            ts=hawk["ts"], nonce=hawk["nonce"], method=method, path_qs=path_qs,
            host=host, port=port, hash=hawk.get("hash", ""), ext=hawk.get("ext", ""),
        ))
        if not macs_equal(expected, hawk["mac"]):
            raise AuthError("invalid mac")
        # 8. timestamp window, then nonce replay (§3.4)
        ts = int(hawk["ts"])
        if not now - self._skew_window < ts < now + self._skew_window:
            reason = "stale timestamp" if ts <= now else "timestamp in the future"
            raise AuthError(reason, stale_timestamp_header(token.hawk_key, int(now)))
        if not self._nonce_store.add(nonce_key(hawk["id"], hawk["nonce"]), ts + self._skew_window, now):
            raise AuthError("replayed nonce")
        # 9. the URL's uid is the token's
        if token.identity.uid != path_uid:
            raise AuthError("uid mismatch")
        return token.identity

    def _verify_token_uncached(self, token: str) -> _VerifiedToken:
        payload, secret = self._tokens.verify(token)
        identity = _identity_from_payload(payload)
        try:
            key = derived_secret(token, secret, payload["salt"])
        except UnicodeEncodeError:
            raise AuthError("token salt is not ASCII") from None
        return _VerifiedToken(
            identity=identity,
            expires=payload["expires"],
            node_matches=normalize_url(payload["node"]) == self._public_node,
            hawk_key=MacKey(key.encode("ascii")),
        )

    def _signed_host(self, headers: Mapping[str, str], scheme: str) -> tuple[str, str]:
        """(host, port) the client signed, per §3.3. The scheme only matters
        for the default port, so forwarded port/proto are read only then."""
        if self._forced_host is not None:
            return self._forced_host
        forwarded_host = headers.get("x-forwarded-host")
        value = forwarded_host or headers.get("host")
        if not value:
            raise AuthError("missing host header")
        host, port = _split_host(_first(value), "X-Forwarded-Host" if forwarded_host else "host header")
        if not port:
            forwarded_port = headers.get("x-forwarded-port")
            forwarded_proto = headers.get("x-forwarded-proto")
            scheme = (_first(forwarded_proto) if forwarded_proto else scheme).lower()
            if forwarded_port:
                port = _port(_first(forwarded_port), "X-Forwarded-Port")
            elif scheme in DEFAULT_PORTS:
                port = str(DEFAULT_PORTS[scheme])
            else:
                # the value is the client's: at most a few characters of it in the log
                raise AuthError(f"unknown scheme {scheme[:16]!r}")
        return host, port
