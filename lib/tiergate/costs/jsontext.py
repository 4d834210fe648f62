"""Reading the JSON files `tiergate costs` is given (prices, measurements, the recording):
any damage, of the bytes or of the JSON, is one ConfigError naming the file, never a
traceback.

Beyond json's own errors: bytes that are not UTF-8 (UnicodeDecodeError), nesting deep
enough to exhaust the parser's recursion (`[[[[...`: RecursionError), and a number too
large for a float (`1e400` parses as inf, which then overflows where it is made an int):
refused here, since no figure tiergate reads is infinite.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["parse_json", "read_json_file"]


def read_json_file(path: Path | str, what: str) -> Any:
    """The JSON in `path`; `what` names it in the error ("prices file")."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); is it {what}?") from None
    return parse_json(text, str(path))


def parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ConfigError(f"{origin}: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and _finite's
        raise ConfigError(f"{origin}: not valid JSON: {exc}") from None


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number {literal[:20]!r} is out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")
