"""The landing page in a real Firefox (issue 16): its stylesheet and script
load under the page's Content-Security-Policy, it fits a desktop and a
phone screen, and the copy button works. Screenshots of both widths go to
the test's directory, and to $SYNCSTORAGE_TEST_SCREENSHOTS when set (how
docs/images/ were made)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from firefox.server_side import TOKEN_PATH

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


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

    for name, (width, height) in SIZES.items():
        # A window is at least 500 pixels wide: a phone's 390 CSS pixels are
        # a 500-pixel window zoomed to 500/390 (as a phone's pixel ratio does).
        window = max(width, 500)
        client.set_context(client.CONTEXT_CHROME)
        client.execute_script("gBrowser.selectedBrowser.browsingContext.fullZoom = arguments[0]", [window / width])
        client.set_context(client.CONTEXT_CONTENT)
        client.set_window_rect(width=window, height=height)
        inner = client.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert abs(inner[0] - width) <= 20, f"{name}: viewport {inner[0]} CSS pixels"
        assert inner[1] <= inner[0], f"{name}: content wider than the window: {inner}"
        shot = client.screenshot(format="binary", full=True)
        assert inner[0] - 20 <= _png_size(shot)[0] <= window  # the page, without the scrollbar
        path = tmp_path / f"landing-{name}.png"
        path.write_bytes(shot)
        if os.environ.get("SYNCSTORAGE_TEST_SCREENSHOTS"):
            shutil.copy(path, Path(os.environ["SYNCSTORAGE_TEST_SCREENSHOTS"]) / path.name)

    client.find_element("css selector", "button.copy").click()
    status = client.execute_script("return document.querySelector('.copied').textContent")
    assert status in ("Copied.", "Selected: press Ctrl+C (⌘C) to copy."), status
