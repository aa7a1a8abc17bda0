"""Confirmation by a mailed code (docs/accounts.md "Confirming by e-mail"):
a real SMTP server in the test process receives the mails. End to end
through a real server process: sign-up, the mail, the code, then keys and
OAuth; SMTP down or hanging. In process with a clock the test moves: wrong,
expired and too many codes, the resend limits. Each on every backend."""

from __future__ import annotations

import re
import secrets

import pytest
from starlette.testclient import TestClient

from accounts.conftest import new_email, start_accounts_server
from support.clock import AdvancingClock
from support.onepw import FIREFOX_CLIENT_ID, SYNC_SCOPE, ApiError, Credentials, FirefoxFlow, OnepwClient
from support.server import free_port
from support.smtp import MailCatcher, SilentServer, make_certificate
from syncstorage.accounts import confirm, store
from syncstorage.accounts.context import PURGE_EVERY_SECONDS
from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql import migrate

PASSWORD = "a password ✓"
PUBLIC_URL = "http://testserver"


def errno_of(call) -> tuple[int, int]:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.status, refused.value.errno


def verify(client: OnepwClient, session_token: str, code: str) -> None:
    client.request("POST", "/v1/session/verify_code", {"code": code}, token=session_token)


def mentions(log: str, code: str) -> bool:
    return re.search(rf"(?<![0-9]){code}(?![0-9])", log) is not None


def email_status(client: OnepwClient, session_token: str) -> dict:
    return client.request("GET", "/v1/recovery_email/status", token=session_token)


# --- end to end, a real server process ---


def test_sign_up_mails_a_code_and_only_the_code_unlocks_keys_and_oauth(database_url, tmp_path, mail):
    server = start_accounts_server(tmp_path, database_url, **mail.smtp_settings)
    try:
        with OnepwClient(server.base_url) as client:
            email = new_email()
            signed_in = client.create(email, PASSWORD, verified=False)
            code = mail.wait_code(email)
            assert len(code) == confirm.CODE_DIGITS
            _rcpt, message = mail.mails[0]
            assert message["From"] == "sync@example.org" and message["To"] == email

            # unconfirmed: keys 104, scoped keys and OAuth 138; the session says so
            assert errno_of(lambda: client.kb(signed_in)) == (400, 104)
            assert errno_of(lambda: client.request(
                "POST", "/v1/account/scoped-key-data", {"client_id": FIREFOX_CLIENT_ID, "scope": SYNC_SCOPE},
                token=signed_in.session_token)) == (400, 138)
            assert errno_of(lambda: client.access_token(signed_in.session_token)) == (400, 138)
            # nor anything else but its status, sign-out and the code
            assert errno_of(lambda: client.access_token(signed_in.session_token, scope="profile")) == (400, 138)
            assert errno_of(lambda: client.request("GET", "/v1/account/devices", token=signed_in.session_token)) \
                == (400, 138)
            assert client.request("GET", "/v1/session/status", token=signed_in.session_token)["state"] == "unverified"
            assert email_status(client, signed_in.session_token) == {
                "email": email, "verified": False, "sessionVerified": False, "emailVerified": False}

            verify(client, signed_in.session_token, code)
            assert email_status(client, signed_in.session_token)["verified"] is True
            kb = client.kb(signed_in)  # the key-fetch token of the sign-up, kept until now
            flow = FirefoxFlow()
            tokens = client.exchange(signed_in, flow, client.authorize(signed_in, kb, flow))
            assert SYNC_SCOPE in flow.decrypt(tokens["keys_jwe"])

            # a new sign-in on the confirmed account confirms by a code too
            again = client.login(email, PASSWORD, verified=False)
            second_code = mail.wait_code(email, after=1)
            assert errno_of(lambda: client.kb(again)) == (400, 104)
            wrong = str((int(second_code) + 1) % 10**confirm.CODE_DIGITS).zfill(confirm.CODE_DIGITS)
            assert errno_of(lambda: verify(client, again.session_token, wrong)) == (400, 105)
            assert errno_of(lambda: verify(client, again.session_token, code)) == (400, 105)  # the first session's
            verify(client, again.session_token, second_code)
            assert client.kb(again) == kb

            # the password alone does not get the keys through a password change either
            start = {"email": email, "oldAuthPW": Credentials.v1(email, PASSWORD).auth_pw.hex()}
            assert errno_of(lambda: client.request("POST", "/v1/password/change/start", start)) == (400, 138)
            unconfirmed = client.login(email, PASSWORD, verified=False)
            assert errno_of(lambda: client.request(
                "POST", "/v1/password/change/start", start, token=unconfirmed.session_token)) == (400, 138)
            changed = client.change_password(again, "a new password")  # signed by a confirmed session
            assert client.kb(changed) == kb
    finally:
        server.stop()
    log = server.log()
    print(log)
    assert PASSWORD not in log and not mentions(log, code) and not mentions(log, second_code)
    assert "Traceback" not in log
    assert "POST /v1/session/verify_code 400" in log and "wrong code" in log  # the one line of a refusal


def test_smtp_down_answers_151_and_the_account_is_kept_for_a_later_sign_in(database_url, tmp_path, mail):
    email = new_email()
    down = start_accounts_server(tmp_path, database_url, **{**mail.smtp_settings, "smtp_port": str(free_port())})
    try:
        with OnepwClient(down.base_url) as client:
            assert errno_of(lambda: client.create(email, PASSWORD, verified=False)) == (422, 151)
            assert client.request("POST", "/v1/account/status", {"email": email}) == {"exists": True}
            assert errno_of(lambda: client.create(email, PASSWORD, verified=False)) == (400, 101)
    finally:
        down.stop()
    log = down.log()
    assert "confirmation mail not sent: 127.0.0.1" in log and "Traceback" not in log and PASSWORD not in log

    up = start_accounts_server(tmp_path, database_url, **mail.smtp_settings)
    try:
        with OnepwClient(up.base_url) as client:
            signed_in = client.login(email, PASSWORD, verified=False)
            verify(client, signed_in.session_token, mail.wait_code(email))
            client.kb(signed_in)
    finally:
        up.stop()


def test_an_smtp_server_that_hangs_costs_a_bounded_wait_and_answers_151(sqlite_url, tmp_path):
    with SilentServer() as silent:
        server = start_accounts_server(
            tmp_path, sqlite_url, smtp_host="127.0.0.1", smtp_port=str(silent.port), smtp_tls="none",
            smtp_from="sync@example.org", smtp_timeout="1",
        )
        try:
            with OnepwClient(server.base_url) as client:
                email = new_email()
                assert errno_of(lambda: client.create(email, PASSWORD, verified=False)) == (422, 151)
                assert errno_of(lambda: client.login(email, PASSWORD, verified=False)) == (422, 151)
        finally:
            server.stop()
    log = server.log()
    assert "did not answer within 1 s" in log and "Traceback" not in log


@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd, see support/smtp.py
def test_mail_over_tls_with_auth_and_a_checked_certificate(sqlite_url, tmp_path, tls):
    certificate = make_certificate(tmp_path / "smtp.pem")
    with MailCatcher(tls, certificate, login=("sync", "mail password")) as mail:
        untrusted = start_accounts_server(tmp_path / "untrusted", sqlite_url, **mail.smtp_settings)
        try:
            with OnepwClient(untrusted.base_url) as client:
                assert errno_of(lambda: client.create(new_email(), PASSWORD, verified=False)) == (422, 151)
        finally:
            untrusted.stop()
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.log()

        trusting = start_accounts_server(tmp_path / "trusting", sqlite_url, **mail.smtp_settings,
                                         extra_env={"SSL_CERT_FILE": str(certificate)})
        try:
            with OnepwClient(trusting.base_url) as client:
                email = new_email()
                signed_in = client.create(email, PASSWORD, verified=False)
                verify(client, signed_in.session_token, mail.wait_code(email))
                client.kb(signed_in)
        finally:
            trusting.stop()
        assert "mail password" not in trusting.log()


# --- in process, with a clock the test moves ---


@pytest.fixture
def app_client(database_url, tmp_path, mail):
    migrate.upgrade(database_url)
    clock = AdvancingClock()
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, public_url=PUBLIC_URL, master_secret=[secrets.token_hex(16)],
        accounts_enabled=True, accounts_signup="open", fxa_oauth_server_url="http://127.0.0.1:9",
        **mail.smtp_settings,
    )
    with TestClient(create_app(settings, clock=clock), base_url=PUBLIC_URL) as http:
        yield OnepwClient(PUBLIC_URL, http=http, now=clock.time), clock


def test_an_expired_code_is_refused_and_a_new_one_works(app_client, mail):
    client, clock = app_client
    email = new_email()
    signed_in = client.create(email, PASSWORD, verified=False)
    code = mail.wait_code(email)
    clock.advance(confirm.CODE_TTL_SECONDS + 1)
    assert errno_of(lambda: verify(client, signed_in.session_token, code)) == (400, 105)
    client.request("POST", "/v1/session/resend_code", {}, token=signed_in.session_token)
    verify(client, signed_in.session_token, mail.wait_code(email, after=1))


def test_wrong_codes_are_limited_per_code(app_client, mail, caplog):
    client, _clock = app_client
    email = new_email()
    signed_in = client.create(email, PASSWORD, verified=False)
    code = mail.wait_code(email)
    wrong = "0" * confirm.CODE_DIGITS if code != "0" * confirm.CODE_DIGITS else "1" * confirm.CODE_DIGITS
    for _ in range(confirm.MAX_ATTEMPTS):
        assert errno_of(lambda: verify(client, signed_in.session_token, wrong)) == (400, 105)
    # the right one, too late: this code is spent
    assert errno_of(lambda: verify(client, signed_in.session_token, code)) == (400, 105)
    assert errno_of(lambda: client.kb(signed_in)) == (400, 104)
    assert not mentions(caplog.text, code) and PASSWORD not in caplog.text


def test_resend_is_limited_in_rate_and_count_and_replaces_the_code(app_client, mail):
    client, clock = app_client
    email = new_email()
    signed_in = client.create(email, PASSWORD, verified=False)
    resend = lambda: client.request("POST", "/v1/session/resend_code", {}, token=signed_in.session_token)  # noqa: E731
    first = mail.wait_code(email)
    assert errno_of(resend) == (429, 114)  # just sent
    codes = [first]
    for sent in range(1, confirm.MAX_SENDS):
        clock.advance(confirm.RESEND_EVERY_SECONDS)
        resend()
        codes.append(mail.wait_code(email, after=sent))
    clock.advance(confirm.RESEND_EVERY_SECONDS)
    assert errno_of(resend) == (429, 114)  # MAX_SENDS mails for this session
    assert mail.count(email) == confirm.MAX_SENDS
    assert errno_of(lambda: verify(client, signed_in.session_token, first)) == (400, 105)  # replaced
    verify(client, signed_in.session_token, codes[-1])
    client.kb(signed_in)


def test_hostile_codes_are_refused_with_4xx_and_the_right_one_still_works(app_client, mail):
    client, _clock = app_client
    email = new_email()
    signed_in = client.create(email, PASSWORD, verified=False)
    code = mail.wait_code(email)
    for bad in (None, 7, [], {}, "", "x" * 33, "\u0000\n", code + "0"):
        response = client.raw("POST", "/v1/session/verify_code", {"code": bad}, token=signed_in.session_token)
        assert response.status_code == 400 and response.json()["errno"] in (105, 107), (bad, response.text)
    verify(client, signed_in.session_token, code)  # fewer than MAX_ATTEMPTS were codes at all
    client.kb(signed_in)


def test_an_unconfirmed_session_is_purged_a_day_on_and_a_confirmed_one_stays(app_client, mail):
    client, clock = app_client
    email = new_email()
    confirmed = client.create(email, PASSWORD, verified=False)
    verify(client, confirmed.session_token, mail.wait_code(email))
    abandoned = client.login(email, PASSWORD, verified=False)
    clock.advance(store.UNCONFIRMED_KEPT_MS / 1000 + PURGE_EVERY_SECONDS)
    client.request("GET", "/v1/session/status", token=confirmed.session_token)  # runs the purge, and stays
    assert errno_of(lambda: client.request("GET", "/v1/session/status", token=abandoned.session_token)) == (401, 110)
