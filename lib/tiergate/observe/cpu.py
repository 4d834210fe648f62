"""CPU time per request when one process serves several requests at once.

A process's CPU clock cannot say which request a slice of CPU went to: on uvicorn or a
Vercel instance with concurrency, requests interleave on one event loop (and their worker
threads). So the CPU the process spends while requests are in flight is shared out equally
among the requests in flight at that moment, as a fair-share scheduler's virtual time does:

    share(t) = ∫ dCPU / n(t)        over the times t with n(t) >= 1 requests in flight
    cpu(request) = share(end) - share(start)

Each start and end reads the process's CPU clock once, adds the CPU since the previous event
divided by the number in flight, and a request's CPU is the difference of that running share
between its end and its start: O(1) per request, no per-task bookkeeping.

How exact it is:
- One request at a time (Lambda, always; uvicorn or Vercel when not busy): exact, the
  process's CPU from the request's start to its end (including worker threads, and any
  background work that ran meanwhile).
- Concurrent requests: the total is exact (every CPU second spent while requests are in
  flight is attributed, once), but it is split evenly: a light request that overlaps a heavy
  one is charged part of the heavy one's CPU. Per-route means converge on the truth when a
  route's requests overlap a representative mix; a route that only ever overlaps a heavier
  one reads high. bench/measuring.py measures the error for a heavy and a light route.
- CPU spent while no request is in flight (start-up, idle timers) is charged to none.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CpuShares"]


class CpuShares:
    """The running fair share of one process's CPU. One per process: every app in it
    shares the CPU clock. Its events come from the event loop's thread only."""

    __slots__ = ("_clock", "_in_flight", "_last", "_share")

    def __init__(self, clock: Callable[[], float] = time.process_time) -> None:
        self._clock = clock  # seconds of CPU, the whole process's (worker threads too)
        self._in_flight = 0
        self._last = clock()
        self._share = 0.0  # seconds of CPU each request in flight has been charged so far

    def start(self) -> float:
        """A request starts; returns its token for `end`."""
        self._advance()
        self._in_flight += 1
        return self._share

    def end(self, token: float) -> float:
        """The request that `start` gave `token` ends; returns its CPU seconds."""
        self._advance()
        self._in_flight = max(0, self._in_flight - 1)
        return self._share - token

    def _advance(self) -> None:
        now = self._clock()
        if self._in_flight:
            self._share += (now - self._last) / self._in_flight
        self._last = now


PROCESS = CpuShares()
