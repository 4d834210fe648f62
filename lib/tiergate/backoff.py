"""Retries under a deadline: full-jitter exponential backoff, written once for every caller
that retries a call to someone else (the Stripe gateway, the alert senders).

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th wait is
uniform in [0, first_s * factor**n), so clients that failed together do not retry together.
A wait that would reach past the deadline is not begun: the caller stops and says so, and
a later run (or the caller's own caller) tries again. The clock, the sleep and the jitter
are injected, so tests never wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """`attempts` tries in all; `now_s` is the clock deadlines are read on (seconds, any
    origin, moving with `sleep`); `jitter` returns a number in [0, 1)."""

    first_s: float
    factor: float = 2.0
    attempts: int = 4
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    jitter: Callable[[], float] = field(default=random.random)
    now_s: Callable[[], float] = field(default=time.monotonic)

    def deadline(self, budget_s: float) -> float:
        """The deadline `budget_s` from now, on `now_s`'s clock."""
        return self.now_s() + budget_s

    def left_s(self, deadline: float) -> float:
        """What is left until `deadline` (≤ 0 once it has passed)."""
        return deadline - self.now_s()

    def wait_s(
        self, attempt: int, deadline: float, *, at_least_s: float | None = None
    ) -> float | None:
        """The wait before the try after try `attempt` (0 for the first), or None when there
        is no next try: the attempts are used up, or the wait would outlast `deadline`.
        `at_least_s`: a wait the other side asked for (Retry-After), kept as a floor."""
        if attempt + 1 >= self.attempts:
            return None
        wait = self.jitter() * self.first_s * self.factor**attempt
        if at_least_s is not None:
            wait = max(wait, at_least_s)
        if self.now_s() + wait >= deadline:
            return None
        return wait

    async def pause(
        self, attempt: int, deadline: float, *, at_least_s: float | None = None
    ) -> bool:
        """Wait `wait_s` and answer True, or answer False at once when there is no next try."""
        wait = self.wait_s(attempt, deadline, at_least_s=at_least_s)
        if wait is None:
            return False
        await self.sleep(wait)
        return True
