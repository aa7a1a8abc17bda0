"""The tokenserver endpoint: request parsing, every §12 rejection, and the
§11 response, on every database (auth-and-tokens §6, §11, §12)."""

from __future__ import annotations

import logging
import time

import pytest
import tokenlib

from support.tokenserver import FXA_UID, NODE, SECRET, TokenserverUnderTest, make_settings
from support.server import free_port


def error(status: str, description: str, location: str = "body", name: str = "") -> dict:
    return {"status": status, "errors": [{"location": location, "name": name, "description": description}]}


UNAUTHORIZED = error("error", "Unauthorized")
INVALID_CREDENTIALS = error("invalid-credentials", "Unauthorized")


def assert_error(response, http_status: int, body: dict) -> None:
    assert response.status_code == http_status, response.text
    assert response.json() == body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert abs(int(response.headers["x-timestamp"]) - time.time()) < 5
    if http_status == 503:  # auth-and-tokens §11.2
        assert response.headers["retry-after"] == "10"


def test_success_response(ts, fxa):
    response = ts.get(fxa.access_token(FXA_UID, generation=1234), key_id="1234-qqo")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert abs(int(response.headers["x-timestamp"]) - time.time()) < 5
    body = response.json()
    (user,) = ts.users()
    assert set(body) == {"id", "key", "uid", "api_endpoint", "duration", "hashed_fxa_uid", "hashalg", "node_type"}
    assert body["uid"] == user.uid
    assert body["api_endpoint"] == f"{NODE}/1.5/{user.uid}"
    assert body["duration"] == 3600
    assert body["hashalg"] == "sha256"
    scheme = ts.settings.effective_database_url.split(":")[0].split("+")[0]  # no driver
    assert body["node_type"] == scheme.replace("postgresql", "postgres")
    # The token is tokenlib's, signed with the master secret, and carries §2.3 fields.
    payload = tokenlib.parse_token(body["id"], secret=SECRET)
    assert body["key"] == tokenlib.get_derived_secret(body["id"], secret=SECRET)
    assert payload["uid"] == user.uid
    assert payload["node"] == NODE
    assert payload["fxa_uid"] == FXA_UID
    assert payload["fxa_kid"] == "0000000001234-qqo"
    assert payload["hashed_fxa_uid"] == body["hashed_fxa_uid"]
    assert isinstance(payload["expires"], int)
    assert abs(payload["expires"] - (time.time() + 3600)) < 5
    assert len(payload["salt"]) == 6 and int(payload["salt"], 16) >= 0
    assert user.email == f"{FXA_UID}@api.accounts.firefox.com"


def test_metrics_hashes_use_the_newest_master_secret(make_tokenserver, fxa):
    ts = make_tokenserver(master_secret=["old secret", "secret"])
    body = ts.get(fxa.access_token(FXA_UID)).json()
    assert body["hashed_fxa_uid"] == "4048002ec5ff2ec0ea0d5a8cc577d554"
    payload = tokenlib.parse_token(body["id"], secret="secret")  # minted with the newest
    assert payload["hashed_device_id"] == "4686278ac62706a391cfe460945f7e48"


def test_configured_metrics_secret_node_type_and_email_domain(make_tokenserver, fxa):
    ts = make_tokenserver(fxa_metrics_hash_secret="secret", node_type="spanner", fxa_email_domain="example.net")
    body = ts.get(fxa.access_token(FXA_UID)).json()
    assert body["hashed_fxa_uid"] == "4048002ec5ff2ec0ea0d5a8cc577d554"
    assert body["node_type"] == "spanner"
    assert ts.users()[0].email == f"{FXA_UID}@example.net"


@pytest.mark.parametrize(
    ("query", "duration"),
    [("?duration=60", 60), ("?duration=3600", 3600), ("?duration=3601", 3600), ("?duration=0", 3600),
     ("?duration=-5", 3600), ("?duration=abc", 3600), ("?duration=1.5", 3600), ("?duration=", 3600)],
)
def test_duration_query(ts, fxa, query, duration):
    body = ts.get(fxa.access_token(FXA_UID), path="/1.0/sync/1.5" + query).json()
    assert body["duration"] == duration
    assert abs(tokenlib.parse_token(body["id"], secret=SECRET)["expires"] - (time.time() + duration)) < 5


def test_configured_token_duration(make_tokenserver, fxa):
    ts = make_tokenserver(token_duration=300)
    assert ts.get(fxa.access_token(FXA_UID)).json()["duration"] == 300
    assert ts.get(fxa.access_token(FXA_UID), path="/1.0/sync/1.5?duration=600").json()["duration"] == 300


def test_token_alias_and_prefix(make_tokenserver, fxa):
    ts = make_tokenserver(public_url="https://example.org/sync")
    token = fxa.access_token(FXA_UID)
    for path in ["/1.0/sync/1.5", "/token/1.0/sync/1.5", "/sync/1.0/sync/1.5", "/sync/token/1.0/sync/1.5"]:
        assert ts.get(token, path=path).status_code == 200, path


def test_opaque_bearer_value_passed_byte_for_byte(ts, fxa):
    bearer = fxa.opaque_token(FXA_UID, generation=7)
    response = ts.get(bearer, key_id="7-qqo")
    assert response.status_code == 200, response.text
    assert tokenlib.parse_token(response.json()["id"], secret=SECRET)["fxa_uid"] == FXA_UID
    assert fxa.verify_requests[-1]["body"] == b'{"token": ' + __import__("json").dumps(bearer).encode() + b"}"


def test_unknown_application(ts, fxa, logged_reason):
    assert_error(ts.get(fxa.access_token(FXA_UID), path="/1.0/storage/1.5"), 404,
                 error("error", "Unsupported application", "url", "application"))
    assert logged_reason() == "unsupported application"


def test_unknown_version(ts, fxa, logged_reason):
    assert_error(ts.get(fxa.access_token(FXA_UID), path="/1.0/sync/1.2"), 404,
                 error("error", "Unsupported application version", "url", "1.2"))
    assert logged_reason() == "unsupported application version"


def test_application_checked_before_everything(ts):
    assert_error(ts.get(None, key_id=None, path="/1.0/nope/1.5", **{"X-Client-State": "!"}), 404,
                 error("error", "Unsupported application", "url", "application"))


@pytest.mark.parametrize("value", ["not hex!", "a" * 33, "", "ab cd"])
def test_bad_client_state_header_checked_before_auth(ts, value, logged_reason):
    assert_error(ts.get(None, **{"X-Client-State": value}), 400,
                 error("error", "Invalid client state value", "header", "X-Client-State"))
    assert logged_reason() == "malformed X-Client-State header"


def test_missing_authorization(ts, logged_reason):
    assert_error(ts.get(None), 401, UNAUTHORIZED)
    assert logged_reason() == "missing Authorization header"


def test_authorization_without_space(ts, logged_reason):
    assert_error(ts.get(None, Authorization="Bearer"), 401, UNAUTHORIZED)
    assert logged_reason() == "Authorization header without a space after the scheme"


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Hawk id=x", "BearerX token", "secret-token-0123 x"])
def test_non_bearer_scheme(ts, value, logged_reason, caplog):
    assert_error(ts.get(None, Authorization=value), 401, error("error", "Unsupported"))
    assert logged_reason() == "unsupported authorization scheme"
    # A client that forgot "Bearer " sends its token where the scheme goes.
    assert value.split(" ")[0] not in caplog.text


def test_bearer_scheme_is_case_insensitive(ts, fxa):
    response = ts.get(None, Authorization="bEaReR " + fxa.access_token(FXA_UID), **{"X-KeyID": "1234-qqo"})
    assert response.status_code == 200


@pytest.mark.parametrize(("kind", "reason"), [
    ("expired", "expired"),
    ("wrong scope", "sync scope missing"),
    ("wrong typ", "not an RS256 at+jwt token"),
    ("forged", "no key verifies the signature"),
    ("unknown opaque", "remote verify answered 400"),
    ("empty", "empty bearer value"),
])
def test_oauth_token_rejected(ts, fxa, kind, reason, logged_reason, caplog):
    from support.mock_fxa import _rsa_key

    bearer = {
        "expired": lambda: fxa.access_token(FXA_UID, expires_in=-120),
        "wrong scope": lambda: fxa.access_token(FXA_UID, scope="profile"),
        "wrong typ": lambda: fxa.access_token(FXA_UID, typ="JWT"),
        "forged": lambda: fxa.access_token(FXA_UID, signing_key=_rsa_key(9)),
        "unknown opaque": lambda: "some opaque. token",
        "empty": lambda: "",
    }[kind]()
    assert_error(ts.get(bearer), 401, INVALID_CREDENTIALS)
    assert ts.users() == []
    assert logged_reason() == f"invalid OAuth token: {reason}"
    assert not bearer or bearer not in caplog.text


def test_accounts_server_unreachable(make_tokenserver, logged_reason):
    ts = make_tokenserver(fxa_oauth_server_url=f"http://127.0.0.1:{free_port()}")
    assert_error(ts.get("opaque token"), 503, error("error", "Resource is not available"))
    assert logged_reason().startswith("accounts server unreachable: ")


def test_accounts_server_timeout(make_tokenserver, fxa, logged_reason):
    ts = make_tokenserver(fxa_oauth_request_timeout=0.3)
    fxa.delay = 1
    assert_error(ts.get("opaque token"), 503, error("error", "Resource is not available"))
    assert logged_reason() == "accounts server unreachable: timed out"


def test_missing_key_id(ts, fxa, logged_reason):
    assert_error(ts.get(fxa.access_token(FXA_UID), key_id=None), 401,
                 error("invalid-key-id", "Missing X-KeyID header", "header"))
    assert logged_reason() == "missing X-KeyID header"


@pytest.mark.parametrize(("key_id", "reason"), [
    ("1234", "malformed X-KeyID header"),
    ("abc-qqo", "malformed X-KeyID header"),
    ("1234-state!", "malformed X-KeyID header"),
    ("-qqo", "malformed X-KeyID header"),
    ("12x4-qqo", "malformed X-KeyID header"),
    ("1234-a", "X-KeyID client state is not base64url"),
    ("1234-qqo=", "malformed X-KeyID header"),
])
def test_malformed_key_id(ts, fxa, key_id, reason, logged_reason):
    assert_error(ts.get(fxa.access_token(FXA_UID), key_id=key_id), 401, INVALID_CREDENTIALS)
    assert logged_reason() == reason


def test_key_id_client_state_may_contain_dash(ts, fxa):
    # b"\xfb\xef\xbe" is "----" in URL-safe base64; the split is at the first "-".
    response = ts.get(fxa.access_token(FXA_UID), key_id="1234-----")
    assert response.status_code == 200, response.text
    assert ts.users()[0].client_state == "fbefbe"


def test_empty_client_state_allowed(ts, fxa):
    assert ts.get(fxa.access_token(FXA_UID), key_id="1234-").status_code == 200
    assert ts.users()[0].client_state == ""


def test_client_state_longer_than_16_bytes(ts, fxa, logged_reason):
    key_id = "1234-" + "q" * 24  # 18 bytes
    assert_error(ts.get(fxa.access_token(FXA_UID), key_id=key_id), 400,
                 error("error", "Invalid client state value", "header", "X-Client-State"))
    assert logged_reason() == "X-KeyID client state longer than 16 bytes"


def test_client_state_header_must_match_key_id(ts, fxa, logged_reason):
    token = fxa.access_token(FXA_UID)
    assert_error(ts.get(token, key_id="1234-qqo", **{"X-Client-State": "bbbb"}), 401,
                 error("invalid-client-state", "Unauthorized"))
    assert logged_reason() == "X-Client-State header does not match X-KeyID"
    assert ts.get(token, key_id="1234-qqo", **{"X-Client-State": "aaaa"}).status_code == 200
    assert ts.get(token, key_id="1234-qqo", **{"X-Client-State": "AAAA"}).status_code == 200


def test_new_users_disabled(make_tokenserver, fxa, logged_reason):
    ts = make_tokenserver(allow_new_users=False)
    assert_error(ts.get(fxa.access_token(FXA_UID)), 403, error("new-users-disabled", "New users are not allowed"))
    assert logged_reason() == "new users are not allowed (allow_new_users is off)"
    assert ts.users() == []


def test_existing_users_still_served_when_new_users_disabled(make_tokenserver, fxa):
    open_ts = make_tokenserver()
    assert open_ts.get(fxa.access_token(FXA_UID)).status_code == 200
    closed_ts = make_tokenserver(allow_new_users=False, node_capacities={})
    assert closed_ts.get(fxa.access_token(FXA_UID)).status_code == 200
    assert closed_ts.get(fxa.access_token("someone-else")).status_code == 403


def test_allow_list(make_tokenserver, fxa, logged_reason):
    ts = make_tokenserver(allowed_users=[FXA_UID.upper(), "friend@api.accounts.firefox.com"])
    assert ts.get(fxa.access_token(FXA_UID)).status_code == 200
    assert ts.get(fxa.access_token("friend")).status_code == 200
    assert_error(ts.get(fxa.access_token("stranger")), 403,
                 error("user-not-allowed", "This account is not allowed on this server"))
    assert logged_reason() == "account not on allowed_users"
    assert {u.email.split("@")[0] for u in ts.users()} == {FXA_UID, "friend"}


def test_allow_list_refuses_real_email_addresses(database_url, fxa):
    from pydantic import ValidationError

    from support.tokenserver import make_settings

    with pytest.raises(ValidationError, match="FxA uid"):
        make_settings(database_url, fxa.url, allowed_users=["me@gmail.com"])


def test_no_node_available(make_tokenserver, fxa, logged_reason):
    ts = make_tokenserver(node_capacities={})
    assert_error(ts.get(fxa.access_token(FXA_UID)), 503, error("internal-error", "Server error", "internal"))
    assert logged_reason() == "no storage node can take a new user"


def test_a_locked_database_is_503_in_one_log_line(sqlite_url, fxa, caplog):
    """A database held by another writer past the lock timeout is an
    expected refusal (issue 10): the reason in the request line, no
    traceback."""
    import sqlite3

    caplog.set_level(logging.INFO, logger="syncstorage")
    ts = TokenserverUnderTest(make_settings(sqlite_url, fxa.url, conflict_retry_seconds=0.2), {NODE: 100})
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, kept
        response = ts.get(fxa.access_token(FXA_UID))
        holder.execute("ROLLBACK")
        assert ts.get(fxa.access_token(FXA_UID)).status_code == 200  # and back without a restart
    finally:
        holder.close()
        ts.close()
    assert_error(response, 503, error("internal-error", "Server error", "internal"))
    assert not [r for r in caplog.records if r.exc_info]
    reasons = [r.fields.get("reason") for r in caplog.records if r.name == "syncstorage.request"]
    assert reasons[0] == "tokenserver database unavailable: database is locked"


def test_database_failure_is_503_without_details(make_tokenserver, fxa, logged_reason):
    ts = make_tokenserver()
    with ts.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE users")
    response = ts.get(fxa.access_token(FXA_UID))
    assert_error(response, 503, error("internal-error", "Server error", "internal"))
    assert logged_reason() == "tokenserver database unavailable"
