"""CPU per request: exact when requests come one at a time, shared out evenly among the
requests in flight when they overlap, and never more or less than the process spent."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI

from tiergate.config import Settings
from tiergate.observe.cpu import CpuShares
from tiergate.outcomes import Admitted
from tiergate.web import install, requires
from tiergate.wiring import build

from ..observe.conftest import read_stdout
from .test_emf_costs import ROOMY


class CpuClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_request_at_a_time_gets_exactly_the_cpu_spent_meanwhile() -> None:
    cpu, wall = CpuClock(), CpuClock()
    shares = CpuShares(cpu, wall=wall)
    cpu.now, wall.now = 3.0, 10.0  # before any request, long ago: nobody's
    token = shares.start()
    cpu.now = 3.25
    assert shares.end(token) == pytest.approx(0.25)
    cpu.now, wall.now = 9.0, 20.0  # idle for seconds: the gap is nobody's either
    token = shares.start()
    cpu.now = 9.5
    assert shares.end(token) == pytest.approx(0.5)


def test_a_request_back_to_back_with_the_last_is_charged_the_gap_too() -> None:
    cpu, wall = CpuClock(), CpuClock()
    shares = CpuShares(cpu, wall=wall)
    wall.now = 10.0
    token = shares.start()
    cpu.now = 1.0
    assert shares.end(token) == pytest.approx(1.0)
    cpu.now, wall.now = 1.01, 10.02  # 20 ms later: the server reading the next request
    token = shares.start()
    cpu.now = 1.5
    assert shares.end(token) == pytest.approx(0.5)  # its 0.49 and the gap's 0.01


def test_overlapping_requests_share_the_cpu_of_their_overlap_evenly() -> None:
    cpu, wall = CpuClock(), CpuClock()
    shares = CpuShares(cpu, wall=wall)
    a = shares.start()  # t=0
    cpu.now = 2.0  # a alone: 2
    b = shares.start()
    cpu.now = 6.0  # both: 4, 2 each
    a_cpu = shares.end(a)
    cpu.now = 7.0  # b alone: 1
    b_cpu = shares.end(b)
    assert a_cpu == pytest.approx(4.0)
    assert b_cpu == pytest.approx(3.0)
    assert a_cpu + b_cpu == pytest.approx(7.0)  # all the process spent, once


def test_a_requests_cpu_through_the_app_is_what_its_endpoint_burnt(
    loop: asyncio.AbstractEventLoop, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FastAPI()
    burnt: list[float] = []

    @app.get("/v1/burn")
    async def burn(admitted: Annotated[Admitted, requires()]) -> dict[str, str]:
        began = time.process_time()
        while time.process_time() - began < 0.02:
            pass
        burnt.append(time.process_time() - began)
        return {"ok": "yes"}

    settings = Settings(tiers=ROOMY, measure_flush=0)
    parts = build(settings)
    install(app, settings, parts=parts)
    # The process's clock also counts the threads the test session runs (the local Upstash
    # server, DynamoDB's): this thread's clock is the same arithmetic without them.
    app.state.tiergate_costs._shares = CpuShares(time.thread_time)
    key = loop.run_until_complete(parts.demo_keys())["free"]

    async def calls() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cpu") as client:
            for _ in range(4):
                await client.get("/v1/burn", headers={"X-API-Key": key})

    loop.run_until_complete(calls())
    documents = read_stdout(capsys).costs[1:]  # past the key's first use
    assert len(documents) == 3
    for document, spent in zip(documents, burnt[1:], strict=True):
        # The endpoint's burn plus the gate's and the framework's own (well under 5 ms).
        # Back to back, each is charged from the previous one's end: the endpoint's burn,
        # the gate's and the framework's own, and the client taking the last answer in.
        [cpu] = document["Cpu"]
        assert spent * 1000 <= cpu < spent * 1000 + 5
