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
  background work that ran meanwhile); when it starts within 50 ms of the previous one's
  end, from that end instead: the gap is the server reading this request (uvicorn's HTTP
  parsing, mangum's event translation), which is this request's cost, and skipping the
  clock read at the start halves the system calls on a busy instance.
- Concurrent requests: the total is exact (every CPU second spent while requests are in
  flight is attributed, once), but it is split evenly among those in flight, so a request
  is charged by its time in flight: a long one (waiting on I/O, or yielding between slices
  of work) takes part of the CPU of the short ones that overlap it. Per-route means are
  right when routes overlap alike, and skewed toward the mean of the mix when they do not:
  bench/measuring.py measures it for a heavy and a light route (+60 % / -87 % on 8
  overlapping callers, with the total within 1 %).
- CPU spent with no request in flight for longer than 50 ms (start-up, idle timers) is
  charged to none.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["BACK_TO_BACK_S", "CpuShares"]

# A request that starts within this long of the previous one's end, with none in flight, is
# charged the CPU of the gap (see CpuShares.start); after a longer gap (idle, start-up) the
# gap is nobody's.
BACK_TO_BACK_S = 0.05


class CpuShares:
    """The running fair share of one process's CPU. One per process: every app in it
    shares the CPU clock. Its events come from the event loop's thread only."""

    __slots__ = ("_clock", "_gap_s", "_in_flight", "_last", "_last_wall", "_measured", "_share",
                 "_wall")  # fmt: skip

    def __init__(
        self,
        clock: Callable[[], float] = time.process_time,
        *,
        wall: Callable[[], float] = time.perf_counter,
        gap_s: float = BACK_TO_BACK_S,
    ) -> None:
        self._clock = clock  # seconds of CPU, the whole process's (worker threads too)
        self._wall = wall
        self._gap_s = gap_s
        self._in_flight = 0
        self._measured = 0  # of those in flight, the ones started with `start` (not `join`)
        self._last = clock()
        self._last_wall = wall()
        self._share = 0.0  # seconds of CPU each request in flight has been charged so far

    def start(self) -> float:
        """A request starts; returns its token for `end`."""
        if not self._in_flight and self._wall() - self._last_wall < self._gap_s:
            # Back to back with the previous request: the CPU since it ended was the server
            # taking this one in (reading it, the runtime handing it over), so it is this
            # request's, and the clock need not be read (a system call) until it ends.
            self._in_flight = self._measured = 1
            return self._share
        self.mark()
        self._in_flight += 1
        self._measured += 1
        return self._share

    def end(self, token: float) -> float:
        """The request that `start` gave `token` ends; returns its CPU seconds."""
        self.mark()
        if self._in_flight:
            self._in_flight -= 1
            self._measured -= 1
        return self._share - token

    def join(self) -> None:
        """A request that is not measured starts (sampling): it counts in flight, since it
        shares the CPU with any measured one, but the clock is read only while a measured
        one is in flight; until then no share depends on it."""
        if self._measured:
            self.mark()
        self._in_flight += 1

    def leave(self) -> None:
        """The request that `join`ed ends."""
        if self._measured:
            self.mark()
        if self._in_flight:
            self._in_flight -= 1

    @property
    def idle(self) -> bool:
        return not self._in_flight

    def mark(self) -> None:
        """Read the clocks: the CPU since the last read is shared among those in flight, and
        a request starting back to back from now is charged from here."""
        now = self._clock()
        if self._in_flight:
            self._share += (now - self._last) / self._in_flight
        self._last = now
        self._last_wall = self._wall()


PROCESS = CpuShares()
