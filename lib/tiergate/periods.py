"""Billing periods: the subscription's, else the calendar month in UTC.

Integer arithmetic only, so that store/gate.lua, which decides on Redis's own clock and has no
date library, computes the same months line for line.
"""

from __future__ import annotations

__all__ = ["calendar_month", "current_period"]

_DAY_MS = 86_400_000


def calendar_month(now_ms: int) -> tuple[int, int]:
    """Start and end (exclusive) of the UTC calendar month holding `now_ms`, in ms."""
    days = now_ms // _DAY_MS
    year, month, day = _civil(days)
    start = days - (day - 1)
    return start * _DAY_MS, (start + _days_in_month(year, month)) * _DAY_MS


def current_period(start_ms: int, end_ms: int, now_ms: int) -> tuple[int, int]:
    """The period the quota counts in: the subscription's, else the calendar month.

    A subscription period that has ended without a renewal webhook yet is rolled forward by
    its own length, so counting never stops; the next webhook writes the exact dates.
    """
    if start_ms <= 0 or end_ms <= start_ms:
        return calendar_month(now_ms)
    if now_ms < end_ms:
        return start_ms, end_ms
    length = end_ms - start_ms
    start_ms += (now_ms - start_ms) // length * length
    return start_ms, start_ms + length


def _civil(days: int) -> tuple[int, int, int]:
    """Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian calendar).

    Howard Hinnant's civil_from_days: eras of 400 years, years starting on 1 March so that
    the leap day is the last day of the year.
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097  # day of the era, 0..146096
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365  # year of the era
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the year from 1 March
    mp = (5 * doy + 2) // 153  # month from March, 0..11
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 + (month + month // 8) % 2
