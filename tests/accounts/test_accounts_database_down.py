"""A database that is down or frozen: the accounts API answers 503 errno 201
with Retry-After, never 401 errno 110 (which makes Firefox drop its
credentials, spec §6.3) and never 500; it recovers when the database does."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import make_url

from accounts.conftest import new_email, start_accounts_server
from support.databases import fresh_database_url
from support.db_proxy import DatabaseProxy
from support.onepw import Credentials, OnepwClient

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
@pytest.mark.parametrize("failure", ["refuse", "freeze"])
def test_a_database_away_is_503_not_a_sign_out(backend, failure, tmp_path):
    url = make_url(fresh_database_url(backend, tmp_path))
    proxy = DatabaseProxy(url.host or "127.0.0.1", url.port)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    server = start_accounts_server(tmp_path, proxied, database_timeout="2")
    try:
        with OnepwClient(server.base_url) as client:
            email = new_email()
            signed_in = client.create(email, "a password")
            getattr(proxy, failure)()
            answers = [
                client.raw("GET", "/v1/session/status", token=signed_in.session_token),
                client.raw("GET", "/v1/account/devices", token=signed_in.session_token),
                client.raw("POST", "/v1/account/login",
                           {"email": email, "authPW": Credentials.v1(email, "a password").auth_pw.hex()}),
                client.raw("POST", "/v1/oauth/token", {"grant_type": "fxa-credentials",
                           "client_id": "5882386c6d801776", "scope": "profile"}, token=signed_in.session_token),
            ]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.json()["errno"] == 201 and answer.headers["Retry-After"]
            proxy.resume()
            assert client.request("GET", "/v1/session/status", token=signed_in.session_token)["uid"] == signed_in.uid
            assert httpx.get(server.base_url + "/__lbheartbeat__").status_code == 200
    finally:
        server.stop()
        proxy.close()
