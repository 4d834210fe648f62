"""Billing periods: the subscription's, else the calendar month in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["calendar_month", "current_period"]


def calendar_month(now_ms: int) -> tuple[int, int]:
    """Start and end (exclusive) of the UTC calendar month holding `now_ms`, in ms."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1000, int(end.timestamp()) * 1000


def current_period(
    start_ms: int, end_ms: int, now_ms: int, month: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The period the quota counts in: the subscription's, else the calendar month.

    A subscription period that has ended without a renewal webhook yet is rolled forward by
    its own length, so counting never stops; the next webhook writes the exact dates.
    `month` is the calendar month holding `now_ms`, when the caller has it already.
    """
    if start_ms <= 0 or end_ms <= start_ms:
        return month or calendar_month(now_ms)
    if now_ms < end_ms:
        return start_ms, end_ms
    length = end_ms - start_ms
    start_ms += (now_ms - start_ms) // length * length
    return start_ms, start_ms + length
