"""Is this installation ready to serve Firefox? The checks of `syncstorage
check` (cli/check.py prints them) and of the admin page's Operations
(admin/operations.py shows them).

Each check gives an outcome: passed or failed, a detail, and a hint for a
failure. The checks only read: they never create a database, a schema or a
secret file.
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncstorage import master_secret as secret_file
from syncstorage.auth.authenticator import normalize_url
from syncstorage.config import masked_url
from syncstorage.logs import driver_error
from syncstorage.settings import Settings
from syncstorage.storage import StorageError
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine

MIN_SECRET_LENGTH = 16


@dataclass
class Outcome:
    ok: bool
    detail: str
    hint: str = ""


Check = Callable[[Settings], Outcome]


def _reachable(url: str, settings: Settings) -> Outcome:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        # Connecting would create an empty file; a check never creates anything.
        return Outcome(False, f"{parsed.database} does not exist", "start `syncstorage serve` once, or run `syncstorage db upgrade`")
    storage = SQLStorage(url, database_timeout=settings.database_timeout)
    try:
        storage.ping()
    except (StorageError, sa.exc.SQLAlchemyError) as exc:
        return Outcome(False, f"{masked_url(url)}: {driver_error(exc)}", "check database_url, and that the database server runs and accepts this user")
    finally:
        storage.close()
    return Outcome(True, masked_url(url))


def _database_urls(settings: Settings) -> list[str]:
    """The storage database, and the tokenserver's when it is another one."""
    urls = [settings.effective_database_url]
    if settings.tokenserver_enabled and settings.effective_tokenserver_database_url not in urls:
        urls.append(settings.effective_tokenserver_database_url)
    return urls


def database_reachable(settings: Settings) -> Outcome:
    for url in _database_urls(settings):
        outcome = _reachable(url, settings)
        if not outcome.ok:
            return outcome
    return Outcome(True, ", ".join(masked_url(url) for url in _database_urls(settings)))


def schema_current(settings: Settings) -> Outcome:
    head = migrate.head_revision()
    for url in _database_urls(settings):
        revision = migrate.current_revision(url)
        if revision != head:
            return Outcome(False, f"{masked_url(url)} at {revision or 'no schema'}, this version needs {head}", "run `syncstorage db upgrade`")
    return Outcome(True, f"revision {head}")


def node_registered(settings: Settings) -> Outcome:
    """The tokenserver hands out this server's public_url as the node of its
    users (auth-and-tokens §13.1): it must be a node that takes users."""
    if not (settings.tokenserver_enabled and settings.storage_enabled):
        return Outcome(True, "not needed: this process is not both tokenserver and storage")
    url = settings.effective_public_url
    engine = make_engine(
        settings.effective_tokenserver_database_url, database_timeout=settings.database_timeout
    )
    try:
        row = admin.find_node(engine, url)
    finally:
        engine.dispose()
    if row is None:
        return Outcome(False, f"no node {url}", f"start `syncstorage serve` once (it registers its public URL), or `syncstorage node add {url}`")
    if row.downed:
        return Outcome(False, f"{url} is marked down: no new users", f"`syncstorage node update {url} --not-downed`")
    if row.current_load >= row.capacity:
        return Outcome(False, f"{url} is full ({row.current_load} of {row.capacity} users)", f"`syncstorage node update {url} --capacity N`")
    return Outcome(True, f"{url} ({row.current_load} of {row.capacity} users)")


def master_secret(settings: Settings) -> Outcome:
    if settings.master_secret:
        secrets = settings.master_secret
        where = f"{len(secrets)} configured"
    else:
        path = secret_file.secret_path(settings.data_dir)
        if not path.exists():
            return Outcome(False, f"none configured and {path} does not exist", "start `syncstorage serve` once to generate it, or set master_secret")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Outcome(False, f"{path} is readable by others (mode {mode:04o})", f"chmod 600 {path}")
        try:
            secrets = [path.read_text(encoding="utf-8").strip()]
        except OSError as exc:
            return Outcome(False, f"{path}: {exc.strerror}", "the server's user must be able to read it")
        where = str(path)
    if not all(secrets):
        return Outcome(False, f"{where}: empty", "delete the file or set master_secret; `syncstorage secret generate` makes one")
    if min(len(s) for s in secrets) < MIN_SECRET_LENGTH:
        return Outcome(False, f"{where}: shorter than {MIN_SECRET_LENGTH} characters", "use `syncstorage secret generate`")
    return Outcome(True, where)


def public_url(settings: Settings) -> Outcome:
    url = settings.effective_public_url
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return Outcome(False, f"{url} has a query or fragment", "public_url is scheme://host[:port][/prefix] only")
    host = parts.hostname or ""
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        return Outcome(False, f"{url}: clients cannot connect to {host}", "set public_url to the URL Firefox uses, e.g. http://192.168.1.10:8000")
    # Tokens name this URL as their node and the storage side accepts only
    # tokens whose node matches it (auth-and-tokens §5 step 6).
    if normalize_url(url) is None:
        return Outcome(False, f"{url} is not a usable http(s) URL", "check the host and port of public_url")
    return Outcome(True, f"{url} (Firefox: identity.sync.tokenserver.uri = {settings.tokenserver_uri})")


# (name, check, name of the check it needs to have passed)
CHECKS: list[tuple[str, Check, str | None]] = [
    ("database reachable", database_reachable, None),
    ("schema current", schema_current, "database reachable"),
    ("master secret", master_secret, None),
    ("public URL", public_url, None),
    ("node registered", node_registered, "schema current"),
]


def run_checks(settings: Settings) -> Iterator[tuple[str, Outcome | None]]:
    """Each check's outcome; None for one skipped because what it needs failed."""
    passed: set[str] = set()
    for name, check, needs in CHECKS:
        if needs is not None and needs not in passed:
            yield name, None
            continue
        outcome = check(settings)
        if outcome.ok:
            passed.add(name)
        yield name, outcome
