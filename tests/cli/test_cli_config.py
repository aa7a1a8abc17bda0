"""Settings layering and the config/secret commands, through the real CLI:
defaults < TOML file (--config) < environment < flags (issue 5 item 1)."""

from __future__ import annotations

import re

import pytest

from support.server import invoke_cli, server_environment
from syncstorage.tokenhash import hash_token


@pytest.fixture
def env(tmp_path):
    return server_environment(data_dir=str(tmp_path / "data"))


def shown(output: str) -> dict[str, str]:
    """`config show` lines as name -> 'value  # source'."""
    return dict(line.split(" = ", 1) for line in output.splitlines() if " = " in line and not line.startswith("#"))


def test_file_below_environment_above_defaults(tmp_path, env):
    config = tmp_path / "sync.toml"
    config.write_text('port = 1111\nhawk_skew_window = 30\npublic_url = "https://example.org/sync/"\n')
    env["SYNCSTORAGE_PORT"] = "2222"
    result = invoke_cli("config", "show", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    values = shown(result.stdout)
    assert values["port"] == "2222  # SYNCSTORAGE_PORT"
    assert values["hawk_skew_window"] == f"30  # {config}"
    assert values["public_url"] == f'"https://example.org/sync"  # {config}'
    assert values["max_post_records"] == "100  # default"


def test_config_file_from_environment_variable(tmp_path, env):
    config = tmp_path / "sync.toml"
    config.write_text("max_post_records = 50\n")
    env["SYNCSTORAGE_CONFIG"] = str(config)
    assert shown(invoke_cli("config", "show", env=env).stdout)["max_post_records"].startswith("50 ")


def test_flag_beats_environment_beats_file(tmp_path, env):
    # Each layer holds a bad port; the error names the layer that won.
    config = tmp_path / "sync.toml"
    config.write_text("port = 70001\n")
    args = ("serve", "--config", str(config))
    assert "port (from " + str(config) + ")" in invoke_cli(*args, env=env).stderr
    env["SYNCSTORAGE_PORT"] = "70002"
    assert "port (from SYNCSTORAGE_PORT)" in invoke_cli(*args, env=env).stderr
    assert "port (from --port)" in invoke_cli(*args, "--port", "70003", env=env).stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("port = ", "is not valid TOML"),
        ("prot = 8000\n", "unknown setting 'prot'"),
        ('port = "eighty"\n', "invalid setting port (from "),
        ("master_secret = []\nhawk_skew_window = -5\n", "invalid setting hawk_skew_window"),
        ('master_secret = ["ok", ""]\n', "a master secret may not be empty"),
        ("max_post_records = 20000\n", "max_total_records must be at least max_post_records"),
    ],
)
def test_bad_config_file_is_one_line(tmp_path, env, content, expected):
    config = tmp_path / "sync.toml"
    config.write_text(content)
    result = invoke_cli("config", "show", "--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr


def test_missing_config_file(tmp_path, env):
    result = invoke_cli("serve", "--config", str(tmp_path / "nope.toml"), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"syncstorage: config file {tmp_path / 'nope.toml'} does not exist"


def test_show_masks_secrets(tmp_path, env):
    env["SYNCSTORAGE_MASTER_SECRET"] = '["old secret words", "the newest secret"]'
    env["SYNCSTORAGE_DATABASE_URL"] = "postgresql://sync:hunter2@db.example/sync"
    env["SYNCSTORAGE_NONCE_STORE_URL"] = "redis://:redispass@127.0.0.1:6379/0"
    env["SYNCSTORAGE_ADMIN_TOKEN"] = hash_token("the admin token here", log2_n=4)
    env.update(SYNCSTORAGE_SMTP_HOST="smtp.example.org", SYNCSTORAGE_SMTP_FROM="sync@example.org",
               SYNCSTORAGE_SMTP_USERNAME="sync", SYNCSTORAGE_SMTP_PASSWORD="mailpass")
    out = invoke_cli("config", "show", env=env).stdout
    for secret in ("old secret words", "the newest secret", "hunter2", "redispass", "$scrypt$", "mailpass"):
        assert secret not in out
    values = shown(out)
    assert values["smtp_password"].startswith('"<hidden, 8 characters>"')
    assert values["admin_token"].startswith('"<hidden, ')
    assert values["master_secret"].startswith('["<hidden, 16 characters>", "<hidden, 17 characters>"]')
    assert values["database_url"].startswith('"postgresql://sync:***@db.example/sync"')


def test_show_tells_defaults_that_are_derived(tmp_path, env):
    out = invoke_cli("config", "show", env=env).stdout
    assert "# public_url is not set: clients use http://127.0.0.1:8000" in out
    assert f"# master_secret is not set: {tmp_path / 'data' / 'master_secret'} (generated on first start)" in out


def test_secret_generate(env):
    first, second = (invoke_cli("secret", "generate", env=env).stdout.strip() for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second


@pytest.mark.parametrize("args", [(), ("serve",), ("config", "show"), ("secret", "generate")])
def test_help_everywhere(env, args):
    result = invoke_cli(*args, "--help", env=env)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: syncstorage")
