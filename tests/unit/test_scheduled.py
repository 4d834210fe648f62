"""JobRunner: every job runs, whatever another does; a failure is a report, never lost work."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tiergate.observe import EmfWriter, Observation, bind
from tiergate.schedule import JobRunner, RunReport
from tiergate.telemetry import ALERT_DELIVERED, ALERT_DELIVERY, DIM_OUTCOME, METER_PUSH, METER_SENT

from ..support.jobs import Done, TestJob


def runner(*jobs: TestJob, timeout_s: float = 30, lines: list[str] | None = None) -> JobRunner:
    written = lines if lines is not None else []
    return JobRunner(
        [job.scheduled() for job in jobs],
        timeout_s=timeout_s,
        service="scheduled",
        writer=EmfWriter("tiergate", write=written.append, clock_ms=lambda: 1_764_000_000_000),
    )


async def test_every_job_runs_and_the_run_is_ok_when_all_are() -> None:
    meter = TestJob("meter-push", Done(True, ("sent 12 units for acme",)))
    alerts = TestJob("alerts", Done(True, ()))
    report = await runner(meter, alerts).run()
    assert (meter.runs, alerts.runs) == (1, 1)
    assert report.ok
    assert report.as_json() == {
        "ok": True,
        "jobs": [
            {"name": "meter-push", "ok": True, "lines": ["sent 12 units for acme"]},
            {"name": "alerts", "ok": True, "lines": []},
        ],
    }
    assert report.summary() == "scheduled run ok"


async def test_a_failed_job_fails_the_run_but_not_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tiergate")
    meter = TestJob("meter-push", Done(False, ("acme: Stripe answered 500, tried 4 times",)))
    alerts = TestJob("alerts", Done(True, ("delivered 1",)))
    report = await runner(meter, alerts).run()
    assert not report.ok
    assert report.failed == ("meter-push",)
    assert alerts.runs == 1
    assert report.summary() == (
        "scheduled run failed: meter-push: acme: Stripe answered 500, tried 4 times"
    )
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["scheduled job meter-push failed: acme: Stripe answered 500, tried 4 times"]


async def test_a_job_that_raises_is_a_failed_report_with_the_error() -> None:
    broken = TestJob("alerts", raises=ConnectionError("SES unreachable"))
    fine = TestJob("meter-push")
    report = await runner(broken, fine).run()
    assert [(j.name, j.ok, j.lines) for j in report.jobs] == [
        ("alerts", False, ("raised ConnectionError: SES unreachable",)),
        ("meter-push", True, ()),
    ]


async def test_a_job_that_overruns_is_cut_off_and_reported() -> None:
    stuck = TestJob("meter-push", hold=asyncio.Event())  # never set
    fine = TestJob("alerts")
    report = await runner(stuck, fine, timeout_s=30).run(timeout_s=0)  # the tighter bound wins
    assert stuck.started == 1
    assert stuck.runs == 0
    assert [(j.name, j.ok, j.lines) for j in report.jobs] == [
        ("meter-push", False, ("did not finish within 0 s",)),
        ("alerts", True, ()),
    ]


async def test_outside_a_request_the_run_writes_the_metrics_its_jobs_counted() -> None:
    lines: list[str] = []
    meter = TestJob("meter-push", counts=((METER_PUSH, DIM_OUTCOME, METER_SENT),) * 2)
    alerts = TestJob("alerts", counts=((ALERT_DELIVERY, DIM_OUTCOME, ALERT_DELIVERED),))
    await runner(meter, alerts, lines=lines).run(run_id="run-1")
    documents = [json.loads(line) for line in "".join(lines).splitlines()]
    by_metric = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}
    assert set(by_metric) == {METER_PUSH, ALERT_DELIVERY}
    assert by_metric[METER_PUSH]["MeterPush"] == 2
    assert by_metric[METER_PUSH]["outcome"] == METER_SENT
    assert by_metric[ALERT_DELIVERY]["outcome"] == ALERT_DELIVERED
    assert {d["service"] for d in documents} == {"scheduled"}
    assert {d["request_id"] for d in documents} == {"run-1"}


async def test_inside_a_request_the_counts_are_the_requests_to_flush() -> None:
    lines: list[str] = []
    meter = TestJob("meter-push", counts=((METER_PUSH, DIM_OUTCOME, METER_SENT),))
    with bind(Observation("req-1", "api")) as request:
        await runner(meter, lines=lines).run()
    assert lines == []
    assert request.counts == {(METER_PUSH, DIM_OUTCOME, METER_SENT): 1}


async def test_a_run_of_no_jobs_is_ok() -> None:
    assert await runner().run() == RunReport(())


async def test_a_timeout_of_the_jobs_own_is_its_error_not_the_runs_bound() -> None:
    slow_client = TestJob("alerts", raises=TimeoutError("the webhook did not answer"))
    (job,) = (await runner(slow_client, timeout_s=30).run()).jobs
    assert job.lines == ("raised TimeoutError: the webhook did not answer",)


def test_a_new_job_is_one_row_of_the_table_and_a_row_may_be_absent() -> None:
    from tiergate.schedule import JOBS, JobRow, scheduled_jobs

    extra = TestJob("reports")
    table = (
        JobRow("absent", lambda parts, settings: None),  # what it needs is not configured
        JobRow("reports", lambda parts, settings: extra),
    )
    jobs = scheduled_jobs(None, None, table)  # type: ignore[arg-type]
    assert [job.name for job in jobs] == ["reports"]
    assert jobs[0].run is extra
    assert [row.name for row in JOBS] == ["meter-push", "alerts", "recording"]
