"""Request logs of the real server: one structured line per request, the
precise reason on every 401, and never a payload, token or secret."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3

import httpx
import pytest

from support.client import SyncClient, encrypted_payload, mint_token
from support.server import start_server
from syncstorage.timestamps import now_ms

pytestmark = pytest.mark.e2e

UID = 987654


def request_lines(log: str) -> list[dict]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "syncstorage.request"]


def test_json_request_log(tmp_path):
    secret = secrets.token_hex(32)
    server = start_server(tmp_path / "data", master_secret=secret, log_format="json")
    token, key = mint_token(secret, UID, server.public_url)
    good = SyncClient(server.base_url, UID, token, key)
    wrong_key = SyncClient(server.base_url, UID, token, "A" * 43 + "=")
    expired = SyncClient(server.base_url, UID, *mint_token(secret, UID, server.public_url, lifetime=-10))
    other_node = SyncClient(server.base_url, UID, *mint_token(secret, UID, "https://elsewhere.example"))
    stranger = SyncClient(server.base_url, UID + 1, token, key)  # token of another uid
    marker = encrypted_payload("payload-must-not-be-logged")
    try:
        assert good.get("info/collections").status_code == 200
        assert good.post("storage/history", json=[{"id": "a", "payload": marker}]).status_code == 200
        assert wrong_key.get("info/collections").status_code == 401
        assert expired.get("storage/history").status_code == 401
        assert other_node.get("info/collections").status_code == 401
        assert stranger.get("info/collections").status_code == 401
    finally:
        for client in (good, wrong_key, expired, other_node, stranger):
            client.close()
        server.stop()
    log = server.log()
    lines = [line for line in request_lines(log) if line["route"] != "/__lbheartbeat__"]
    assert [(l["method"], l["route"], l["status"]) for l in lines] == [
        ("GET", "info/collections", 200),
        ("POST", "collection", 200),
        ("GET", "info/collections", 401),
        ("GET", "collection", 401),
        ("GET", "info/collections", 401),
        ("GET", "info/collections", 401),
    ]
    assert [l.get("reason") for l in lines] == [
        None, None, "invalid mac", "expired token", "token node does not match public_url", "uid mismatch",
    ]
    for line in lines:
        assert line["duration_ms"] >= 0
        assert len(line["uid_hash"]) == 16
    assert lines[0]["uid_hash"] == lines[1]["uid_hash"] != lines[5]["uid_hash"]
    # Every line of the server's output is JSON, and none holds a secret.
    assert all(line.startswith("{") for line in log.splitlines() if line.strip())
    for forbidden in (secret, token, key, "payload-must-not-be-logged", str(UID)):
        for line in request_lines(log):
            assert forbidden not in json.dumps(line)
        assert forbidden not in log


def test_human_request_log(tmp_path):
    secret = secrets.token_hex(32)
    server = start_server(tmp_path / "data", master_secret=secret, log_format="human")
    token, _ = mint_token(secret, UID, server.public_url)
    client = SyncClient(server.base_url, UID, token, "B" * 43 + "=")
    try:
        assert client.get("info/quota").status_code == 401
    finally:
        client.close()
        server.stop()
    lines = [line for line in server.log().splitlines() if "syncstorage.request" in line and "info/quota" in line]
    assert len(lines) == 1
    assert " GET info/quota 401 " in lines[0]
    assert 'reason="invalid mac"' in lines[0]


def test_tokenserver_refusals_are_explained(tmp_path, fxa):
    """Token requests that get the same answer (`error`/`Unauthorized`, or
    `invalid-credentials`) are told apart in the log, without the token."""
    server = start_server(
        tmp_path / "data", master_secret=secrets.token_hex(32), log_format="json",
        fxa_oauth_server_url=fxa.url,
    )
    expired = fxa.access_token("0123456789abcdef0123456789abcdef", expires_in=-120)
    sent = {
        None: "missing Authorization header",
        "Basic dXNlcjpwYXNz": "unsupported authorization scheme",
        f"Bearer {expired}": "invalid OAuth token: expired",
        "Bearer opaque-but-unknown": "invalid OAuth token: remote verify answered 400",
    }
    try:
        for authorization in sent:
            headers = {"X-KeyID": "1234-qqo"}
            if authorization:
                headers["Authorization"] = authorization
            response = httpx.get(server.public_url + "/1.0/sync/1.5", headers=headers, timeout=30)
            assert response.status_code == 401, response.text
    finally:
        server.stop()
    log = server.log()
    lines = [line for line in request_lines(log) if line["route"] == "tokenserver"]
    assert [(line["status"], line.get("reason")) for line in lines] == [(401, reason) for reason in sent.values()]
    for forbidden in (expired, "dXNlcjpwYXNz", "opaque-but-unknown"):
        assert forbidden not in log


def test_expected_refusals_log_one_line_without_traceback(tmp_path):
    """A database that cannot be opened, a write that keeps conflicting and
    an unreachable nonce store are refusals, not bugs (issue 10): each gives
    its request line with the reason and nothing else, and the server
    recovers without a restart."""
    secret = secrets.token_hex(32)
    server = start_server(
        tmp_path / "data", master_secret=secret, log_format="json", conflict_retry_seconds="0.3"
    )
    database = tmp_path / "data" / "syncstorage.db"
    client = SyncClient(server.base_url, UID, *mint_token(secret, UID, server.public_url))
    try:
        # no storage request has opened a connection yet: make the file unopenable
        os.rename(database, f"{database}.away")
        database.mkdir()
        unavailable = client.post("storage/history", json=[{"id": "a", "payload": "x"}])
        heartbeat = httpx.get(f"{server.base_url}/__heartbeat__", timeout=30)
        database.rmdir()
        os.rename(f"{database}.away", database)
        assert client.post("storage/history", json=[{"id": "a", "payload": "x"}]).status_code == 200
        with sqlite3.connect(database) as db:  # another writer's clock, an hour ahead
            db.execute("UPDATE user_collections SET last_modified = ?", (now_ms() + 3_600_000,))
        conflict = client.post("storage/history", json=[{"id": "b", "payload": "y"}])
    finally:
        client.close()
        server.stop()
    assert (unavailable.status_code, heartbeat.status_code, conflict.status_code) == (503, 503, 503)
    assert unavailable.headers["Retry-After"] and conflict.headers["Retry-After"] == "10"
    log = server.log()
    assert "Traceback" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert not [line for line in lines if line["level"] not in ("info", "debug")]
    refusals = [line for line in request_lines(log) if line["status"] == 503]
    assert [line["route"] for line in refusals] == ["collection", "/__heartbeat__", "collection"]
    assert refusals[0]["reason"] == "database unavailable: unable to open database file"
    assert refusals[1]["reason"] == "database unavailable: unable to open database file"
    assert refusals[2]["reason"] == (
        "conflict (retried for 0.3 s): collection was modified at or after this request's timestamp"
    )
    assert str(UID) not in log


def test_unreachable_nonce_store_logs_one_line(tmp_path):
    secret = secrets.token_hex(32)
    server = start_server(
        tmp_path / "data", master_secret=secret, log_format="json",
        nonce_store_url="redis://127.0.0.1:1/0",
    )
    try:
        with SyncClient(server.base_url, UID, *mint_token(secret, UID, server.public_url)) as client:
            assert client.get("info/collections").status_code == 503
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log
    [line] = [line for line in request_lines(log) if line["status"] == 503]
    assert line["reason"].startswith("nonce store unavailable: ")
    assert str(UID) not in log
