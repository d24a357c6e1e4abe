"""Logging set-up: one line per record, as JSON (for collectors) or text (for people).

The standard library, not structlog: every module already logs through `logging` with
%-style messages, and all that JSON needs on top is a formatter and the correlation id from
a ContextVar; a second logging framework would add a dependency and a second configuration
for no new capability. Each record gets the correlation id of the work that wrote it
(`gateway.observability.correlation`), read when the record is made, in the writing task.

What goes into a line is only what the code put into the message: no request or message
bodies are ever attached, so recipient data (DESIGN.md) stays out of the logs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal, TextIO

from gateway.observability import correlation

LogFormat = Literal["auto", "json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(correlation)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "correlation_id", "correlation", "taskName"}
)
# Third-party chatter (the embedded broker logs every packet at INFO), shown only with -v.
NOISY = ("amqtt", "transitions", "aiohttp.access", "httpx")
_OURS = "_openlocker_handler"


class CorrelationFilter(logging.Filter):
    """Stamps each record with the current correlation id (in the task that logs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        cid = getattr(record, "correlation_id", None) or correlation.current()
        record.correlation_id = cid
        record.correlation = f" [{cid}]" if cid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, correlation_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None)
        if cid:
            line["correlation_id"] = cid
        for key in record.__dict__.keys() - _STANDARD:  # a set difference: no loop per field
            if not key.startswith("_"):
                value = record.__dict__[key]
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-01-01T12:00:00.123Z."""
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((created - seconds) * 1000):03d}Z"
    )


def resolve(fmt: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """`auto`: text on a terminal (a person reads it), JSON otherwise (a collector does)."""
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def handler_for(fmt: Literal["json", "text"], stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(
    *,
    fmt: LogFormat = "auto",
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    quiet_third_parties: bool = True,
) -> logging.Handler | None:
    """One root handler in `fmt` at `level`; returns it, or None when the embedding program
    (a test runner, say) set up logging itself: as `logging.basicConfig` does, its handlers
    and level are left alone. A handler this function installed is replaced (text until the
    settings are read, then the format they name)."""
    out = stream or sys.stderr
    root = logging.getLogger()
    if quiet_third_parties:
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if any(not getattr(h, _OURS, False) for h in root.handlers):
        return None
    handler = handler_for(resolve(fmt, out), out)
    setattr(handler, _OURS, True)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
