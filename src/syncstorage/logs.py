"""Log output: one JSON object per line, or human-readable lines.

Issue 5 item 6: JSON by default in production (a service's stderr is not a
terminal), human on a terminal, or as the `log_format` setting says. Every
logger, uvicorn's included, goes through the root handler set up here, so
each line has the same shape. Fields given as `extra={"fields": {...}}` are
added to the JSON object, or appended as key=value in human lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time

import orjson

# The server writes one line per request, so a log line's cost is paid on
# every request: it was 45-55 µs of CPU of a ~300 µs request in process
# (docs/performance.md). Hence orjson, the formatted second reused, and no
# caller lookup (setup_logging).
_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    global _second
    whole = int(record.created)
    if _second[0] != whole:  # a race only formats the same second twice
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int(record.msecs):03d}Z"


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", {})
        if fields:
            text += " " + " ".join(f"{k}={json.dumps(v) if isinstance(v, str) and ' ' in v else v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def one_line(reason: str, exc: BaseException) -> str:
    """`reason: <first line of exc>`, the reason an expected refusal gives
    the request log (one line, no traceback: a traceback means a bug). The
    errors passed here are the database's, the nonce store's or our own
    short ones, whose first line never holds request data (the second of
    a PostgreSQL error may: DETAIL)."""
    detail = first_line(exc)
    return f"{reason}: {detail}" if detail else reason


def first_line(exc: BaseException) -> str:
    """The first line of an error's text, at most 200 characters."""
    return str(exc).strip().split("\n", 1)[0][:200]


def driver_error(exc: BaseException) -> str:
    """What a database driver said was wrong: the first line of the error
    SQLAlchemy wraps (the rest of its text is SQL, parameters and a link),
    for messages shown to an operator."""
    return first_line(getattr(exc, "orig", None) or exc)


def setup_logging(log_format: str = "auto", level: int = logging.INFO) -> None:
    """Send every log record to stderr in `log_format` ("json", "human", or
    "auto": human on a terminal, JSON otherwise)."""
    if log_format == "auto":
        log_format = "human" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Neither format shows the calling file/line: skip finding the caller
    # for every record (the logging HOWTO's "Optimization" section)
    logging._srcfile = None
    # nor the thread, process or multiprocessing names (same section)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are for developers
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []  # propagate to the root handler
