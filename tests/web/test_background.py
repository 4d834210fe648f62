"""`tiergate serve`'s scheduled runs, through the app's real ASGI lifespan: they start with
the app, go on beside its requests, survive failures, and leave nothing pending at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.observe import EmfWriter
from tiergate.schedule import JobRunner
from tiergate.schedule.background import BackgroundRuns
from tiergate.web.example import create_app
from tiergate.web.scheduled import run_in_background
from tiergate.wiring import build

from ..support.jobs import Done, TestJob
from .conftest import NOW_MS


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[None]:
    """The ASGI lifespan as a server (uvicorn) drives it: startup, serve, shutdown."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        await lifespan


def app_with_runs(*jobs: TestJob, interval_s: float = 30, grace_s: float = 5) -> FastAPI:
    settings = Settings(log_json=False)
    app = create_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    runner = JobRunner(
        [job.scheduled() for job in jobs],
        timeout_s=settings.schedule.scheduled_timeout,
        service="api",
        writer=EmfWriter("tiergate", write=lambda _: None),
    )
    run_in_background(app, runner, interval_s=interval_s).grace_s = grace_s
    return app


def runs(app: FastAPI) -> BackgroundRuns:
    found: BackgroundRuns = app.state.tiergate_runs
    return found


async def app_client_get(app: FastAPI, path: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get(path)).status_code


def others() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_the_first_run_is_at_start_up_and_nothing_is_left_at_shutdown() -> None:
    meter, alerts = TestJob("meter-push"), TestJob("alerts")
    app = app_with_runs(meter, alerts)
    before = others()
    async with served(app):
        await runs(app).wait_for_runs(1)
        assert (meter.runs, alerts.runs) == (1, 1)
        assert any(t.get_name() == "tiergate-scheduled-runs" for t in others())
    assert others() == before  # the loop task is gone, nothing pending
    assert (meter.runs, alerts.runs) == (1, 1)  # the 30 s interval had not come round


async def test_runs_repeat_every_interval_and_a_failure_does_not_stop_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="tiergate")
    broken = TestJob("alerts", raises=ConnectionError("SES unreachable"))
    failing = TestJob("meter-push", Done(False, ("acme: Stripe unavailable",)))
    app = app_with_runs(broken, failing, interval_s=0.001)
    async with served(app):
        await runs(app).wait_for_runs(3)
    assert broken.runs >= 3
    assert failing.runs >= 3
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scheduled")]
    assert "scheduled job meter-push failed: acme: Stripe unavailable" in failures
    assert "scheduled job alerts failed: raised ConnectionError: SES unreachable" in failures


async def test_requests_are_served_while_a_run_is_under_way() -> None:
    hold = asyncio.Event()
    slow = TestJob("meter-push", hold=hold)
    app = app_with_runs(slow)
    async with served(app):
        await slow.began.wait()  # the run has begun, and waits (on Stripe, say)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            keys = await app.state.tiergate.demo_keys()
            answer = await client.get("/v1/hello", headers={"X-API-Key": keys["free"]})
            assert answer.status_code == 200
            assert (await client.get("/healthz")).status_code == 200
        assert slow.runs == 0  # still under way, untouched by the requests
        hold.set()
        await runs(app).wait_for_runs(1)
    assert slow.runs == 1


async def test_a_run_still_going_at_shutdown_is_given_its_grace_then_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tiergate")
    stuck = TestJob("meter-push", hold=asyncio.Event())  # never set
    app = app_with_runs(stuck, grace_s=0)
    before = others()
    async with served(app):
        await stuck.began.wait()
    assert others() == before
    assert stuck.runs == 0
    assert "a scheduled run was still going at shutdown; cancelled" in caplog.messages


async def test_a_run_finishing_within_its_grace_is_let_finish() -> None:
    finishing = TestJob("meter-push")
    app = app_with_runs(finishing)
    finishing.hold = runs(app).stopping  # the run ends only once shutdown has begun
    async with served(app):
        await finishing.began.wait()
    assert finishing.runs == 1
    assert runs(app).runs == 1


async def test_with_no_jobs_there_is_no_background_task() -> None:
    app = app_with_runs()
    async with served(app):
        assert not [t for t in others() if t.get_name() == "tiergate-scheduled-runs"]
        assert (await app_client_get(app, "/healthz")) == 200
    assert runs(app).runs == 0


async def test_the_apps_own_lifespan_still_runs_around_the_runs() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def own(_: FastAPI) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    job = TestJob("alerts")
    settings = Settings(log_json=False)
    app = create_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    app.router.lifespan_context = own
    runner = JobRunner(
        [job.scheduled()], timeout_s=5, service="api", writer=EmfWriter("t", write=print)
    )
    background = run_in_background(app, runner, interval_s=30)
    async with served(app):
        await background.wait_for_runs(1)
        assert events == ["start"]
    assert events == ["start", "stop"]
    assert job.runs == 1


def test_tiergate_serve_runs_the_scheduled_jobs_in_its_apps_lifespan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tiergate.cli import main

    job = TestJob("meter-push", Done(True, ("sent 5 units",)))
    monkeypatch.setattr(
        "tiergate.schedule.runner.scheduled_jobs", lambda parts, settings: [job.scheduled()]
    )
    monkeypatch.setenv("TIERGATE_BACKGROUND_INTERVAL", "12")
    monkeypatch.setenv("TIERGATE_LOG_JSON", "false")
    served_apps: list[FastAPI] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: served_apps.append(app))
    assert main(["serve", "--port", "1"]) == 0
    (app,) = served_apps
    assert runs(app).interval_s == 12

    async def serve_briefly() -> None:
        async with served(app):
            await runs(app).wait_for_runs(1)

    asyncio.run(serve_briefly())
    assert job.runs == 1
    assert "demo key free: " in capsys.readouterr().out
