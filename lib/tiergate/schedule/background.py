"""The scheduled runs inside a long-lived server (`tiergate serve`, the embedded default): a
task on the server's own event loop that runs the jobs at start-up and then every
`interval_s`, one run at a time.

It never touches a request: a run is its own task, a failed run is logged (JobRunner) and the
next one comes on time, and a bug in the runner itself is logged and survived. At shutdown the
run under way gets `grace_s` to finish (a push half sent is resent by the next run, but there
is no reason to make it), then it is cancelled and awaited: nothing is left pending on a loop
that is about to close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from .runner import JobRunner

__all__ = ["BackgroundRuns"]

log = logging.getLogger("tiergate")


class BackgroundRuns:
    def __init__(self, runner: JobRunner, *, interval_s: float, grace_s: float = 5.0) -> None:
        self.runner = runner
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.runs = 0  # runs finished, failed ones included
        # Set when shutdown begins: a job may watch it to wrap up within the grace.
        self.stopping = asyncio.Event()
        self._finished = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[BackgroundRuns]:
        """Runs in the background while the block runs (an app's lifespan)."""
        if not self.runner.jobs:  # nothing scheduled: no task at all
            yield self
            return
        self.stopping.clear()
        task = asyncio.create_task(self._loop(), name="tiergate-scheduled-runs")
        try:
            yield self
        finally:
            self.stopping.set()
            done, _ = await asyncio.wait({task}, timeout=self.grace_s)
            if not done:
                log.warning("a scheduled run was still going at shutdown; cancelled")
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_for_runs(self, n: int) -> None:
        """Until `n` runs have finished since start-up (for tests and health checks)."""
        async with self._finished:
            await self._finished.wait_for(lambda: self.runs >= n)

    async def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.runner.run()
            except Exception:  # the runner turns job failures into reports; this is a bug
                log.exception("a scheduled run failed outside its jobs")
            async with self._finished:
                self.runs += 1
                self._finished.notify_all()
            # The next run `interval_s` after this one ended, or none once stopping.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval_s)
