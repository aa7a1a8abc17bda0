"""Checks of request fields: type, length, charset. A bad field is 400
errno 107 naming it (spec §1.3, §9); nothing here ever raises anything else."""

from __future__ import annotations

import re
from typing import Any

from syncstorage.accounts import errors

_HEX = re.compile(r"[0-9a-fA-F]*")
# No spaces or control characters, one @, something on both sides.
_EMAIL = re.compile(r"[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+")
MAX_EMAIL = 255


def hex_bytes(body: dict[str, Any], name: str, size: int = 32) -> bytes:
    value = body.get(name)
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise errors.invalid_parameter(name, f"{name} is not {size} bytes of hex")
    return bytes.fromhex(value)


def text(body: dict[str, Any], name: str, max_length: int, *, required: bool = True, default: str | None = None) -> Any:
    """A string of at most `max_length` characters without control characters."""
    value = body.get(name)
    if value is None and not required:
        return default
    if not isinstance(value, str) or len(value) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise errors.invalid_parameter(name)
    return value


def email(body: dict[str, Any], name: str = "email") -> str:
    value = text(body, name, MAX_EMAIL)
    if not _EMAIL.fullmatch(value):
        raise errors.invalid_parameter(name, "not an e-mail address")
    return value


def flag(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise errors.invalid_parameter(name)
    return value


def integer(value: Any, name: str, *, minimum: int = 0, maximum: int = 2**53) -> int:
    """An integer from JSON or a query string."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise errors.invalid_parameter(name)
    return value


def is_hex(value: str, length: int) -> bool:
    return len(value) == length and bool(_HEX.fullmatch(value))
