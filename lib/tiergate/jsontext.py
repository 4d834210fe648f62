"""The one strict JSON reader: every JSON document tiergate is given goes through it (signed
Stripe webhook bodies, tiers and prices from a file or TIERGATE_TIERS / TIERGATE_PRICES,
measurement files, vercel.json, the JSON bodies of bounded routes such as checkout). Our own
Redis records, read on the hot path, do not.

`json.loads` alone accepts documents no sender of these means, and lets some cost too much:

- a name twice in one object (``{"tier": "free", "tier": "pro"}``): json keeps the last,
  another reader the first, so what one checked is not what the other applies. Refused.
- nesting: json recurses once a level, and ``[[[[...`` 100,000 deep is a RecursionError.
  The depth is counted before parsing, in one pass that skips strings; MAX_DEPTH levels at
  most (Stripe's events nest about ten: event, data, object, items, data, price, ...).
- ``NaN``, ``Infinity`` (not JSON, RFC 8259 section 6, but json reads them) and ``1e400``
  (read as inf): no figure tiergate reads is infinite. Refused.
- a number literal of thousands of digits: int() of one is quadratic, and past 4,300 digits
  Python refuses it anyway. At most MAX_NUMBER_CHARS characters (a 64-bit integer has 20,
  a float's shortest repr 24); the range each figure may take is its field's to check.
- bytes that are not UTF-8, and documents over `max_size` bytes.

Every step is linear in the document's size; InvalidJSON (a ValueError) says which bound
was crossed, and the caller puts it in its own words (a ConfigError line naming the file, a
400 for a webhook).
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidJSON

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "MAX_SIZE",
    "InvalidJSON",
    "nesting_depth",
    "parse_json",
    "read_json",
    "read_json_file",
]

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40
# The largest document tiergate reads is the recorded measurements file: about 7 MiB after
# its 35 days of hours for 30 route and tier pairs. A webhook body is bounded far lower, as
# it arrives (web/webhooks.py).
MAX_SIZE = 64 * 2**20

# A string as json reads it: a quote, then anything up to the next quote not escaped. The
# loop is possessive (it never gives back what it took) and a string left open (or ending
# in a lone backslash) runs to the end of the document, so from every quote the match
# succeeds on its first try and the scan is one pass. A pattern that can fail there is
# retried from each later quote: 60,000 escaped quotes took 45 s that way.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
# What is left once strings are gone, as steps of depth: +1 an opening bracket, -1 (0xff as
# a signed byte) a closing one, every other byte dropped.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def parse_json(data: str | bytes, *, max_size: int = MAX_SIZE) -> Any:
    """The value `data` holds, or InvalidJSON; bytes must be UTF-8."""
    if len(data) > max_size:
        raise InvalidJSON(f"larger than {max_size:,} bytes")
    if isinstance(data, bytes):
        raw = data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJSON(f"not UTF-8 text (byte {exc.start})") from None
    else:
        # A str from the environment may carry lone surrogates (os.environ's escape for
        # bytes it cannot decode): json decides about them, the depth count only needs bytes.
        text, raw = data, data.encode("utf-8", "surrogatepass")
        if len(raw) > max_size:
            raise InvalidJSON(f"larger than {max_size:,} bytes")
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise InvalidJSON(f"nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except InvalidJSON:
        raise
    except ValueError as exc:  # JSONDecodeError
        raise InvalidJSON(f"not valid JSON: {exc}") from None


def read_json(data: str | bytes, origin: str, *, error: type[ConfigError] = ConfigError) -> Any:
    """parse_json for configuration: what is wrong is one `error` line naming `origin`."""
    try:
        return parse_json(data)
    except InvalidJSON as exc:
        raise error(f"{origin}: {exc}") from None


def read_json_file(path: Path | str, what: str) -> Any:
    """The JSON in `path`, or one ConfigError naming it; `what` says what it is ("prices file")."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    return read_json(data, str(path))


def nesting_depth(raw: bytes) -> int:
    """How deep the brackets of `raw` nest, brackets inside strings not counted.

    At least as deep as json.loads would recurse on it: json reads strings as _STRING does,
    up to the first byte it refuses, and counts no bracket past it. Two passes in C over the
    document, and one over its brackets.
    """
    steps = _STRING.sub(b"", raw).translate(_STEPS, _NOT_BRACKET)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise InvalidJSON(f"the name {name[:40]!r} appears twice in one object")
            seen.add(name)
    return found


def _int(literal: str) -> int:
    _short(literal)
    return int(literal)


def _float(literal: str) -> float:
    _short(literal)
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidJSON(f"the number {literal!r} is out of range")
    return value


def _short(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InvalidJSON(
            f"a number of {len(literal):,} characters; at most {MAX_NUMBER_CHARS} are read"
        )


def _constant(name: str) -> float:
    raise InvalidJSON(f"{name} is not a number JSON allows")
