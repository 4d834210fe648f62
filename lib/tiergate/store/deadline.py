"""A timeout that counts the time a call waited for its answer, not the process's own delays.

`asyncio.wait_for` fires when its timer runs; on a busy event loop (uvicorn, Vercel's
concurrent instances) that timer and the socket's answer are both late, the timer can run
first, and a Redis that answered in 2 ms gets the blame for 300 ms of someone else's work:
with 32 clients on 2 cores 3.8 % of requests were 503s from a healthy Redis. Here, when the
timer fires late, the lateness is the loop's: the call is given that much more time, up to a
hard cap, since its answer may be sitting unread in the socket. On an idle loop (Lambda runs
one request per instance) the lateness is nil and the timeout is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["answer_within"]

T = TypeVar("T")

# A timer this late or less is the loop's ordinary jitter, not congestion.
_JITTER_S = 0.005


async def answer_within(call: Callable[[], Awaitable[T]], timeout_s: float, cap_s: float) -> T:
    """`call()`'s result, or TimeoutError once it has had `timeout_s` of the loop's attention
    (at most `cap_s` of wall time); the call is cancelled then.

    The call runs in the caller's own task under a timer (as `asyncio.timeout` does): no task
    or future is made per call, which on the hot path costs more than the timer itself.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None  # called from a coroutine, always inside a task
    started = loop.time()
    cap = started + max(cap_s, timeout_s)
    expired = False
    timer: asyncio.TimerHandle

    def on_timer(deadline: float) -> None:
        nonlocal timer, expired
        now = loop.time()
        late = now - deadline
        if now < cap and late > _JITTER_S:  # the loop was busy: give the call that time back
            timer = loop.call_at(min(now + late, cap), on_timer, now + late)
            return
        expired = True
        task.cancel()

    timer = loop.call_at(min(started + timeout_s, cap), on_timer, started + timeout_s)
    try:
        return await call()
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            raise TimeoutError from None
        raise  # cancelled from outside: not ours to swallow
    finally:
        timer.cancel()
