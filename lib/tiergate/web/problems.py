"""application/problem+json responses (RFC 9457) and the gate's response headers."""

from __future__ import annotations

import json
from typing import Any

from ..outcomes import Admitted, Denied
from ..ratelimit import ratelimit_headers

__all__ = ["PROBLEM_JSON", "admitted_headers", "denied_headers", "problem_body"]

PROBLEM_JSON = "application/problem+json"


def problem_body(problem: dict[str, Any]) -> bytes:
    return json.dumps(problem, ensure_ascii=False).encode("utf-8")


def admitted_headers(admitted: Admitted) -> list[tuple[str, str]]:
    if admitted.degraded:
        return []
    return ratelimit_headers(admitted.verdict, admitted.now_ms)


def denied_headers(denied: Denied) -> list[tuple[str, str]]:
    headers = [("Content-Type", PROBLEM_JSON)]
    if denied.verdict is not None and denied.verdict.burst:
        headers += ratelimit_headers(denied.verdict, denied.now_ms)
    if denied.retry_after_s is not None:
        headers.append(("Retry-After", str(denied.retry_after_s)))
    return headers
