"""Scheduled jobs for tests: each counts its runs and answers what it was told to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tiergate.observe import count
from tiergate.schedule import ScheduledJob


@dataclass(frozen=True)
class Done:
    """A job's report, as MeterPusher.push and AlertDelivery.deliver return theirs."""

    ok: bool = True
    lines: tuple[str, ...] = ()


@dataclass
class TestJob:
    """Answers `report` (or raises `raises`); with `hold`, waits for it to be set first."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    report: Done = field(default_factory=Done)
    raises: Exception | None = None
    hold: asyncio.Event | None = None
    counts: tuple[tuple[str, str, str], ...] = ()  # metrics counted on each run
    runs: int = 0
    started: int = 0
    began: asyncio.Event = field(default_factory=asyncio.Event)  # set once a run has begun

    async def __call__(self) -> Done:
        self.started += 1
        self.began.set()
        if self.hold is not None:
            await self.hold.wait()
        for metric, dimension, value in self.counts:
            count(metric, dimension, value)
        self.runs += 1
        if self.raises is not None:
            raise self.raises
        return self.report

    def scheduled(self) -> ScheduledJob:
        return ScheduledJob(self.name, self)
