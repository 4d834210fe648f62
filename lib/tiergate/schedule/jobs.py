"""The job table: every job a scheduled run makes, one row each, and what a job is.

A job is an async callable with no arguments that returns a report: an `ok` flag (everything
due was done) and printable lines (what it did, what failed). Each row names a job and makes
it from one container's parts and settings, or makes none when the deployment lacks what the
job needs (no STRIPE_SECRET_KEY: no meter to push to). Every entry point (EventBridge, the
cron route, `tiergate serve`'s background task) runs the same rows through `job_runner`, so a
new job is one row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config import Settings
    from ..wiring import Parts

__all__ = ["JOBS", "JobRow", "Report", "Run", "ScheduledJob", "scheduled_jobs"]


class Report(Protocol):
    """What a job returns (MeterPusher.push's and AlertDelivery.deliver's reports)."""

    @property
    def ok(self) -> bool: ...

    @property
    def lines(self) -> Sequence[str]: ...


Run = Callable[[], Awaitable[Report]]


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    name: str  # short and stable: it names the job in logs and in the endpoint's answer
    run: Run


@dataclass(frozen=True, slots=True)
class JobRow:
    name: str
    make: Callable[[Parts, Settings], Run | None]  # None: not in this deployment


def _meter_push(parts: Parts, settings: Settings) -> Run | None:
    pusher = parts.meter_pusher(settings.meter)
    return pusher.push if pusher is not None else None


def _alerts(parts: Parts, settings: Settings) -> Run:
    from ..alerts.job import alert_job  # the job's own clients (httpx, SES) load only here

    return alert_job(
        settings.alerts,
        settings.gate,
        queue=parts.alert_queue,
        contacts=parts.alert_contacts,
        clock=parts.clock,
    ).run


def _recording(parts: Parts, settings: Settings) -> Run | None:
    """What `tiergate serve` recorded for `tiergate costs`, merged into its file (only where
    TIERGATE_RECORD_COSTS is on: `tiergate serve`)."""
    observe = settings.observe
    if not (observe.measure and observe.record_costs):
        return None
    from ..observe.recording import FileRecorder

    return FileRecorder.at(observe).scheduled


JOBS: tuple[JobRow, ...] = (
    JobRow("meter-push", _meter_push),
    JobRow("alerts", _alerts),
    JobRow("recording", _recording),
)


def scheduled_jobs(
    parts: Parts, settings: Settings, table: Sequence[JobRow] = JOBS
) -> list[ScheduledJob]:
    """The jobs of the table that this deployment has, in the table's order; each made once
    here from `parts` and `settings`, so a warm container reuses its clients."""
    jobs: list[ScheduledJob] = []
    for row in table:
        run = row.make(parts, settings)
        if run is not None:
            jobs.append(ScheduledJob(row.name, run))
    return jobs
