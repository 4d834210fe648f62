"""The schedule: one job table (`jobs`), one runner (`runner`) that every entry point uses,
and the entry points that are not HTTP: `tiergate serve`'s background task (`background`)
and the EventBridge handler (`lambda_handler`). The cron route is web/scheduled.py."""

from __future__ import annotations

from .jobs import JOBS, JobRow, Report, ScheduledJob, scheduled_jobs
from .runner import JobOutcome, JobRunner, RunReport, job_runner

__all__ = [
    "JOBS",
    "JobOutcome",
    "JobRow",
    "JobRunner",
    "Report",
    "RunReport",
    "ScheduledJob",
    "job_runner",
    "scheduled_jobs",
]
