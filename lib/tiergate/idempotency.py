"""`Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) with Stripe's semantics.

A key names one request of one account. The gate's script creates the key's record, in flight,
in the same call that charges the request; once the endpoint has answered, the response is
kept in it with a fingerprint of the request. A replay with the same fingerprint gets that
response again, uncharged, and the endpoint does not run; the same key on a different request
is a 422, and a replay while the first is still running a 409. A non-billable answer (5xx,
refunded) forgets the key, so the client's retry runs and is charged.

This module is plain data and hashing: the store keeps the records, the web layer reads the
body and copies the response.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "KEPT_HEADERS",
    "MAX_FINGERPRINTED_BODY",
    "MAX_KEPT_RESPONSE",
    "IdempotencyClaim",
    "ResponseCopy",
    "decode_response",
    "encode_response",
    "fingerprint",
    "kept_headers",
    "key_hash",
]

MAX_KEY_LENGTH = 255  # Stripe's bound, and what the old 400 promised
# A keyed request's body is read whole before the gate decides (the fingerprint needs it),
# so it is bounded; larger bodies with a key are refused with 413.
MAX_FINGERPRINTED_BODY = 1 << 20
# Responses whose body and kept headers are larger are not kept: the request is served and
# charged once, and its replays get a 422 that says so (never a fresh, uncharged run).
MAX_KEPT_RESPONSE = 64 << 10

# What a replay must repeat to mean the same thing; RateLimit fields, Retry-After, dates and
# lengths describe the moment of the answer and are made afresh.
KEPT_HEADERS = frozenset(
    {
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-location",
        "content-type",
        "etag",
        "expires",
        "last-modified",
        "link",
        "location",
        "vary",
    }
)


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """A request's `Idempotency-Key` as sent, with the fingerprint of the request it names."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class ResponseCopy:
    """An endpoint's answer as a replay sends it again."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def key_hash(value: str) -> str | None:
    """The fixed-length name the store keeps the key under; None for a value not allowed.

    The draft makes the field an sf-string (``"8e03978e-..."``); the bare token that Stripe's
    clients send is accepted too and names the same key. 1 to 255 printable ASCII characters.
    """
    text = _sf_string(value) if value.startswith('"') else value
    if text is None or not 1 <= len(text) <= MAX_KEY_LENGTH:
        return None
    if not (text.isascii() and text.isprintable()):
        return None
    # 128 bits: collisions within one account's keys are not a practical concern.
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def fingerprint(method: str, route: str, path: str, query: str, cost: int, body: bytes) -> str:
    """What makes two requests the same request: method, route template and the concrete path
    and query it matched, cost, and the body."""
    parts = [method, route, path, query, cost, hashlib.sha256(body).hexdigest()]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:32]


def kept_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    """The response headers a replay repeats, from ASGI's raw pairs."""
    pairs = ((name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw)
    return tuple((name, value) for name, value in pairs if name in KEPT_HEADERS)


def encode_response(copy: ResponseCopy) -> str | None:
    """The text the store keeps for `copy`, or None when it is larger than MAX_KEPT_RESPONSE.

    ``<status>\\n<headers as JSON>\\n<t|b><body>``: a UTF-8 body is kept as it is (most API
    answers are JSON), anything else in base64.
    """
    try:
        body, mark = copy.body.decode("utf-8"), "t"
    except UnicodeDecodeError:
        body, mark = base64.b64encode(copy.body).decode("ascii"), "b"
    headers = json.dumps([list(pair) for pair in copy.headers], separators=(",", ":"))
    text = f"{copy.status}\n{headers}\n{mark}{body}"
    return text if len(text.encode("utf-8")) <= MAX_KEPT_RESPONSE else None


def decode_response(text: str) -> ResponseCopy:
    """The inverse of encode_response; ValueError for text it did not write."""
    status, headers, rest = text.split("\n", 2)
    pairs = json.loads(headers)
    if not isinstance(pairs, list) or not rest or rest[0] not in "tb":
        raise ValueError("not a kept response")
    body = rest[1:].encode("utf-8") if rest[0] == "t" else base64.b64decode(rest[1:])
    return ResponseCopy(int(status), tuple((str(k), str(v)) for k, v in pairs), body)


def _sf_string(value: str) -> str | None:
    """RFC 8941 sf-string: DQUOTE *(unescaped / "\\" ( DQUOTE / "\\" )) DQUOTE."""
    if len(value) < 2 or not value.endswith('"'):
        return None
    out: list[str] = []
    chars = iter(value[1:-1])
    for char in chars:
        if char == '"':
            return None
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in ('"', "\\"):
                return None
            char = escaped
        out.append(char)
    return "".join(out)
