"""`syncstorage serve`: run the server under uvicorn."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from syncstorage import __version__
from syncstorage.cli.common import (
    SettingsProblem,
    config_option,
    ensure_default_data_dir,
    settings_from,
    with_master_secret,
)
from syncstorage.cli.db import ensure_schema
from syncstorage.logs import setup_logging
from syncstorage.metrics.exposition import prepare_worker_processes
from syncstorage.settings import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

log = logging.getLogger("syncstorage")

APP_FACTORY = "syncstorage.cli.serve:app_from_environment"


def export_to_environment(settings: Settings) -> None:
    """Put every effective setting in SYNCSTORAGE_* variables, so worker
    processes started by uvicorn (workers > 1, reload) build the same
    Settings, generated secret included, in `app_from_environment`."""
    for name in Settings.model_fields:
        value = getattr(settings, name)
        var = f"SYNCSTORAGE_{name.upper()}"
        if value is None:
            os.environ.pop(var, None)
        elif isinstance(value, (list, dict)):  # JSON: lists, and the FxA JWK objects
            os.environ[var] = json.dumps(value)
        elif isinstance(value, bool):
            os.environ[var] = "true" if value else "false"
        else:
            os.environ[var] = str(value)
    os.environ.pop("SYNCSTORAGE_CONFIG", None)  # everything is in the environment now


def app_from_environment():
    """uvicorn factory for worker processes (see export_to_environment)."""
    from syncstorage.app import create_app
    from syncstorage.httpserver import configure as configure_http

    settings = Settings()
    setup_logging(settings.log_format)
    configure_http(settings)  # this worker's protocol limits
    return create_app(settings)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# Flags carry plain strings: pydantic validates them, so a bad flag gets the
# same one-line error as a bad environment variable or config entry.
@click.command()
@config_option
@click.option("--host", default=None, metavar="HOST", help="Address to listen on. [default 127.0.0.1]")
@click.option("--port", default=None, metavar="PORT", help="Port to listen on. [default 8000]")
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="URL clients use to reach this server, path prefix included. [default http://HOST:PORT]",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="sqlite:///PATH, postgresql://USER@HOST/DB or mysql://USER@HOST/DB. [default a SQLite file in the data dir]",
)
@click.option(
    "--master-secret",
    default=None,
    metavar="SECRET",
    help="Secret that signs tokens (or a JSON array, oldest first). [default generated into DATA_DIR/master_secret]",
)
@click.option(
    "--data-dir",
    default=None,
    metavar="DIR",
    help="Directory for the SQLite database and the generated secret. [default ./data]",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes; above 1 needs nonce_store_url.")
@click.option("--reload/--no-reload", default=False, show_default=True, help="Restart on code changes (development only).")
def serve(config_file, host, port, public_url, database_url, master_secret, data_dir, workers, reload) -> None:
    """Run the server (storage API, tokenserver and ops endpoints).

    Each flag overrides the environment variable SYNCSTORAGE_<FLAG NAME>,
    which overrides the config file."""
    import uvicorn

    from syncstorage.httpserver import configure as configure_http

    settings = settings_from(
        config_file,
        host=host,
        port=port,
        public_url=public_url,
        database_url=database_url,
        master_secret=master_secret,
        data_dir=data_dir,
    )
    setup_logging(settings.log_format)
    if workers > 1 and not settings.nonce_store_url:
        # Replay detection needs one nonce store for all workers (auth-and-tokens §3.4).
        raise SettingsProblem(
            "invalid setting nonce_store_url (SYNCSTORAGE_NONCE_STORE_URL): "
            "--workers above 1 needs a shared nonce store, e.g. redis://127.0.0.1:6379/0"
        )
    ensure_default_data_dir(settings)
    settings = with_master_secret(settings)
    ensure_schema(settings.effective_database_url, settings.storage_layout)
    # the accounts tables live in the tokenserver's database too
    uses_tokenserver_database = settings.tokenserver_enabled or settings.accounts_enabled
    if uses_tokenserver_database and settings.effective_tokenserver_database_url != settings.effective_database_url:
        ensure_schema(settings.effective_tokenserver_database_url)

    public = settings.effective_public_url
    if settings.public_url is None and settings.host in ("0.0.0.0", "::"):
        log.warning("public_url is not set: set SYNCSTORAGE_PUBLIC_URL to the URL Firefox uses to reach this server")
    log.info("syncstorage %s listening on http://%s:%d", __version__, _url_host(settings.host), settings.port)
    log.info("public URL: %s", public)
    if settings.accounts_enabled:
        accounts_url = settings.effective_accounts_public_url
        log.info(
            "built-in accounts (sign-up %s): in Firefox about:config set identity.fxaccounts.autoconfig.uri = %s",
            settings.accounts_signup, accounts_url,
        )
        if urlsplit(accounts_url).path:
            # Firefox resolves its settings pages against the root (accounts spec §2.3)
            log.warning(
                "the accounts URL %s has a path: Firefox looks for the account pages at the root of its origin;"
                " set accounts_public_url to the origin alone (docs/accounts.md)", accounts_url,
            )
    else:
        log.info("in Firefox about:config set identity.sync.tokenserver.uri = %s", settings.tokenserver_uri)

    if workers > 1 or reload:
        prepare_worker_processes(settings, workers)  # metrics summed over workers
        export_to_environment(settings)
        app: str | ASGIApp = APP_FACTORY
    else:
        from syncstorage.app import create_app

        app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=workers,
        reload=reload,
        factory=isinstance(app, str),
        **configure_http(settings),  # header, connection and timeout limits
        proxy_headers=False,  # Hawk reads X-Forwarded-* itself (auth-and-tokens §3.3)
        server_header=False,
        access_log=False,  # syncstorage.requestlog writes one line per request
        log_config=None,  # keep the handler of setup_logging
    )
