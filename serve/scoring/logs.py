"""Structured logging for scoring runs: one event per line, as text or JSON lines.

Events carry counts and timings only: never message text, subjects or addresses.
Library code logs through ``logging.getLogger("mailguard.score")``; the CLI decides
the format and where it goes.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER_NAME = "mailguard.score"
log = logging.getLogger(LOGGER_NAME)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log event ``name`` with its fields (counts, timings, paths, model version)."""
    log.log(level, name, extra={"fields": fields})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    value = getattr(record, "fields", {})
    return value if isinstance(value, dict) else {}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class JsonLinesFormatter(logging.Formatter):
    """Format a record as one JSON object: ts, level, event and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": _timestamp(record), "level": record.levelname.lower(), "event": record.getMessage()}
        payload.update(_fields(record))
        return json.dumps(payload, default=str, sort_keys=False)


class TextFormatter(logging.Formatter):
    """Format a record as ``ts LEVEL event key=value ...`` for people reading a terminal or journal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={_text(v)}" for k, v in _fields(record).items())
        return f"{_timestamp(record)} {record.levelname} {record.getMessage()} {pairs}".rstrip()


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def configure_logging(stream: TextIO, log_format: str = "text", quiet: bool = False) -> logging.Handler:
    """Send scoring events to ``stream`` in ``log_format``; ``quiet`` keeps only warnings and errors.

    Returns the handler so a caller (or a test) can remove it again.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter() if log_format == "json" else TextFormatter())
    for old in list(log.handlers):
        log.removeHandler(old)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False
    return handler
