"""API keys sent in the query string: refused with a 401 that says where keys go.

A key in a URL is written into every access log, proxy log and browser history it passes
through, including API Gateway's own access log, which tiergate cannot scrub. Telling the
caller beats silently reading the key from there (or answering "missing key" while the key
sits in the URL).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ..telemetry import REASON_KEY_IN_QUERY
from .answers import ANSWERS, PROBLEM_TYPE

__all__ = ["key_in_query", "key_in_query_problem"]

# Parameter names that can only mean "the API key". Under the gated prefix, one of them with
# no X-API-Key header is a key sent the wrong way, whatever its value.
_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "x-api-key", "x_api_key", "key"})
# The recognisable start of every tiergate key, valid or not: a mistyped key is still a key.
_KEY_PREFIXES = ("tg_live_", "tg_test_")


def key_in_query(query_string: bytes, *, gated: bool, has_header: bool) -> bool:
    """Whether the query string carries an API key.

    Any parameter whose value looks like a tiergate key counts, on any route. A key-named
    parameter (``api_key``, ``key``, ...) counts only on a gated route sent without the
    X-API-Key header: with the header, ``?key=colour`` is the route's own parameter.
    """
    if not query_string:
        return False
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if value.startswith(_KEY_PREFIXES):
            return True
        if gated and not has_header and name.lower() in _KEY_NAMES:
            return True
    return False


def key_in_query_problem() -> dict[str, object]:
    answer = ANSWERS[REASON_KEY_IN_QUERY]
    return {
        "type": PROBLEM_TYPE + REASON_KEY_IN_QUERY,
        "title": answer.title,
        "status": answer.status,
        "detail": answer.detail,
    }
