"""The README, docs and deploy/ files name only settings and commands that
exist, and the example config is valid (issue 5 item 8: "kept consistent")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncstorage.cli import cli
from syncstorage.config import load_settings
from syncstorage.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]
NOT_SETTINGS = {"CONFIG"}  # SYNCSTORAGE_CONFIG names the file itself


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_environment_variables_are_settings(path):
    for name in re.findall(r"SYNCSTORAGE_([A-Z0-9_]+)", path.read_text()):
        if name.startswith("TEST_") or name in NOT_SETTINGS or name.endswith("_"):
            continue
        assert name.lower() in Settings.model_fields, f"{path.name}: SYNCSTORAGE_{name} is not a setting"


def invocations(text: str) -> list[tuple[list[str], bool]]:
    """(words after `syncstorage`, written in backticks?) for each mention;
    JSON command arrays (Dockerfile, compose) are read as plain words."""
    text = re.sub(r'"\s*,\s*"', " ", text).replace('["', " ")
    found = [(m.group(1).split(), True) for m in re.finditer(r"`(?:\./dev )?syncstorage ([^`]+)`", text)]
    found += [(m.group(1).split(), False) for m in re.finditer(r"syncstorage ((?:[a-z][a-z0-9-]* ?)+)", text)]
    return found


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_commands_exist(path):
    """Subcommands and options mentioned exist. A mention whose first word is
    no command is prose ("syncstorage is ..."), unless it is in backticks."""
    for words, quoted in invocations(path.read_text()):
        if not quoted and words[0] not in cli.commands:
            continue
        command = cli
        for word in words:
            if word.startswith("-"):
                name = word.split("=")[0]
                assert name in {o for p in command.params for o in p.opts + p.secondary_opts}, f"{path.name}: {words}"
            elif hasattr(command, "commands"):
                assert word in command.commands, f"{path.name}: syncstorage {' '.join(words)}"
                command = command.commands[word]
            else:
                break  # an argument or the prose after a full command


def test_example_config_is_valid():
    settings = load_settings(ROOT / "deploy" / "config.example.toml")
    assert settings.public_url == "https://sync.example.org"


def test_every_command_has_help():
    runner = CliRunner()

    def walk(command, path):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(cli, [])
