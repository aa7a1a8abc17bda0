"""The landing page in a real Firefox (issue 16): its stylesheet and script
load under the page's Content-Security-Policy, it fits a desktop and a
phone screen, and the copy button works. Screenshots of both widths:
firefox/screens.py."""

from __future__ import annotations

import pytest

from firefox.screens import take_screenshots
from firefox.server_side import TOKEN_PATH


@pytest.mark.parametrize("database_url", [None])  # SQLite: the page is about the HTTP side
def test_landing_page_in_firefox(start_sync_server, make_firefox, tmp_path, database_url):
    server = start_sync_server(database_url)
    firefox = make_firefox("landing", server)
    client = firefox.client
    client.set_context(client.CONTEXT_CONTENT)
    client.navigate(server.public_url + "/")

    uri = client.execute_script("return document.getElementById('tokenserver-uri').textContent")
    assert uri == server.public_url + TOKEN_PATH
    # the stylesheet applied and the script ran: the CSP let both in
    assert client.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth") == "672px"
    assert client.execute_script("return document.querySelector('button.copy').hidden") is False

    take_screenshots(client, tmp_path, "landing")

    client.find_element("css selector", "button.copy").click()
    status = client.execute_script("return document.querySelector('.copied').textContent")
    assert status in ("Copied.", "Selected: press Ctrl+C (⌘C) to copy."), status
