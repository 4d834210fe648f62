"""Stripe webhook signatures: verify the raw bytes first, parse only what was verified.

``Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=...]`` — several
``v1`` entries appear while Stripe rolls a secret, and several secrets are accepted here so
the operator can roll theirs (``STRIPE_WEBHOOK_SECRET=whsec_new,whsec_old``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from ..errors import TiergateError

__all__ = ["InvalidSignature", "verify"]


class InvalidSignature(TiergateError):
    """The webhook is not provably from Stripe, or not now: one type for every reason."""


def verify(
    payload: bytes, header: str | None, secrets: Sequence[str], *, tolerance_s: int, now_s: int
) -> dict[str, Any]:
    """The event the payload carries, once its signature and timestamp check out."""
    if not header:
        raise InvalidSignature("no Stripe-Signature header")
    timestamp, signatures = _parse(header)
    if abs(now_s - timestamp) > tolerance_s:
        raise InvalidSignature(
            f"signature timestamp is {now_s - timestamp:+d} s from now;"
            f" at most {tolerance_s} s either way is accepted"
        )
    signed = str(timestamp).encode() + b"." + payload
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    # Compare every pair, so the time taken says nothing about which one came close.
    matched = False
    for signature in signatures:
        for candidate in expected:
            matched |= hmac.compare_digest(signature, candidate)
    if not matched:
        raise InvalidSignature("no signature matches a configured webhook secret")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("the signed body is not JSON") from None
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise InvalidSignature("the signed body is not a Stripe event")
    return event


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        # Headers arrive decoded as Latin-1: only ASCII is worth reading. (int() refuses
        # digits such as "²" that isdigit() accepts, and compare_digest refuses non-ASCII
        # text; either would otherwise escape as a 500 rather than this error's 400.)
        if not value.isascii():
            continue
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("Stripe-Signature needs t= and at least one v1= signature")
    return timestamp, signatures
