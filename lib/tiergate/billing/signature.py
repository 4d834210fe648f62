"""Stripe webhook signatures: verify the raw bytes first, parse only what was verified.

``Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=...]`` — several
``v1`` entries appear while Stripe rolls a secret, and several secrets are accepted here so
the operator can roll theirs (``STRIPE_WEBHOOK_SECRET=whsec_new,whsec_old``).

Everything about the header is bounded before it is used (its length, the timestamp's digits,
the number and shape of signatures), and no error repeats what was sent: the header is
attacker-controlled until the HMAC matches. The signed body is then read by the one strict
JSON reader (jsontext.py: duplicate names, depth, numbers, all in linear time).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidJSON, InvalidSignature
from ..jsontext import parse_json

__all__ = ["MAX_HEADER", "InvalidSignature", "check_header", "verify"]

# Stripe's header is about 90 characters a signature (t=, v1=, sometimes v0=); 4 KiB holds
# dozens, far more than a secret being rolled ever needs.
MAX_HEADER = 4096
_MAX_SIGNATURES = 16
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds: 10 digits until the year 2286
_SIGNATURE = re.compile(r"[0-9a-f]{64}")  # hex SHA-256, as Stripe writes it


def check_header(header: str | None) -> tuple[int, list[str]]:
    """The header's timestamp and v1 signatures, or InvalidSignature; cheap, reads no body."""
    if not header:
        raise InvalidSignature("no Stripe-Signature header")
    if len(header) > MAX_HEADER:
        raise InvalidSignature(f"Stripe-Signature is longer than {MAX_HEADER} characters")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        # fullmatch on ASCII classes: "²" and other Unicode digits, or 5,000 digits (past
        # int()'s limit), are not a timestamp here; non-hex text is not a signature.
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1" and _SIGNATURE.fullmatch(value):
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("Stripe-Signature needs t= and at least one v1= signature")
    if len(signatures) > _MAX_SIGNATURES:
        raise InvalidSignature(f"Stripe-Signature has more than {_MAX_SIGNATURES} signatures")
    return timestamp, signatures


def verify(
    payload: bytes, header: str | None, secrets: Sequence[str], *, tolerance_s: int, now_s: int
) -> dict[str, Any]:
    """The event the payload carries, once its signature and timestamp check out."""
    timestamp, signatures = check_header(header)
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
        event = parse_json(payload)
    except InvalidJSON as exc:
        raise InvalidSignature(f"the signed body is refused: {exc}") from None
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
