"""Firefox signs up on our page with confirmation by mail on (issue 15): a
fresh profile, the sign-up form, then the code form; the test reads the
code from the SMTP server in the test process and types it (a wrong one
first), and Firefox connects and syncs. Firefox never sees an unconfirmed
session: the page hands it over only once the code is accepted."""

from __future__ import annotations

import re
import secrets

import pytest

from firefox import actions, pages
from support.server import start_server

pytestmark = pytest.mark.e2e  # real server, SMTP and browser processes

EMAIL = "Grace.Hopper@example.org"
PASSWORD = "a password to confirm ✓"


@pytest.fixture
def confirming_server(tmp_path, sqlite_url, mail):
    server = start_server(tmp_path / "accounts-server", database_url=sqlite_url, master_secret=secrets.token_hex(32),
                          accounts_enabled="true", accounts_signup="open", **mail.smtp_settings)
    yield server
    server.stop()
    print(server.log()[-20000:])  # shown by pytest when the test failed


def test_sign_up_confirmed_by_the_mailed_code_then_firefox_syncs(confirming_server, make_accounts_firefox, mail):
    server = confirming_server
    firefox = make_accounts_firefox("confirmed", server)
    pages.open_sign_in_page(firefox, server.public_url)
    pages.submit_account_form(firefox, EMAIL, PASSWORD, mode="/signup")
    code = mail.wait_code(EMAIL, timeout=pages.CONNECT_TIMEOUT)

    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
    pages.confirm_with_code(firefox, wrong)
    assert "Wrong or expired code" in pages.code_error_text(firefox)
    assert actions.account_state(firefox) != "signed_in"  # nothing handed to Firefox yet

    pages.confirm_with_code(firefox, code)
    pages.wait_connected(firefox)
    pages.wait_first_sync(firefox)
    assert actions.account_state(firefox) == "signed_in"
    actions.sync_ok(firefox)

    log = server.log()
    assert "POST /v1/session/verify_code 400" in log and "POST /v1/session/verify_code 200" in log
    assert PASSWORD not in log and not re.search(rf"(?<![0-9]){code}(?![0-9])", log)
