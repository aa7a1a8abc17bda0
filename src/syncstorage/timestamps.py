"""Sync timestamps: seconds with exactly two decimals, held as integer ms.

The protocol speaks in seconds with two decimals ("1700000000.12"); the
database stores integer milliseconds that are always a multiple of 10.
No binary float is ever involved between the clock, the column and the JSON
text, so a value read back is exactly the value written (storage-api §4).
"""

from __future__ import annotations

import re
import time
from decimal import ROUND_CEILING, Context, Decimal, InvalidOperation

# A client-supplied timestamp: plain decimal text, no sign, no exponent.
# Anything else (negative, NaN, "1e9", "abc") is a 400 for the caller.
_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$")
# Longer text is refused before it is parsed: Decimal arithmetic on a
# 900,000-digit value held the whole server for 32 s (issue 10). A real
# timestamp has 13 characters ("1700000000.12"); 64 leave room for any
# client that writes more decimals.
MAX_TIMESTAMP_CHARS = 64


def now_ms() -> int:
    """The server's "now", rounded *up* to the next 10 ms (Python server rule)."""
    ns = time.time_ns()
    # ceil(ns / 10ms) * 10 in integer arithmetic
    return -(-ns // 10_000_000) * 10


class Clock:
    """The time storage, the authenticator and the SQLite writers read,
    injected so that tests advance it instead of sleeping through TTLs,
    batch lifetimes and timestamp windows. This one is the wall clock: its
    methods are the module's own functions, so reading it costs one
    attribute lookup more than calling them directly."""

    now_ms = staticmethod(now_ms)
    time = staticmethod(time.time)  # seconds, as a float


WALL_CLOCK = Clock()


def parse_ms(text: str) -> int:
    """Parse a client timestamp ("1700000000.123") into integer ms.

    Rounds up to two decimals, as the spec requires. Raises ValueError on
    anything that is not a non-negative decimal number of at most
    MAX_TIMESTAMP_CHARS characters.
    """
    if len(text) > MAX_TIMESTAMP_CHARS:
        raise ValueError(f"timestamp longer than {MAX_TIMESTAMP_CHARS} characters")
    text = text.strip()
    if not _DECIMAL_RE.match(text):
        raise ValueError(f"invalid timestamp {text!r}")
    try:
        value = Decimal(text)  # exact, whatever the number of digits
    except InvalidOperation as exc:  # pragma: no cover - the regex prevents it
        raise ValueError(f"invalid timestamp {text!r}") from exc
    # Enough precision to keep every digit: the default 28 would round
    # "1700000000.0000000000000000000001" to .00 before the ceiling applies.
    exact = Context(prec=len(text) + 2)
    centis = int(value.scaleb(2, exact).to_integral_value(rounding=ROUND_CEILING))
    return centis * 10


def format_ms(ms: int) -> str:
    """Render integer ms as seconds with exactly two decimals: 1700000000120 -> "1700000000.12"."""
    centis = ms // 10
    return f"{centis // 100}.{centis % 100:02d}"


def format_time(ms: int | None) -> str:
    """Integer ms since the epoch as UTC wall-clock time; "-" for none
    (the commands' tables and the admin page)."""
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))
