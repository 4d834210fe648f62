"""Warnings that repeat once per request while a store is down, said once and then counted.

CloudWatch bills ingestion by the line: 1,095 identical warnings in 7 s say no more than the
first one and a count. The first occurrence is logged as it comes; later ones within
`every_ms` are counted, and the next line (at most one per `every_ms`) says how many there
were; `recovered()` says the last count when things work again.
"""

from __future__ import annotations

import logging

from .clock import Clock

__all__ = ["ThrottledWarning"]


class ThrottledWarning:
    def __init__(self, log: logging.Logger, clock: Clock, what: str, *, every_ms: int = 10_000):
        self._log = log
        self._clock = clock
        self._what = what  # names the condition in the summary lines
        self._every_ms = every_ms
        self._last_ms: int | None = None  # when a line was last written
        self._quiet = 0  # occurrences since that were not

    def warning(self, message: str, *args: object) -> None:
        now = self._clock.now_ms()
        if self._last_ms is not None and now - self._last_ms < self._every_ms:
            self._quiet += 1
            return
        if self._quiet and self._last_ms is not None:
            message += " (%d more in the last %d s)"
            args = (*args, self._quiet, (now - self._last_ms) // 1000)
        self._log.warning(message, *args)
        self._last_ms, self._quiet = now, 0

    def recovered(self) -> None:
        """Things work again: say how many went unsaid since the last line, if any."""
        if self._last_ms is None:
            return
        if self._quiet:
            self._log.warning("%s: %d more before it recovered", self._what, self._quiet)
        self._last_ms, self._quiet = None, 0
