"""What every settings-reading command shares: --config, one-line errors,
logging, the master secret."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from syncstorage import master_secret as secret_file
from syncstorage.config import ConfigError, load_settings
from syncstorage.settings import Settings

log = logging.getLogger("syncstorage")


class SettingsProblem(click.ClickException):
    """A bad setting: printed as one line, exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"syncstorage: {self.message}", err=True)


def config_option(command):
    """Add --config FILE (or SYNCSTORAGE_CONFIG) to a command."""
    return click.option(
        "--config",
        "config_file",
        default=None,
        envvar="SYNCSTORAGE_CONFIG",
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML file of settings (below environment and flags). [env SYNCSTORAGE_CONFIG]",
    )(command)


def settings_from(config_file: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config_file, **flags)
    except ConfigError as exc:
        raise SettingsProblem(str(exc)) from None


def ensure_default_data_dir(settings: Settings) -> None:
    """For the commands that create the database (`serve`, `db upgrade`):
    the default SQLite file lives in data_dir, which may not exist yet."""
    if settings.database_url is None:
        try:
            secret_file.ensure_data_dir(settings.data_dir)
        except OSError as exc:
            raise SettingsProblem(f"invalid setting data_dir: {exc}") from None


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

