"""What the gate answers: admitted, or denied for a reason (a slug) with the facts behind it.

How a denial reads over HTTP (status, title, wording, Retry-After) is the web layer's one
table, ``web/answers.py``; the core says only what happened and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .decision import Code, Verdict
from .idempotency import ResponseCopy

__all__ = ["Admitted", "Denied", "denial"]


@dataclass(slots=True)  # one per request: not frozen, whose __init__ costs twice as much
class Admitted:
    verdict: Verdict
    cost: int
    idempotency_key: str = ""  # its hash, when the request held one
    now_ms: int = 0
    # Why it was let in without a limiter answer ("fail-open": the store was unavailable and
    # the tier's on_error allows); "" for a decided admission.
    degraded: str = ""
    request_id: str = ""  # the gate's id for this request; it owns the key's record
    replay: ResponseCopy | None = None  # REPLAY: the key's first response, to send again
    route: str = ""  # the route template its units were counted under

    @property
    def charged(self) -> bool:
        return not self.degraded and self.verdict.code == Code.ADMIT and self.cost > 0

    @property
    def replayed(self) -> bool:
        return self.verdict.code == Code.REPLAY


@dataclass(frozen=True, slots=True)
class Denied:
    """A refusal: its reason and the facts a caller needs to act on it."""

    slug: str  # the reason, e.g. "quota-exhausted"; web/answers.py has a row for each
    verdict: Verdict | None = None  # the limiter's answer, when it gave one
    now_ms: int = 0
    context: Mapping[str, object] = field(default_factory=dict)  # e.g. required_tier="pro"


class _Need(Protocol):
    """What a route asks for (gate.Requirement), as far as a denial reports it."""

    @property
    def tier(self) -> str | None: ...

    @property
    def feature(self) -> str | None: ...


def denial(
    slug: str,
    *,
    verdict: Verdict | None = None,
    need: _Need | None = None,
    now_ms: int = 0,
    **context: str,
) -> Denied:
    """A denial for `slug`; `need` adds what the route required (required_tier, ...)."""
    facts = dict(context)
    if need is not None and need.tier:
        facts.setdefault("required_tier", need.tier)
    if need is not None and need.feature:
        facts.setdefault("required_feature", need.feature)
    return Denied(slug, verdict, now_ms, facts)
