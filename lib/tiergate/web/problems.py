"""application/problem+json (RFC 9457): the table's answers rendered, and the gate's headers.

A tiergate problem's ``type`` is ``urn:tiergate:problem:<slug>``; what the framework answers
(404, 405, a body that does not validate, a crash) is ``about:blank`` with the status phrase
as its title (RFC 9457 §4.2.1) and the particulars in ``detail``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import Send

from ..decision import Code, Verdict
from ..outcomes import Admitted, Denied
from .answers import ANSWERS, PROBLEM_TYPE, Answer
from .ratelimit import ratelimit_headers, retry_after_s

__all__ = [
    "PROBLEM_JSON",
    "admitted_headers",
    "blank_problem",
    "problem",
    "problem_body",
    "render",
    "send_denial",
    "status_phrase",
]

log = logging.getLogger("tiergate")

PROBLEM_JSON = "application/problem+json"
_NO_VERDICT = Verdict(Code.UNKNOWN_KEY)
_UNLISTED = Answer(500, "Internal Server Error", "The server could not answer.", "")

Rendered = tuple[int, list[tuple[str, str]], bytes]


def problem_body(problem: Mapping[str, Any]) -> bytes:
    return json.dumps(problem, ensure_ascii=False).encode("utf-8")


def admitted_headers(admitted: Admitted) -> list[tuple[str, str]]:
    if admitted.degraded:
        return []
    return ratelimit_headers(admitted.verdict, admitted.now_ms)


def render(denied: Denied) -> Rendered:
    """Status, headers and body for a reason and its facts, as the table spells them."""
    answer = ANSWERS.get(denied.slug)
    if answer is None:  # a slug added without its row: a bug, but never a traceback
        log.error("no answer for problem %r; add it to web/answers.py", denied.slug)
        answer = _UNLISTED
    verdict = denied.verdict or _NO_VERDICT
    facts = _facts(verdict, denied.context)
    body = {
        "type": PROBLEM_TYPE + denied.slug,
        "title": answer.title,
        "status": answer.status,
        "detail": answer.render_detail(facts),
        **{name: facts[name] for name in answer.extensions},
    }
    if answer.policies:
        body["violated-policies"] = _violated(answer.policies, verdict)
    headers = [("Content-Type", PROBLEM_JSON)]
    if denied.verdict is not None and denied.verdict.burst:
        headers += ratelimit_headers(denied.verdict, denied.now_ms)
    if answer.retry_after == "wait":
        headers.append(("Retry-After", str(retry_after_s(verdict.retry_after_ms))))
    elif answer.retry_after is not None:
        headers.append(("Retry-After", str(answer.retry_after)))
    return answer.status, headers, problem_body(body)


def _violated(policies: tuple[str, ...], verdict: Verdict) -> list[str]:
    """The policies a denial ran out of, by the names the RateLimit fields give them."""
    if "quota" in policies and verdict.overage_cap > 0:
        return [*policies, "overage"]
    return list(policies)


def _quota_used_up(verdict: Verdict) -> str:
    if verdict.overage_cap > 0:
        return (
            f"The quota of {verdict.limit} and the overage cap of {verdict.overage_cap} units"
            " are used up"
        )
    return f"The quota of {verdict.limit} is used up"


def _facts(verdict: Verdict, context: Mapping[str, Any]) -> dict[str, Any]:
    """What a detail template may say: the limiter's answer, then the caller's context."""
    return {
        "tier": verdict.tier,
        "burst": verdict.burst,
        "limit": verdict.limit,
        "used": verdict.used,
        "subscription_status": verdict.status,
        "status_words": verdict.status.replace("_", " "),
        "resets_at": datetime.fromtimestamp(verdict.period_end_ms / 1000, tz=UTC).isoformat(),
        "retry_after": retry_after_s(verdict.retry_after_ms),
        "quota_used_up": _quota_used_up(verdict),
        "required_tier": "",
        "required_feature": "",
        **context,
    }


async def send_denial(send: Send, denied: Denied) -> None:
    """The denial as raw ASGI messages (the gate middleware answers before any routing)."""
    status, headers, body = render(denied)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def problem(slug: str, /, **context: Any) -> Response:
    """A route's own problem (billing, webhooks) with the facts its detail names."""
    status, headers, body = render(Denied(slug, context=context))
    extra = {name: value for name, value in headers if name != "Content-Type"}
    return Response(body, status, headers=extra, media_type=PROBLEM_JSON)


def blank_problem(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An ``about:blank`` problem: the status phrase as title, the particulars as detail."""
    body = {
        "type": "about:blank",
        "title": status_phrase(status),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(problem_body(body), status, headers=headers, media_type=PROBLEM_JSON)


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status with no registered phrase
        return f"HTTP {status}"
