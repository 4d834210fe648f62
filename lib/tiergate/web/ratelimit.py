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

__all__ = ["overage_used", "ratelimit_headers", "retry_after_s"]


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


def overage_used(verdict: Verdict) -> int:
    """Units counted past `limit` this period (for a tier with overage: on any other, the
    count never passes the limit, except under a limit lowered mid-period)."""
    return max(0, verdict.used - verdict.limit)


def retry_after_s(retry_after_ms: int) -> int:
    """Whole seconds, rounded up so a client that waits this long is admitted; at least 1."""
    return max(1, _ceil_s(retry_after_ms))


def _ceil_s(ms: int) -> int:
    return max(0, -(-ms // 1000))
