"""Timestamps as exact integer ms (storage-api §4.1, §4.2)."""

from __future__ import annotations

import time

import pytest

from syncstorage.timestamps import format_ms, now_ms, parse_ms


@pytest.mark.parametrize(
    "ns,expected_ms",
    [
        (1_700_000_000_000_000_000, 1_700_000_000_000),  # on a 10-ms boundary: itself
        (1_700_000_000_000_000_001, 1_700_000_000_010),  # 1 ns past: the next one
        (1_700_000_000_009_999_999, 1_700_000_000_010),
        (1_700_000_000_010_000_001, 1_700_000_000_020),
    ],
)
def test_now_is_rounded_up_to_10_ms(monkeypatch, ns, expected_ms):
    # the Python server's rule (§4.1, §16); production truncates
    monkeypatch.setattr(time, "time_ns", lambda: ns)
    assert now_ms() == expected_ms


@pytest.mark.parametrize(
    "text,ms",
    [
        ("0", 0),
        ("0.00", 0),
        ("1700000000.12", 1_700_000_000_120),
        ("1700000000.1", 1_700_000_000_100),
        ("1700000000.", 1_700_000_000_000),
        (".5", 500),
        ("1700000000.121", 1_700_000_000_130),  # rounded up, not to nearest
        ("1700000000.129999", 1_700_000_000_130),
        ("1700000000.12000000", 1_700_000_000_120),
        ("1700000000." + "0" * 40 + "1", 1_700_000_000_010),  # beyond 28 digits
        (" 12.34 ", 12_340),
        ("0001", 1000),
    ],
)
def test_parse_is_decimal_and_rounds_up(text, ms):
    assert parse_ms(text) == ms


@pytest.mark.parametrize("text", ["", " ", "-1", "-0.01", "+1", "1e9", "1E3", "nan", "NaN", "inf", "0x10", "1,5", "1.2.3", ".", "abc"])
def test_parse_refuses_what_is_not_a_plain_decimal(text):
    with pytest.raises(ValueError):
        parse_ms(text)


def test_parse_refuses_more_than_64_characters_before_parsing():
    # issue 10: Decimal arithmetic on 900,000 digits took 32 s
    assert parse_ms("1700000000.12".ljust(64, "0")) == 1_700_000_000_120
    for text in ("1700000000.12".ljust(65, "0"), "9" * 1_000_000):
        with pytest.raises(ValueError):
            parse_ms(text)


@pytest.mark.parametrize(
    "ms,text",
    [(0, "0.00"), (10, "0.01"), (1_700_000_000_100, "1700000000.10"), (1_700_000_000_120, "1700000000.12")],
)
def test_format_has_exactly_two_decimals(ms, text):
    assert format_ms(ms) == text
    assert parse_ms(text) == ms
