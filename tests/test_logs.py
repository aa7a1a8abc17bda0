"""Log line formats (syncstorage.logs): exact times, JSON fields."""

from __future__ import annotations

import calendar
import json
import logging
import time

from syncstorage.logs import HumanFormatter, JSONFormatter


def _record(created: float, ms: int = 0, **fields) -> logging.LogRecord:
    record = logging.LogRecord("syncstorage.request", logging.INFO, __file__, 1, "GET %s", ("x",), None)
    record.created, record.msecs = created + ms / 1000, ms
    record.fields = fields
    return record


def test_each_line_carries_its_own_second_and_milliseconds():
    base = calendar.timegm((2026, 11, 27, 12, 0, 59, 0, 0, 0))
    formatter = JSONFormatter()
    times = [json.loads(formatter.format(_record(base + seconds, ms)))["time"]
             for seconds, ms in ((0, 123), (0, 999), (1, 0), (1, 500), (0, 250), (3601, 7))]  # fmt: skip
    assert times == [
        "2026-11-27T12:00:59.123Z",
        "2026-11-27T12:00:59.999Z",
        "2026-11-27T12:01:00.000Z",
        "2026-11-27T12:01:00.500Z",
        "2026-11-27T12:00:59.250Z",  # back to an earlier second: not the cached one
        "2026-11-27T13:01:00.007Z",
    ]
    human = HumanFormatter().format(_record(base + 1, 500, route="info/collections"))
    assert human.startswith("2026-11-27T12:01:00.500Z INFO    syncstorage.request: GET x route=info/collections")


def test_json_lines_keep_fields_and_stringify_the_unknown():
    line = json.loads(JSONFormatter().format(_record(time.time(), status=304, where=ValueError("v"))))
    assert line["status"] == 304 and line["message"] == "GET x" and line["where"] == "v"
    assert line["level"] == "info" and line["logger"] == "syncstorage.request"
