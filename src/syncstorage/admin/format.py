"""Numbers and times as the admin pages show them (already escaped: digits,
letters, spaces)."""

from __future__ import annotations

from syncstorage.timestamps import format_time

__all__ = ["format_bytes", "format_count", "format_time"]


def format_count(n: int) -> str:
    return f"{n:,}"


def format_bytes(n: int) -> str:
    """Bytes in binary units, one decimal: 1536 -> "1.5 KiB"."""
    if n < 1024:
        return f"{n:,} B"
    size = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
