"""The one backoff-under-a-deadline helper: full jitter, a floor the other side asked for,
no wait begun that the deadline cannot hold, never more tries than allowed."""

from __future__ import annotations

import asyncio

from tiergate.backoff import Backoff


class Waits:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def backoff(waits: Waits, *, jitter: float = 1.0, attempts: int = 4) -> Backoff:
    return Backoff(
        0.5,
        factor=4,
        attempts=attempts,
        sleep=waits.sleep,
        jitter=lambda: jitter,
        now_s=waits.monotonic,
    )


def test_waits_grow_by_the_factor_and_scale_by_the_jitter() -> None:
    waits = Waits()
    b = backoff(waits, jitter=0.5)
    deadline = b.deadline(1000)
    assert [b.wait_s(n, deadline) for n in range(3)] == [0.25, 1.0, 4.0]


def test_no_try_after_the_last_attempt() -> None:
    waits = Waits()
    b = backoff(waits, attempts=2)
    deadline = b.deadline(1000)
    assert b.wait_s(0, deadline) == 0.5
    assert b.wait_s(1, deadline) is None


def test_a_wait_that_would_reach_the_deadline_is_not_begun() -> None:
    waits = Waits()
    b = backoff(waits)
    deadline = b.deadline(2.0)
    assert b.wait_s(0, deadline) == 0.5
    assert b.wait_s(1, deadline) is None  # 2 s from now is the deadline itself
    assert asyncio.run(b.pause(1, deadline)) is False
    assert waits.slept == []


def test_the_floor_asked_for_is_kept() -> None:
    waits = Waits()
    b = backoff(waits, jitter=0.0)
    deadline = b.deadline(60)
    assert asyncio.run(b.pause(0, deadline, at_least_s=3.0)) is True
    assert waits.slept == [3.0]
    assert b.left_s(deadline) == 57.0
    assert b.wait_s(0, deadline, at_least_s=57.0) is None
