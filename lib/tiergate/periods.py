"""Billing periods: the calendar month in UTC, for accounts with no subscription."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["calendar_month"]


def calendar_month(now_ms: int) -> tuple[int, int]:
    """Start and end (exclusive) of the UTC calendar month holding `now_ms`, in ms."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * 1000, int(end.timestamp()) * 1000
