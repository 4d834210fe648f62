"""One channel of one crossing, sent with retries: up to `attempts` tries with full-jitter
exponential backoff (0.5 s, 2 s, ...; longer when the receiver's Retry-After asks), every try
bounded by what is left of the run's budget, none begun that the budget cannot hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ..backoff import Backoff
from ..clock import Clock
from ..usage import AlertCrossing
from .channels import Channel, DeliveryFailed
from .contacts_store import AlertContacts
from .senders import ChannelSender

__all__ = ["BACKOFF_S", "NO_TIME", "Attempts"]

BACKOFF_S = 0.5  # the first retry within 0.5 s, then 2 s, 8 s (full jitter)
# The run's budget ran out before the first try: nothing is known about the receiver.
NO_TIME = DeliveryFailed("the run's time budget ran out before an attempt")


class Attempts:
    def __init__(
        self,
        *,
        senders: Sequence[ChannelSender],
        clock: Clock,
        timeout_s: float,
        attempts: int,
        sleep: Callable[[float], Awaitable[None]],
        jitter: Callable[[], float],
    ) -> None:
        self._senders = {s.channel: s for s in senders}
        self._timeout_s = timeout_s
        # On the run's clock, in seconds: the run's deadline is that clock's.
        self._backoff = Backoff(
            BACKOFF_S,
            factor=4,
            attempts=attempts,
            sleep=sleep,
            jitter=jitter,
            now_s=lambda: clock.now_ms() / 1000,
        )

    async def deliver(
        self, crossing: AlertCrossing, contacts: AlertContacts, channel: Channel, deadline_ms: int
    ) -> DeliveryFailed | None:
        """Up to `attempts` sends with backoff, inside the run's budget; the last failure
        (NO_TIME when the budget ran out before the first)."""
        failure = NO_TIME
        backoff = self._backoff
        deadline = deadline_ms / 1000
        for attempt in range(backoff.attempts):
            left_s = backoff.left_s(deadline)
            if left_s <= 0:
                return failure
            try:
                await self._senders[channel].send(crossing, contacts, min(self._timeout_s, left_s))
            except DeliveryFailed as exc:
                failure = exc
            else:
                return None
            if failure.permanent or not failure.retry_now:
                return failure
            if not await backoff.pause(attempt, deadline, at_least_s=failure.retry_after_s):
                return failure  # no tries left, or the wait would outlast the run
        return failure
