"""The aggregates `tiergate costs` reads: what `tiergate serve` recorded, what CloudWatch made
of the EMF lines (moto's CloudWatch, fed the lines as CloudWatch Logs would), and a profile
run; the first two agree for the same requests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.errors import ConfigError
from tiergate.observe import Observation
from tiergate.observe.costmeter import CostMeter, Measured
from tiergate.observe.measurements import RouteMeasurements
from tiergate.observe.recording import FileRecorder, read_recorded, recorded_path
from tiergate.observe.resources import Spent
from tiergate.observe.totals import FIELDS, Totals
from tiergate.schedule import Report
from tiergate.telemetry import COST_REQUESTS
from tiergate_tools.costs.cloudwatch import cloudwatch_measurements, period_for
from tiergate_tools.costs.sources import measurements

from ..observe.conftest import read_stdout
from .test_emf_costs import ROOMY, app_with_calls, call


@pytest.fixture
def cloudwatch(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def ingest(client: Any, documents: list[dict[str, Any]]) -> None:
    """What CloudWatch Logs does with EMF documents: a data point per metric per dimension
    set, with the document's dimension values, unit and timestamp."""
    data = []
    for doc in documents:
        at = datetime.fromtimestamp(doc["_aws"]["Timestamp"] / 1000, UTC)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = [{"Name": name, "Value": doc[name]} for name in dimension_set]
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    values = value if isinstance(value, list) else [value]  # each a sample
                    data.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dims,
                            "Values": [float(v) for v in values],
                            "Counts": [1.0] * len(values),
                            "Unit": metric.get("Unit", "None"),
                            "Timestamp": at,
                        }
                    )
    for first in range(0, len(data), 500):
        client.put_metric_data(Namespace="tiergate", MetricData=data[first : first + 500])


def same(a: list[RouteMeasurements], b: list[RouteMeasurements]) -> None:
    assert [(m.route, m.tier, m.requests) for m in a] == [(m.route, m.tier, m.requests) for m in b]
    for x, y in zip(a, b, strict=True):
        for name in ("wall_ms", "cpu_ms", "response_bytes", "redis_commands", "dynamodb_reads",
                     "dynamodb_writes", "stripe_calls"):  # fmt: skip
            assert getattr(x, name) == pytest.approx(getattr(y, name), rel=1e-9), name
        assert set(x.third_party) == set(y.third_party)
        for api, calls in x.third_party.items():
            assert calls.calls == pytest.approx(y.third_party[api].calls)
            assert calls.usd == pytest.approx(y.third_party[api].usd)


def test_the_recording_and_cloudwatch_give_the_same_measurements(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    cloudwatch: Any,
) -> None:
    settings = Settings(tiers=ROOMY, record_costs=True, state_dir=str(tmp_path))
    started_ms = time.time_ns() // 1_000_000
    handler, keys, app = app_with_calls(settings, clock, loop)
    for tier in ("free", "pro"):  # each key's first use: its write-through counts too
        call(handler, "/v1/usage", f"warm-{tier}", keys[tier])
    for n in range(5):
        call(handler, "/v1/geocode/paris", f"p{n}", keys["pro"])
    for n in range(3):
        call(handler, "/v1/geocode/rome", f"f{n}", keys["free"])
    call(handler, "/v1/geocode/oslo", "nokey", None)
    meter = app.state.tiergate_costs
    [recorder] = meter.sinks
    assert isinstance(recorder, FileRecorder)
    recorder.flush()
    print(meter.drain(time.time_ns() // 1_000_000), end="")  # the batch still pending
    documents = read_stdout(capsys).costs
    assert len(documents) < 11  # batched: a document per route and tier (and API)

    recorded = loop.run_until_complete(measurements(settings, since_ms=None, profile=False))
    ingest(cloudwatch, documents)
    from_cloudwatch = loop.run_until_complete(
        measurements(settings, since_ms=started_ms - 60_000, profile=False, cloudwatch=cloudwatch)
    )
    same(recorded, from_cloudwatch)
    by = {(m.route, m.tier): m for m in recorded}
    assert set(by) == {
        ("/v1/geocode/{place}", "free"),
        ("/v1/geocode/{place}", "pro"),
        ("/v1/usage", "free"),
        ("/v1/usage", "pro"),
    }
    pro = by[("/v1/geocode/{place}", "pro")]
    assert pro.requests == 5
    assert pro.redis_commands == 1
    assert pro.third_party["maps"].calls == 1
    assert pro.third_party["maps"].usd == pytest.approx(0.005)
    assert pro.third_party["openai"].calls == 2
    assert pro.third_party["openai"].usd == pytest.approx(0.005)
    assert by[("/v1/usage", "free")].redis_commands == 7  # its one request was the miss
    assert by[("/v1/geocode/{place}", "free")].redis_commands == 1, by


def test_the_recording_adds_up_across_flushes_and_reads_since_an_hour(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
) -> None:
    settings = Settings(tiers=ROOMY, record_costs=True, state_dir=str(tmp_path))
    handler, keys, app = app_with_calls(settings, clock, loop)
    [recorder] = app.state.tiergate_costs.sinks
    for n in range(4):
        call(handler, "/v1/usage", f"u{n}", keys["free"])
        recorder.flush()  # a flush merges into what the file holds
    [usage] = read_recorded(recorded_path(settings.observe)).measurements()
    assert usage.requests == 4
    later = time.time_ns() // 1_000_000 + 2 * 3_600_000
    assert read_recorded(recorded_path(settings.observe)).measurements(since_ms=later) == []


def test_nothing_recorded_is_an_empty_list_and_a_damaged_file_a_clear_error(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    settings = Settings(state_dir=str(tmp_path))
    assert loop.run_until_complete(measurements(settings, since_ms=None, profile=False)) == []
    recorded_path(settings.observe).write_text(json.dumps({"version": 9}))
    with pytest.raises(ConfigError, match="not a measurements file"):
        loop.run_until_complete(measurements(settings, since_ms=None, profile=False))


def test_a_profile_measures_every_gated_route_for_every_tier_allowed_on_it(
    loop: asyncio.AbstractEventLoop, capsys: pytest.CaptureFixture[str]
) -> None:
    # Production settings: the profile still runs on the in-process stores, calls nothing.
    settings = Settings(
        env="production",
        upstash_redis_rest_url="http://127.0.0.1:9",
        upstash_redis_rest_token=SecretStr("t"),
        table="nowhere",
    )
    found = loop.run_until_complete(measurements(settings, since_ms=None, profile=True))
    assert capsys.readouterr().out == ""  # its EMF lines are material, not output
    routes = {(m.route, m.tier) for m in found}
    assert routes == {
        (route, tier)
        for route, tiers in (
            ("/v1/hello", ("free", "pro", "enterprise")),
            ("/v1/usage", ("free", "pro", "enterprise")),
            ("/v1/pro/hello", ("pro", "enterprise")),
        )
        for tier in tiers
    }
    for m in found:
        assert m.requests == 25
        assert m.redis_commands == 1  # steady state: the warm-up took each key's miss
        assert m.wall_ms > 0
        assert m.response_bytes > 0
        # The request's own CPU only, on its own thread, within its wall time: not the
        # in-process client's between requests, which the back-to-back rule would charge to
        # the server, nor another thread's of this process. (Both means are of values
        # rounded to the microsecond, so they may differ by float rounding alone.)
        assert 0 <= m.cpu_ms <= m.wall_ms * (1 + 1e-9), m


@pytest.mark.parametrize(
    ("span_ms", "period"),
    [(1, 60), (3_600_000, 3_600), (7 * 86_400_000, 7 * 86_400), (30 * 86_400_000, 30 * 86_400),
     (90 * 86_400_000 + 1, 90 * 86_400 + 3_600)],
)  # fmt: skip
def test_the_period_covers_the_range_in_a_resolution_cloudwatch_keeps(
    span_ms: int, period: int
) -> None:
    assert period_for(0, span_ms) == period


ROW: dict[str, Any] = {"route": "/a", "tier": "x", "requests": 1, "third_party": {}}
ROW |= dict.fromkeys(FIELDS, 0)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe{}",
        b"[" * 100_000,
        json.dumps({"version": 1, "hours": [{**ROW, "hour": float("inf")}]}).encode(),
        json.dumps({"version": 1, "hours": [{**ROW, "hour": 1e400}]}).encode(),
    ],
)
def test_a_damaged_recording_is_a_config_error(
    content: bytes, tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    settings = Settings(state_dir=str(tmp_path))
    recorded_path(settings.observe).write_bytes(content)
    with pytest.raises(ConfigError, match="not a measurements file tiergate wrote"):
        loop.run_until_complete(measurements(settings, since_ms=None, profile=False))


def measured(route: str = "/v1/hello", tier: str = "free") -> Measured:
    return Measured(route, tier, 1.0, 0.5, 100, Spent())


async def first(run: Awaitable[Report]) -> Report:
    return await run


def test_the_recording_is_written_by_its_scheduled_job_never_in_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tiergate.observe.recording as recording
    from tiergate.schedule import scheduled_jobs
    from tiergate.wiring import build

    read_in: list[threading.Thread] = []
    real = recording.read_recorded

    def reading(path: Path) -> Any:
        read_in.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(recording, "read_recorded", reading)
    settings = Settings(tiers=ROOMY, record_costs=True, state_dir=str(tmp_path))
    recorder = FileRecorder.at(settings.observe)
    assert FileRecorder.at(settings.observe) is recorder  # the meter's and the job's: one recorder
    for _ in range(3):
        recorder.add(measured())
    assert read_in == []  # a request only adds to memory
    parts = build(settings)
    [job] = [job for job in scheduled_jobs(parts, settings) if job.name == "recording"]
    report = asyncio.run(first(job.run()))
    assert (report.ok, list(report.lines)) == (True, [])
    assert read_in
    assert read_in[0] is not threading.current_thread()  # off the event loop
    [hello] = read_recorded(recorded_path(settings.observe)).measurements()
    assert hello.requests == 3
    off = Settings(tiers=ROOMY, state_dir=str(tmp_path))  # TIERGATE_RECORD_COSTS off: no job
    assert "recording" not in [job.name for job in scheduled_jobs(build(off), off)]


def test_the_recording_keeps_35_days(tmp_path: Path) -> None:
    day = 86_400_000
    now_ms = 400 * day
    path = tmp_path / "m.json"
    old = FileRecorder(path, clock_ms=lambda: now_ms - 36 * day)
    old.add(measured("/v1/old"))
    old.add(measured("/v1/kept"))
    old.flush()
    kept = FileRecorder(path, clock_ms=lambda: now_ms - 34 * day)
    kept.add(measured("/v1/kept"))
    kept.flush()
    recorder = FileRecorder(path, clock_ms=lambda: now_ms)
    recorder.add(measured("/v1/now"))
    recorder.flush()
    found = {(m.route, m.requests) for m in read_recorded(path).measurements()}
    assert found == {("/v1/kept", 1), ("/v1/now", 1)}  # the hours 36 days old are gone


@pytest.mark.parametrize("content", [b"\xff\xfe{}", b"[" * 100_000])
def test_a_damaged_recording_never_fails_a_flush_and_keeps_what_was_collected(
    content: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    recorder = FileRecorder(path)
    recorder.add(measured())
    recorder.flush()  # the exit's flush: no exception
    recorder.add(measured())
    recorder.flush()
    assert len([r for r in caplog.records if "cannot record" in r.getMessage()]) == 1
    path.unlink()  # moved away: what was collected is written at the next flush
    recorder.flush()
    [hello] = read_recorded(path).measurements()
    assert hello.requests == 2


class _Collected:
    """A sink adding up what the meter hands it, as the local recording does."""

    def __init__(self, at_ms: int) -> None:
        self.totals = Totals()
        self._at_ms = at_ms

    def add(self, measured: Measured) -> None:
        self.totals.add(measured, self._at_ms)


def test_measured_1_in_n_the_counts_are_the_requests_served_and_the_means_the_measured(
    loop: asyncio.AbstractEventLoop, cloudwatch: Any
) -> None:
    """8 requests, 1 in 4 measured (the 1st and the 6th, by these draws): both sources count
    8 served, and average over the 2 measured. Measured before sampling, a request is one."""
    now_ms = time.time_ns() // 1_000_000
    draws = iter([0.1, 0.5, 0.9, 0.3, 0.6, 0.2, 0.8, 0.7, 0.9])  # the last: for a 9th
    sink = _Collected(now_ms)
    sampled = CostMeter("tiergate", "api", sinks=[sink], sample=4, chance=lambda: next(draws))
    lines = []
    for i in range(8):
        observation = Observation(f"r{i}", "api")
        sampled.start(observation)
        lines.append(sampled.finish(observation, "/v1/x", "pro", 100 + i, now_ms))
    lines.append(sampled.drain(now_ms))
    everything = CostMeter("tiergate", "api", sinks=[sink])  # before sampling was turned on
    observation = Observation("before", "api")
    everything.start(observation)
    everything.finish(observation, "/v1/x", "pro", 300, now_ms)
    lines.append(everything.drain(now_ms))
    documents = [json.loads(line) for text in lines for line in text.splitlines()]
    assert [doc.get(COST_REQUESTS) for doc in documents] == [[4, 4], None]
    ingest(cloudwatch, documents)
    [from_cloudwatch] = loop.run_until_complete(
        cloudwatch_measurements(
            cloudwatch, namespace="tiergate", service="api",
            start_ms=now_ms - 60_000, end_ms=now_ms + 60_000,
        )
    )  # fmt: skip
    [recorded] = sink.totals.measurements()
    same([recorded], [from_cloudwatch])
    assert recorded.requests == 2 * 4 + 1  # served
    assert recorded.response_bytes == pytest.approx((100 + 105 + 300) / 3)  # over the measured
