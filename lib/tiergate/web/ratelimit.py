"""RateLimit-Policy and RateLimit header fields (IETF httpapi draft, structured-field syntax).

Two policies: "burst" (requests per second) and "quota" (billable units per billing period).
"""

from __future__ import annotations

from ..decision import Verdict

__all__ = ["ratelimit_headers", "retry_after_s"]


def ratelimit_headers(verdict: Verdict, now_ms: int) -> list[tuple[str, str]]:
    period_s = _ceil_s(verdict.period_end_ms - verdict.period_start_ms)
    quota_left = max(0, verdict.limit - verdict.used)
    quota_reset = _ceil_s(verdict.period_end_ms - now_ms)
    return [
        (
            "RateLimit-Policy",
            f'"burst";q={verdict.burst};w=1, "quota";q={verdict.limit};w={period_s}',
        ),
        (
            "RateLimit",
            f'"burst";r={verdict.burst_remaining};t={_ceil_s(verdict.burst_reset_ms)}, '
            f'"quota";r={quota_left};t={quota_reset}',
        ),
    ]


def retry_after_s(retry_after_ms: int) -> int:
    """Whole seconds, rounded up so a client that waits this long is admitted; at least 1."""
    return max(1, _ceil_s(retry_after_ms))


def _ceil_s(ms: int) -> int:
    return max(0, -(-ms // 1000))
