"""The AWS Lambda entry point of the scheduled runs: an EventBridge rule invokes it every
minute (serverless.yml), asynchronously.

A run whose jobs all succeeded returns its report. A run with a failed job raises, on
purpose: Lambda then retries the event (maximumRetryAttempts) and, when the retries fail
too, sends it to the dead-letter queue, whose alarm is what tells the operator that the meter
or the alerts are stuck. What failed is logged first, one line a job, under the invocation's
request id.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .runner import JobRunner

__all__ = ["ScheduledRunFailed", "scheduled_handler"]

# Time kept back from the function's limit: the jobs are cut off this much earlier, so that
# the handler still reports (and raises) before Lambda kills it with nothing said.
_MARGIN_S = 2.0


class ScheduledRunFailed(RuntimeError):
    """A job of the run failed: raised to Lambda, which retries the event, then dead-letters it."""


class LambdaContext(Protocol):
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


Handler = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]


def scheduled_handler(runner: JobRunner) -> Handler:
    """The handler for `runner`, built once per container (module level in api/scheduled.py),
    so that a warm container reuses its parts and their connections."""

    def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        remaining_s = context.get_remaining_time_in_millis() / 1000 - _MARGIN_S
        run = runner.run(run_id=context.aws_request_id, timeout_s=max(remaining_s, 1.0))
        report = _thread_loop().run_until_complete(run)
        if not report.ok:
            raise ScheduledRunFailed(report.summary())
        return report.as_json()

    return handler


def _thread_loop() -> asyncio.AbstractEventLoop:
    """The thread's event loop, kept across invocations (the stores' connections live on it),
    as mangum keeps it for the HTTP functions; a new one the first time."""
    with warnings.catch_warnings():
        # Python 3.12 warns when get_event_loop has to make the loop; making it is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop
