"""A scheduled run's call to Redis over the admin client (upstash-redis): bounded by a timeout,
and any failure to get an answer one `StoreUnavailable`, so what the run reads stays for the
next run. The rooms' own Redis storage (alerts/queue_upstash.py, meter/index_upstash.py)
shares it; the gate's calls have their own bounds (upstash.py, deadline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import StoreUnavailable

__all__ = ["bounded"]

T = TypeVar("T")


async def bounded(call: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """`call()`'s answer, or StoreUnavailable once `timeout_s` has passed or it failed."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call()
    except TimeoutError:
        raise StoreUnavailable(f"Redis did not answer within {timeout_s}s") from None
    except Exception as exc:  # an error reply, refused, dropped, bad gateway, ...
        raise StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None
