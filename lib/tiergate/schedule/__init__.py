"""The schedule: one job table (`jobs`), one runner (`runner`) that every entry point uses,
and the entry points that are not HTTP: `tiergate serve`'s background task (`background`)
and the EventBridge handler (`lambda_handler`). The cron route is web/scheduled.py.

The names load on first use: a request loads the schedule's section of the settings
(`schedule.settings`, read with every other section) and none of the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
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

_HOME = {
    **dict.fromkeys(("JOBS", "JobRow", "Report", "ScheduledJob", "scheduled_jobs"), ".jobs"),
    **dict.fromkeys(("JobOutcome", "JobRunner", "RunReport", "job_runner"), ".runner"),
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME, __all__)
