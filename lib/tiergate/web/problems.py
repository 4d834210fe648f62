"""application/problem+json responses (RFC 9457) and the gate's response headers."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..outcomes import PROBLEM_TYPE, Admitted, Denied
from ..ratelimit import ratelimit_headers

__all__ = [
    "PROBLEM_JSON",
    "admitted_headers",
    "denied_headers",
    "problem",
    "problem_body",
]

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


def problem(
    status: int, slug: str, title: str, detail: str, *, retry_after_s: int | None = None
) -> Response:
    """A problem+json response for what the gate does not decide (webhooks, billing)."""
    body = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail}
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return Response(problem_body(body), status, headers=headers, media_type=PROBLEM_JSON)
