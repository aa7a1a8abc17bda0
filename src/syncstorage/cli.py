"""The `syncstorage` command.

Settings come from defaults, then SYNCSTORAGE_* environment variables, then
command-line flags (each later source wins). Any invalid value stops the
command with one line naming the setting, and exit code 2 (issue 2 item 5).
"""

from __future__ import annotations

import json
import logging
import os
import sys

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from syncstorage import __version__
from syncstorage import master_secret as secret_file
from syncstorage.settings import Settings

log = logging.getLogger("syncstorage")

TOKENSERVER_PATH = "/1.0/sync/1.5"  # auth-and-tokens §13.2
APP_FACTORY = "syncstorage.cli:app_from_environment"
# Settings that `serve` also takes as flags. Flags carry plain strings:
# pydantic validates them, so a bad flag gets the same one-line error as a
# bad environment variable.
FLAG_SETTINGS = ("host", "port", "public_url", "database_url", "master_secret", "data_dir")


class SettingsProblem(click.ClickException):
    """A bad setting: printed as one line, exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"syncstorage: {self.message}", err=True)


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line that names each bad
    setting, its environment variable and the problem, without echoing the
    value (it may be a secret)."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            name = str(error["loc"][0])
            sources = f"SYNCSTORAGE_{name.upper()}"
            if name in FLAG_SETTINGS:
                sources += f" / --{name.replace('_', '-')}"
            problems.append(f"invalid setting {name} ({sources}): {message}")
        else:  # a rule across several settings (model validator)
            problems.append(f"invalid settings: {message}")
    return "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Build the effective Settings; flags given as keyword arguments (None
    means "not given") win over the environment."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsProblem(describe_validation_error(exc)) from None
    except SettingsError as exc:  # an environment value pydantic cannot parse
        raise SettingsProblem(str(exc)) from None


def with_master_secret(settings: Settings) -> Settings:
    """Use the configured secret, else the stored one, else generate it."""
    if settings.master_secret:
        return settings
    try:
        secret, created = secret_file.load_or_create(settings.data_dir)
    except (OSError, ValueError) as exc:
        raise SettingsProblem(f"cannot use the master secret file: {exc}") from None
    path = secret_file.secret_path(settings.data_dir)
    if created:
        log.info("generated a new master secret in %s (mode 0600); keep it safe", path)
    else:
        log.info("using the master secret stored in %s", path)
    return settings.model_copy(update={"master_secret": [secret]})


def export_to_environment(settings: Settings) -> None:
    """Put every effective setting in SYNCSTORAGE_* variables, so worker
    processes started by uvicorn (workers > 1, reload) build the same
    Settings, generated secret included, in `app_from_environment`."""
    for name in Settings.model_fields:
        value = getattr(settings, name)
        var = f"SYNCSTORAGE_{name.upper()}"
        if value is None:
            os.environ.pop(var, None)
        elif isinstance(value, list):
            os.environ[var] = json.dumps(value)
        elif isinstance(value, bool):
            os.environ[var] = "true" if value else "false"
        else:
            os.environ[var] = str(value)


def app_from_environment():
    """uvicorn factory for worker processes (see export_to_environment)."""
    from syncstorage.app import create_app

    return create_app(Settings())


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncstorage")
def cli() -> None:
    """A Firefox Sync 1.5 server: storage and tokenserver in one process.

    Every setting can also be given as an environment variable
    SYNCSTORAGE_<NAME> (e.g. SYNCSTORAGE_PUBLIC_URL); flags win over the
    environment. See docs/configuration.md.
    """


@cli.command()
@click.option(
    "--host",
    default=None,
    metavar="HOST",
    help="Address to listen on. [env SYNCSTORAGE_HOST; default 127.0.0.1]",
)
@click.option(
    "--port",
    default=None,
    metavar="PORT",
    help="Port to listen on. [env SYNCSTORAGE_PORT; default 8000]",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="URL clients use to reach this server, path prefix included. "
    "[env SYNCSTORAGE_PUBLIC_URL; default http://HOST:PORT]",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL: sqlite:///path, postgresql://..., mysql://... "
    "[env SYNCSTORAGE_DATABASE_URL; default a SQLite file in the data dir]",
)
@click.option(
    "--master-secret",
    default=None,
    metavar="SECRET",
    help="Secret that signs tokens (or a JSON array, oldest first). "
    "[env SYNCSTORAGE_MASTER_SECRET; default generated into DATA_DIR/master_secret]",
)
@click.option(
    "--data-dir",
    default=None,
    metavar="DIR",
    help="Directory for the SQLite database and the generated secret. [env SYNCSTORAGE_DATA_DIR; default ./data]",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--reload/--no-reload", default=False, show_default=True, help="Restart on code changes (development only).")
def serve(host, port, public_url, database_url, master_secret, data_dir, workers, reload) -> None:
    """Run the server (storage API, tokenserver and ops endpoints)."""
    import uvicorn

    setup_logging()
    settings = load_settings(
        host=host,
        port=port,
        public_url=public_url,
        database_url=database_url,
        master_secret=master_secret,
        data_dir=data_dir,
    )
    if workers > 1 and not settings.nonce_store_url:
        # Replay detection needs one nonce store for all workers (auth-and-tokens §3.4).
        raise SettingsProblem(
            "invalid setting nonce_store_url (SYNCSTORAGE_NONCE_STORE_URL): "
            "--workers above 1 needs a shared nonce store, e.g. redis://127.0.0.1:6379/0"
        )
    if settings.database_url is None:  # the default SQLite file lives in data_dir
        try:
            secret_file.ensure_data_dir(settings.data_dir)
        except OSError as exc:
            raise SettingsProblem(f"invalid setting data_dir (SYNCSTORAGE_DATA_DIR / --data-dir): {exc}") from None
    settings = with_master_secret(settings)

    public = settings.effective_public_url
    log.info("syncstorage %s listening on http://%s:%d", __version__, _url_host(settings.host), settings.port)
    log.info("public URL: %s", public)
    log.info("in Firefox about:config set identity.sync.tokenserver.uri = %s%s", public, TOKENSERVER_PATH)

    if workers > 1 or reload:
        export_to_environment(settings)
        app: object = APP_FACTORY
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
        proxy_headers=False,  # Hawk reads X-Forwarded-* itself (auth-and-tokens §3.3)
        server_header=False,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main() -> None:
    cli(prog_name="syncstorage")
