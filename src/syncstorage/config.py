"""Loading the settings: defaults < TOML file < environment < flags.

Issue 5 item 1. The layering is pydantic-settings' own source mechanism:
flags arrive as init arguments, then the SYNCSTORAGE_* environment, then the
TOML file given with `--config`. Any problem becomes a `ConfigError` whose
message is ONE line naming the setting, where it came from and what is
wrong, never the value (it may be a secret).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError, TomlConfigSettingsSource
from sqlalchemy.engine import make_url

from syncstorage import master_secret
from syncstorage.settings import Settings


class ConfigError(Exception):
    """A bad setting or config file; str() is the one line to print."""


def env_var(name: str) -> str:
    return f"SYNCSTORAGE_{name.upper()}"


def _in_environment(name: str) -> bool:
    # pydantic-settings matches variable names case-insensitively.
    wanted = env_var(name).lower()
    return any(key.lower() == wanted for key in os.environ)


def _read_config_file(path: Path) -> TomlConfigSettingsSource:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        source = TomlConfigSettingsSource(Settings, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    unknown = sorted(set(source.toml_data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r} (see docs/configuration.md)")
    return source


def setting_source(name: str, flags: dict[str, object], file_data: dict, config_file: Path | None) -> str:
    """Where the effective value of `name` comes from, in words."""
    if flags.get(name) is not None:
        return f"--{name.replace('_', '-')}"
    if _in_environment(name):
        return env_var(name)
    if name in file_data:
        return f"{config_file}"
    return "default"


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """The effective Settings. `flags` are command-line values (None: not
    given), of any type until Settings validates them."""
    given = {name: value for name, value in flags.items() if value is not None}
    file_source = _read_config_file(config_file) if config_file is not None else None

    class LayeredSettings(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
            # Earlier sources win: flags, then environment, then the file.
            return (init_settings, env_settings) + ((file_source,) if file_source else ())

    try:
        return LayeredSettings(**given)
    except ValidationError as exc:
        file_data = file_source.toml_data if file_source else {}
        raise ConfigError(_describe(exc, given, file_data, config_file)) from None
    except SettingsError as exc:  # an environment value pydantic cannot parse
        raise ConfigError(str(exc)) from None


def _describe(exc: ValidationError, flags: dict, file_data: dict, config_file: Path | None) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            name = str(error["loc"][0])
            source = setting_source(name, flags, file_data, config_file)
            if source == "default":  # defaults are not validated; name the variable to set
                source = env_var(name)
            problems.append(f"invalid setting {name} (from {source}): {message}")
        else:  # a rule across several settings (model validator)
            problems.append(f"invalid settings: {message}")
    return "; ".join(problems)


# --- showing settings ---------------------------------------------------------


def masked_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:  # not an SQLAlchemy URL (e.g. redis://): hide user info
        scheme, sep, rest = url.partition("://")
        netloc, slash, path = rest.partition("/")
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        return f"{scheme}{sep}{netloc}{slash}{path}"
    return parsed.render_as_string(hide_password=True)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # JSON string escapes are valid TOML


def _is_secret(name: str) -> bool:
    # admin_token holds only a hash, but a hash still lets one guess offline
    return "secret" in name or "password" in name or name == "admin_token"


def _shown_value(name: str, value: object) -> str:
    """TOML for a setting's value, with secrets and URL passwords masked."""
    if _is_secret(name):
        hidden = [f"<hidden, {len(str(s))} characters>" for s in (value if isinstance(value, list) else [value])]
        return _toml(hidden if isinstance(value, list) else hidden[0])
    if isinstance(value, str) and name.endswith("_url"):
        value = masked_url(value)
    return _toml(value)


def render_settings(settings: Settings, flags: dict[str, object], config_file: Path | None) -> str:
    """The effective settings as TOML, secrets masked, each line followed by
    where its value came from."""
    file_data = _read_config_file(config_file).toml_data if config_file else {}
    lines = []
    for name, shown, is_set in shown_settings(settings):
        if is_set:
            lines.append(f"{name} = {shown}  # {setting_source(name, flags, file_data, config_file)}")
        else:
            lines.append(f"# {name} is not set: {shown}")
    return "\n".join(lines)


def shown_settings(settings: Settings) -> list[tuple[str, str, bool]]:
    """(name, value as TOML with secrets and passwords masked, True) for each
    setting with a value; (name, what applies instead, False) for the others.
    What `config show` prints and the admin page shows."""
    secret_file = master_secret.secret_path(settings.data_dir)
    unset = {
        "public_url": f"clients use {settings.effective_public_url}",
        "database_url": masked_url(settings.effective_database_url),
        "master_secret": f"{secret_file} ({'exists' if secret_file.exists() else 'generated on first start'})",
        "nonce_store_url": "nonces kept in process memory (one worker only)",
        "admin_token": "no admin page",
    }
    shown = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None or value == []:
            shown.append((name, unset.get(name, "default"), False))
        else:
            shown.append((name, _shown_value(name, value), True))
    return shown
