"""Starting the server as an operator does: bad settings stop it with one
line, a missing master secret is generated once and kept private."""

from __future__ import annotations

import stat

import pytest

from e2e.client import SyncClient, mint_token
from e2e.server import free_port, run_cli, server_environment, start_server

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("settings", "args", "names"),
    [
        ({"port": "99999"}, (), "port"),
        ({"port": "eighty"}, (), "port"),
        ({}, ("--port", "-1"), "port"),
        ({"public_url": "sync.example.org"}, (), "public_url"),
        ({"database_url": "oracle://db/sync"}, (), "database_url"),
        ({"database_url": "not a url"}, (), "database_url"),
        ({"master_secret": '["unterminated'}, (), "master_secret"),
        ({"quota_enabled": "perhaps"}, (), "quota_enabled"),
        ({"hawk_skew_window": "0"}, (), "hawk_skew_window"),
        ({"max_post_bytes": "99999999"}, (), "max_request_bytes"),
    ],
)
def test_bad_setting_stops_startup_with_one_line(tmp_path, settings, args, names):
    env = server_environment(data_dir=str(tmp_path / "data"), **settings)
    result = run_cli("serve", *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr
    # a value that may be secret is never echoed back
    for value in settings.values():
        if len(value) > 8:
            assert value not in lines[0]


def test_bad_setting_names_where_it_came_from(tmp_path):
    env = server_environment(data_dir=str(tmp_path / "data"), port="99999")
    assert "port (from SYNCSTORAGE_PORT)" in run_cli("serve", env=env).stderr
    env = server_environment(data_dir=str(tmp_path / "data"))
    assert "port (from --port)" in run_cli("serve", "--port", "99999", env=env).stderr


def test_flag_wins_over_environment(tmp_path):
    # The environment asks for a bad port; the flag's good port wins.
    port = free_port()
    server = start_server(
        tmp_path / "data", port=port, args=("--port", str(port)), extra_env={"SYNCSTORAGE_PORT": "99999"}
    )
    try:
        assert server.process.poll() is None
        assert f"127.0.0.1:{port}" in server.log()
    finally:
        server.stop()


def test_missing_secret_is_generated_private_and_kept(tmp_path):
    data_dir = tmp_path / "data"
    server = start_server(data_dir)  # no master secret, default SQLite file
    try:
        secret_file = data_dir / "master_secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        secret = secret_file.read_text().strip()
        assert len(secret) == 64 and int(secret, 16) >= 0
        log = server.log()
        assert str(secret_file) in log
        assert secret not in log
        assert f"identity.sync.tokenserver.uri = {server.base_url}/1.0/sync/1.5" in log
        assert (data_dir / "syncstorage.db").exists()

        # Tokens signed with the stored secret are accepted.
        token, key = mint_token(secret, 7, server.public_url)
        client = SyncClient(server.base_url, 7, token, key)
        assert client.get("info/collections").status_code == 200
        client.close()
    finally:
        server.stop()

    # A restart reuses the same secret instead of making a new one.
    again = start_server(data_dir)
    try:
        assert (data_dir / "master_secret").read_text().strip() == secret
        assert "using the master secret stored in" in again.log()
    finally:
        again.stop()
