"""Screenshots of the page Firefox shows, at a desktop and a phone width
(the landing page's and the admin page's tests): each checked to fit its
width, kept in the test's directory and, when $SYNCSTORAGE_TEST_SCREENSHOTS
is set, copied there (how docs/images/ were made)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def take_screenshots(client, directory: Path, name: str) -> None:
    """<name>-desktop.png and <name>-phone.png of the current page."""
    for size, (width, height) in SIZES.items():
        # A window is at least 500 pixels wide: a phone's 390 CSS pixels are
        # a 500-pixel window zoomed to 500/390 (as a phone's pixel ratio does).
        window = max(width, 500)
        client.set_context(client.CONTEXT_CHROME)
        client.execute_script("gBrowser.selectedBrowser.browsingContext.fullZoom = arguments[0]", [window / width])
        client.set_context(client.CONTEXT_CONTENT)
        client.set_window_rect(width=window, height=height)
        inner = client.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert abs(inner[0] - width) <= 20, f"{name} {size}: viewport {inner[0]} CSS pixels"
        assert inner[1] <= inner[0], f"{name} {size}: content wider than the window: {inner}"
        shot = client.screenshot(format="binary", full=True)
        assert inner[0] - 20 <= _png_size(shot)[0] <= window  # the page, without the scrollbar
        path = directory / f"{name}-{size}.png"
        path.write_bytes(shot)
        if os.environ.get("SYNCSTORAGE_TEST_SCREENSHOTS"):
            shutil.copy(path, Path(os.environ["SYNCSTORAGE_TEST_SCREENSHOTS"]) / path.name)
