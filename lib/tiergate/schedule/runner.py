"""How a run of the scheduled jobs is made, whatever starts it (EventBridge on AWS, Vercel's
cron, `tiergate serve`'s background task): `job_runner` is the one runner every entry point
uses, over the job table (`schedule.jobs.JOBS`).

`JobRunner.run` runs the jobs side by side, each under a time bound, turns a job that raises
or overruns into a failed report instead of losing the others' work, logs what failed, and
flushes the metrics the jobs counted (`observe.metrics.count`) when no request is there to do
it. No FastAPI here: the web layer and the Lambda handler both call this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..observe import EmfWriter, Observation, bind, current, emf_writer
from ..observe.requestid import new_request_id
from ..telemetry import SERVICE_SCHEDULED
from .jobs import ScheduledJob, scheduled_jobs

if TYPE_CHECKING:
    from ..config import Settings
    from ..wiring import Parts

__all__ = ["JobOutcome", "JobRunner", "RunReport", "job_runner"]

log = logging.getLogger("tiergate")


@dataclass(frozen=True, slots=True)
class JobOutcome:
    name: str
    ok: bool
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunReport:
    """Every job's outcome in one run, in the jobs' order."""

    jobs: tuple[JobOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(job.ok for job in self.jobs)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(job.name for job in self.jobs if not job.ok)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "jobs": [{"name": j.name, "ok": j.ok, "lines": list(j.lines)} for j in self.jobs],
        }

    def summary(self) -> str:
        """One line: which jobs failed and their first lines (an exception's message)."""
        parts = [f"{j.name}: {'; '.join(j.lines[:3]) or 'failed'}" for j in self.jobs if not j.ok]
        return "scheduled run failed: " + " | ".join(parts) if parts else "scheduled run ok"


class JobRunner:
    """Runs `jobs` together, each within `timeout_s`; `service` and `writer` stamp and write
    the metrics the jobs count when no request is being served (a Lambda event, the
    background task)."""

    def __init__(
        self,
        jobs: Sequence[ScheduledJob],
        *,
        timeout_s: float,
        service: str,
        writer: EmfWriter,
    ) -> None:
        self.jobs = tuple(jobs)
        self.timeout_s = timeout_s
        self._service = service
        self._writer = writer

    async def run(self, *, run_id: str | None = None, timeout_s: float | None = None) -> RunReport:
        """One run. `run_id`: what its log lines and metrics carry (Lambda's request id);
        `timeout_s`: a tighter bound than the runner's (the time the function has left)."""
        bound = min(self.timeout_s, timeout_s) if timeout_s is not None else self.timeout_s
        if current() is not None:  # inside a request: its middleware flushes the counts
            return await self._run(bound)
        observation = Observation(run_id or new_request_id(), self._service)
        with bind(observation):
            try:
                return await self._run(bound)
            finally:
                self._writer.flush(observation)

    async def _run(self, timeout_s: float) -> RunReport:
        outcomes = await asyncio.gather(*(self._one(job, timeout_s) for job in self.jobs))
        report = RunReport(tuple(outcomes))
        for job in report.jobs:
            if not job.ok:
                log.error("scheduled job %s failed: %s", job.name, " | ".join(job.lines))
            elif job.lines:
                log.info("scheduled job %s: %s", job.name, " | ".join(job.lines))
        return report

    async def _one(self, job: ScheduledJob, timeout_s: float) -> JobOutcome:
        bound = asyncio.timeout(timeout_s)
        try:
            async with bound:
                report = await job.run()
        except Exception as exc:
            if isinstance(exc, TimeoutError) and bound.expired():
                # Cut off like a crash: the jobs are built to resume after one (the meter's
                # outbox resends a claimed batch with its identifier; alerts are delivered at
                # least once). A TimeoutError of the job's own (a client's) is an error below.
                return JobOutcome(job.name, False, (f"did not finish within {timeout_s:g} s",))
            log.exception("scheduled job %s raised", job.name)
            return JobOutcome(job.name, False, (f"raised {type(exc).__name__}: {exc}",))
        return JobOutcome(job.name, bool(report.ok), tuple(str(line) for line in report.lines))


def job_runner(parts: Parts, settings: Settings, *, service: str = SERVICE_SCHEDULED) -> JobRunner:
    """The deployment's jobs (the table's rows that apply) and how a run of them is made."""
    return JobRunner(
        scheduled_jobs(parts, settings),
        timeout_s=settings.schedule.scheduled_timeout,
        service=settings.observe.service or service,
        writer=emf_writer(settings.observe.metrics_namespace, enabled=settings.observe.emf),
    )
