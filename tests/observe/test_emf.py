"""The EMF writer: one document per dimension set, counted per request, never failing it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tiergate import Settings, install
from tiergate.clock import FakeClock
from tiergate.observe import EmfWriter, Observation, bind, count
from tiergate.telemetry import DEGRADED, DENIED, DIM_OUTCOME, DIM_REASON, WEBHOOK
from tiergate.wiring import build

from .conftest import NOW_MS, read_stdout


def flushed(observation: Observation) -> list[dict[str, Any]]:
    written: list[str] = []
    EmfWriter("ns", write=written.append, clock_ms=lambda: NOW_MS).flush(observation)
    return [json.loads(line) for line in "".join(written).splitlines()]


def test_one_document_per_dimension_set_with_its_metrics_summed() -> None:
    with bind(Observation("r-1", "api")) as observation:
        count(DENIED, DIM_REASON, "quota-exhausted")
        count(DEGRADED, DIM_REASON, "refund-failed")
        count(DENIED, DIM_REASON, "quota-exhausted")
        count(DEGRADED, DIM_REASON, "quota-exhausted")  # same dimension set: same document
        count(WEBHOOK, DIM_OUTCOME, "failed")
    directive = {"Namespace": "ns", "Dimensions": [["service", "reason"]]}
    assert flushed(observation) == [
        {
            "_aws": {
                "Timestamp": NOW_MS,
                "CloudWatchMetrics": [
                    {
                        **directive,
                        "Metrics": [
                            {"Name": "Denied", "Unit": "Count"},
                            {"Name": "Degraded", "Unit": "Count"},
                        ],
                    }
                ],
            },
            "service": "api",
            "reason": "quota-exhausted",
            "Denied": 2,
            "Degraded": 1,
            "request_id": "r-1",
        },
        {
            "_aws": {
                "Timestamp": NOW_MS,
                "CloudWatchMetrics": [
                    {**directive, "Metrics": [{"Name": "Degraded", "Unit": "Count"}]}
                ],
            },
            "service": "api",
            "reason": "refund-failed",
            "Degraded": 1,
            "request_id": "r-1",
        },
        {
            "_aws": {
                "Timestamp": NOW_MS,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "ns",
                        "Dimensions": [["service", "outcome"]],
                        "Metrics": [{"Name": "Webhook", "Unit": "Count"}],
                    }
                ],
            },
            "service": "api",
            "outcome": "failed",
            "Webhook": 1,
            "request_id": "r-1",
        },
    ]
    assert flushed(observation) == []  # flushed once: the counts went with it


def test_counting_outside_a_request_keeps_nothing() -> None:
    count(DENIED, DIM_REASON, "quota-exhausted")
    with bind(Observation("r-2", "api")) as observation:
        pass
    assert flushed(observation) == []


def test_a_failing_write_is_dropped() -> None:
    def broken(_: str) -> None:
        raise OSError("stdout closed")

    with bind(Observation("r-3", "api")) as observation:
        count(DENIED, DIM_REASON, "burst-exceeded")
    EmfWriter("ns", write=broken).flush(observation)  # does not raise
    assert observation.counts == {}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()

    @app.get("/sync")
    def in_a_thread() -> dict[str, str]:  # FastAPI runs it in its threadpool
        count(WEBHOOK, DIM_OUTCOME, "from-a-thread")
        return {}

    settings = Settings()
    install(app, settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_count_made_in_a_thread_is_flushed_with_its_request(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await client.get("/sync")
    [document] = read_stdout(capsys).emf
    assert document["outcome"] == "from-a-thread"
    assert document["request_id"] == response.headers["x-request-id"]
