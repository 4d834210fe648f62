"""Request ids: the one a caller or API Gateway sent, when it is safe to echo, else a new one.

An incoming id ends up in a response header and in every log line of the request, so it is
accepted only when short and made of characters that cannot break either (no spaces, quotes,
control characters or CR/LF). API Gateway's ids (base64-ish, e.g. ``JKJaXmPLvHcESHA=``) and
UUIDs pass.
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_REQUEST_ID", "accept_request_id", "new_request_id"]

MAX_REQUEST_ID = 128
_SAFE = re.compile(rf"[A-Za-z0-9._:=+/-]{{1,{MAX_REQUEST_ID}}}")


def accept_request_id(candidate: object) -> str | None:
    """`candidate` when it is a well-formed request id, else None."""
    if isinstance(candidate, bytes):
        candidate = candidate.decode("latin-1")
    if isinstance(candidate, str) and _SAFE.fullmatch(candidate):
        return candidate
    return None


def new_request_id() -> str:
    """128 random bits as 32 hex characters (what a UUID carries, without importing uuid)."""
    return os.urandom(16).hex()
