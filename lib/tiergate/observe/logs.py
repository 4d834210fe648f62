"""JSON log lines for the ``tiergate`` logger, one object a line on stdout, each stamped with
the request it belongs to; and a last guard that no API key is ever written out.

The logger gets its own handler and level (and stops propagating) because the hosts it runs
on decide nothing in its favour: Lambda's Python runtime leaves the root logger at WARNING,
so INFO lines sent up to it are dropped, and a root handler would print them a second time,
in another format. CloudWatch Logs Insights and Vercel's log search read the JSON as fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from ..keys import key_digest
from .context import current

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "scrub_keys"]

LOGGER = "tiergate"

# Anything shaped like one of our keys, valid or not (a mistyped key is still a leaked key).
# The replacement names the key by its key_id, the way every other line does.
_KEY = re.compile(r"tg_(?:live|test)_[0-9A-Za-z]{16,}")
# Lambda filters JSON lines by their "level" (advanced logging controls) in its own words:
# TRACE DEBUG INFO WARN ERROR FATAL. Another word counts as INFO, so a WARNING line would be
# dropped by a function set to WARN.
_LAMBDA_LEVEL = {"WARNING": "WARN", "CRITICAL": "FATAL"}
# A LogRecord's own attributes; anything else on a record came from `extra=` and is a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def scrub_keys(text: str) -> str:
    """`text` with every API key replaced by ``[key <key_id>]``."""
    if "tg_" not in text:  # the common case costs one substring search
        return text
    return _KEY.sub(lambda m: f"[key {key_digest(m.group())[:12]}]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, service, logger, request_id, message,
    then the record's `extra=` fields, then the exception, if any."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service  # for lines logged outside a request (start-up)

    def format(self, record: logging.LogRecord) -> str:
        observation = current()
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": _LAMBDA_LEVEL.get(record.levelname, record.levelname),
            "service": observation.service if observation else self.service,
            "logger": record.name,
            "request_id": observation.request_id if observation else None,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return scrub_keys(json.dumps(line, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """One short line per record for a person at a terminal (`tiergate serve`): the time, the
    level when it is not INFO, the message, then the fields that say what happened. An access
    line reads ``12:04:31.207  GET /v1/hello 200  4.6 ms  key 24aed480be2d  admitted``."""

    # The access line's fields worth a person's attention, in this order (the JSON line has
    # them all); the method, path and status are its message already.
    _ACCESS = ("duration_ms", "key_id", "account", "outcome")

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        level = "" if record.levelno == logging.INFO else f"{record.levelname}  "
        parts = [f"{when}  {level}{record.getMessage()}"]
        fields = record.__dict__
        if record.name.endswith(".access"):
            for name in self._ACCESS:
                value = fields.get(name)
                if value is None:
                    continue
                if name == "duration_ms":
                    parts.append(f"{value:.1f} ms")
                elif name == "outcome":
                    parts.append(str(value))
                else:
                    parts.append(f"{name.removesuffix('_id')} {value}")
        else:
            extra = [f"{k}={v}" for k, v in fields.items() if k not in _STANDARD]
            if extra:
                parts.append(" ".join(extra))
        text = _printable("  ".join(parts))
        if record.exc_info:  # a traceback's lines stay lines; what is in them, escaped
            trace = self.formatException(record.exc_info).split("\n")
            text += "\n" + "\n".join(_printable(line) for line in trace)
        return scrub_keys(text)


# Control characters a caller can put in a line (a path is percent-decoded: %0A, %1B):
# written to a terminal as they are, a newline would forge a line of its own and an escape
# sequence would drive the terminal. A JSON line escapes them already.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout is at the time (a test's capture, Lambda's pipe)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(service: str, level: str = "INFO", *, text: bool = False) -> logging.Logger:
    """Give the ``tiergate`` logger one handler on stdout, JSON lines (or, with `text`, lines
    for a person: TextFormatter), and `level`. Idempotent: calling it again (a second app in
    the process) replaces the handler, never adds one."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _StdoutHandler):
            logger.removeHandler(handler)
    handler = _StdoutHandler()
    handler.setFormatter(TextFormatter() if text else JsonFormatter(service))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger
