"""After `syncstorage import-syncserver`, the tokenserver gives a Firefox of
the old server its old uid on this server's node (issue 5 item 7)."""

from __future__ import annotations

import base64

from support.databases import fresh_database_url
from support.old_syncserver import T0, build_old_database
from support.cli import invoke
from support.tokenserver import FXA_UID, make_settings


def key_id(keys_changed_at: int, client_state: str) -> str:
    """X-KeyID as Firefox sends it (auth-and-tokens §6.2)."""
    state = base64.urlsafe_b64encode(bytes.fromhex(client_state)).rstrip(b"=").decode()
    return f"{keys_changed_at}-{state}"


def test_imported_user_gets_their_old_uid_and_this_node(database_url, tmp_path, fxa, make_tokenserver):
    source = fresh_database_url("sqlite", tmp_path, "_old")
    build_old_database(source)  # uid 5: the current record of FXA_UID
    public_url = make_settings(database_url, fxa.url).effective_public_url
    imported = invoke(database_url, "import-syncserver", source, public_url=public_url, log_format="json")
    assert imported.exit_code == 0, imported.output

    ts = make_tokenserver(node_capacities={})  # only the node the import registered
    response = ts.get(fxa.access_token(FXA_UID, generation=T0), key_id=key_id(T0, "bbbb"))
    assert response.status_code == 200, response.text
    assert response.json()["uid"] == 5
    assert response.json()["api_endpoint"] == f"{public_url}/1.5/5"
    assert [row.uid for row in ts.users()] == [3, 5, 6]  # no new record
