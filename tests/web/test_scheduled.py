"""GET /internal/scheduled: Vercel's cron asks for a run with `Authorization: Bearer
$CRON_SECRET`; nothing runs without the right secret, or without one configured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.web.example import create_app
from tiergate.web.scheduled import SCHEDULED_PATH, create_scheduled_app
from tiergate.wiring import build

from ..support.jobs import Done, TestJob
from .conftest import NOW_MS, assert_problem

SECRET = "cron-secret-of-at-least-16-chars"
Client = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_vercel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERCEL", "CRON_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def meter() -> TestJob:
    return TestJob("meter-push", Done(True, ("sent 40 units for acme",)))


@pytest.fixture
def alerts() -> TestJob:
    return TestJob("alerts", Done(True, ()))


@pytest.fixture
async def client(
    monkeypatch: pytest.MonkeyPatch, meter: TestJob, alerts: TestJob
) -> AsyncIterator[Callable[..., Any]]:
    """Makes a client for an app (create_scheduled_app by default) whose jobs are the two above."""
    monkeypatch.setattr(
        "tiergate.schedule.runner.scheduled_jobs",
        lambda parts, settings: [meter.scheduled(), alerts.scheduled()],
    )
    made: list[httpx.AsyncClient] = []

    async def make(
        factory: Callable[..., FastAPI] = create_scheduled_app, **settings: Any
    ) -> httpx.AsyncClient:
        built = Settings(log_json=False, **settings)
        app = factory(built, parts=build(built, clock=FakeClock(NOW_MS)))
        transport = httpx.ASGITransport(app=app)
        made.append(httpx.AsyncClient(transport=transport, base_url="https://x.vercel.app"))
        return made[-1]

    yield make
    for c in made:
        await c.aclose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_the_cron_with_the_secret_runs_every_job_and_gets_their_reports(
    client: Client, meter: TestJob, alerts: TestJob
) -> None:
    c = await client(cron_secret=SECRET)
    response = await c.get(SCHEDULED_PATH, headers=bearer(SECRET))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "jobs": [
            {"name": "meter-push", "ok": True, "lines": ["sent 40 units for acme"]},
            {"name": "alerts", "ok": True, "lines": []},
        ],
    }
    assert (meter.runs, alerts.runs) == (1, 1)
    assert response.headers["x-request-id"]  # observed like every answer


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-secret",
        f"Bearer {SECRET[:-1]}",  # all but the last character
        f"Bearer {SECRET}x",
        f"Basic {SECRET}",
        SECRET,
    ],
)
async def test_without_the_right_secret_nothing_runs(
    client: Client, meter: TestJob, alerts: TestJob, authorization: str | None
) -> None:
    c = await client(cron_secret=SECRET)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await c.get(SCHEDULED_PATH, headers=headers)
    assert_problem(response, 401, "invalid-cron-secret")
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert (meter.started, alerts.started) == (0, 0)


async def test_the_scheme_is_case_insensitive(client: Client, meter: TestJob) -> None:
    c = await client(cron_secret=SECRET)
    response = await c.get(SCHEDULED_PATH, headers={"Authorization": f"bearer {SECRET}"})
    assert response.status_code == 200
    assert meter.runs == 1


@pytest.mark.parametrize("configured", [None, ""])
async def test_without_cron_secret_configured_nothing_runs_and_it_is_said_once(
    client: Client,
    meter: TestJob,
    caplog: pytest.LogCaptureFixture,
    configured: str | None,
) -> None:
    caplog.set_level(logging.ERROR, logger="tiergate")
    c = await client(cron_secret=configured)
    for authorization in ("Bearer ", "Bearer anything", ""):
        response = await c.get(SCHEDULED_PATH, headers={"Authorization": authorization})
        body = assert_problem(response, 503, "scheduled-not-configured")
        assert "CRON_SECRET" in body["detail"]
        assert "Retry-After" not in response.headers  # waiting will not set it
    assert meter.started == 0
    assert [r.getMessage() for r in caplog.records] == [
        "a scheduled run was asked for but CRON_SECRET is not set"
    ]


async def test_a_failed_job_answers_500_with_every_report(
    client: Client, meter: TestJob, alerts: TestJob
) -> None:
    meter.report = Done(False, ("acme: Stripe answered 503 four times",))
    alerts.raises = TimeoutError("the webhook did not answer")
    c = await client(cron_secret=SECRET)
    response = await c.get(SCHEDULED_PATH, headers=bearer(SECRET))
    body = assert_problem(response, 500, "scheduled-run-failed")
    assert body["detail"].startswith("These scheduled jobs failed: meter-push, alerts.")
    assert body["jobs"] == [
        {"name": "meter-push", "ok": False, "lines": ["acme: Stripe answered 503 four times"]},
        {
            "name": "alerts",
            "ok": False,
            "lines": ["raised TimeoutError: the webhook did not answer"],
        },
    ]
    assert "Traceback" not in response.text


async def test_only_one_job_failing_still_runs_the_other(
    client: Client, meter: TestJob, alerts: TestJob
) -> None:
    alerts.report = Done(False, ("2 alerts not delivered",))
    c = await client(cron_secret=SECRET)
    response = await c.get(SCHEDULED_PATH, headers=bearer(SECRET))
    body = assert_problem(response, 500, "scheduled-run-failed")
    assert [job["ok"] for job in body["jobs"]] == [True, False]
    assert meter.runs == 1


async def test_install_mounts_the_route_on_vercel_or_with_a_secret_only(
    client: Client, meter: TestJob
) -> None:
    # On AWS (EventBridge runs the function) and under `tiergate serve` (in-process runs)
    # there is no such route.
    plain = await client(create_app)
    assert_problem_blank(await plain.get(SCHEDULED_PATH, headers=bearer(SECRET)), 404)
    # On Vercel: mounted, and refusing until CRON_SECRET is set.
    on_vercel = await client(create_app, vercel=True)
    assert_problem(await on_vercel.get(SCHEDULED_PATH), 503, "scheduled-not-configured")
    # Any host with CRON_SECRET (a scheduler that sends a bearer token).
    with_secret = await client(create_app, cron_secret=SECRET)
    assert (await with_secret.get(SCHEDULED_PATH, headers=bearer(SECRET))).status_code == 200
    assert meter.runs == 1
    # Not an API route: not in the published OpenAPI document.
    assert SCHEDULED_PATH not in (await with_secret.get("/openapi.json")).json()["paths"]


def test_vercel_is_read_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERCEL", "1")
    monkeypatch.setenv("CRON_SECRET", SECRET)
    settings = Settings()
    assert settings.schedule.vercel is True
    assert settings.gate.cron_secret is not None
    assert settings.gate.cron_secret.get_secret_value() == SECRET


def assert_problem_blank(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "about:blank"
