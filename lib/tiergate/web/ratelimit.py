"""RateLimit-Policy and RateLimit header fields (IETF draft-ietf-httpapi-ratelimit-headers,
structured-field syntax).

Two policies, and a third for a tier with overage: "burst" (requests per second), "quota"
(billable units per billing period) and "overage" (units admitted past the quota, up to the
cap, in the same period). The draft keeps each policy's remaining units apart, so a caller
whose quota says `r=0` while requests still succeed reads how far into overage it is from
the overage policy: `q` minus `r` units of it used.
"""

from __future__ import annotations

from ..decision import Verdict

__all__ = ["overage_used", "ratelimit_fields", "ratelimit_headers", "retry_after_s"]

_POLICY = b"RateLimit-Policy"  # spelt as ratelimit_headers spells them
_RATELIMIT = b"RateLimit"
# RateLimit-Policy as bytes, per (burst, limit, period, overage cap): a tier's policy is the
# same on every request of its period, so it is rendered once. Bounded (overrides and
# period lengths multiply the tiers a little); cleared when full.
_POLICIES: dict[tuple[int, int, int, int], bytes] = {}
_POLICIES_MOST = 1024


def ratelimit_headers(verdict: Verdict, now_ms: int) -> list[tuple[str, str]]:
    period_s = _ceil_s(verdict.period_end_ms - verdict.period_start_ms)
    quota_left = max(0, verdict.limit - verdict.used)
    quota_reset = _ceil_s(verdict.period_end_ms - now_ms)
    policy = f'"burst";q={verdict.burst};w=1, "quota";q={verdict.limit};w={period_s}'
    limits = (
        f'"burst";r={verdict.burst_remaining};t={_ceil_s(verdict.burst_reset_ms)}, '
        f'"quota";r={quota_left};t={quota_reset}'
    )
    if verdict.overage_cap > 0:
        cap = verdict.overage_cap
        policy += f', "overage";q={cap};w={period_s}'
        limits += f', "overage";r={max(0, cap - overage_used(verdict))};t={quota_reset}'
    return [("RateLimit-Policy", policy), ("RateLimit", limits)]


def ratelimit_fields(verdict: Verdict, now_ms: int) -> list[tuple[bytes, bytes]]:
    """The same fields as `ratelimit_headers`, as ASGI header bytes, for an admitted answer."""
    period_s = _ceil_s(verdict.period_end_ms - verdict.period_start_ms)
    cap = verdict.overage_cap
    shape = (verdict.burst, verdict.limit, period_s, cap)
    policy = _POLICIES.get(shape)
    if policy is None:
        text = f'"burst";q={verdict.burst};w=1, "quota";q={verdict.limit};w={period_s}'
        if cap > 0:
            text += f', "overage";q={cap};w={period_s}'
        if len(_POLICIES) >= _POLICIES_MOST:
            _POLICIES.clear()
        policy = _POLICIES[shape] = text.encode("latin-1")
    quota_reset = _ceil_s(verdict.period_end_ms - now_ms)
    limits = b'"burst";r=%d;t=%d, "quota";r=%d;t=%d' % (
        verdict.burst_remaining,
        _ceil_s(verdict.burst_reset_ms),
        max(0, verdict.limit - verdict.used),
        quota_reset,
    )
    if cap > 0:
        limits += b', "overage";r=%d;t=%d' % (max(0, cap - overage_used(verdict)), quota_reset)
    return [(_POLICY, policy), (_RATELIMIT, limits)]


def overage_used(verdict: Verdict) -> int:
    """Units counted past `limit` this period (for a tier with overage: on any other, the
    count never passes the limit, except under a limit lowered mid-period)."""
    return max(0, verdict.used - verdict.limit)


def retry_after_s(retry_after_ms: int) -> int:
    """Whole seconds, rounded up so a client that waits this long is admitted; at least 1."""
    return max(1, _ceil_s(retry_after_ms))


def _ceil_s(ms: int) -> int:
    return max(0, -(-ms // 1000))
