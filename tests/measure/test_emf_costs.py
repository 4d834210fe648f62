"""What each gated request cost, as the deployed Lambda handler writes it to CloudWatch Logs:
one EMF document per request, dimensions service, route and tier (never the account or the
key), plus one per third-party API the endpoint declared or recorded."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import pytest
from fastapi import FastAPI

import tiergate
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.observe.counting import write_commands
from tiergate.outcomes import Admitted
from tiergate.web import install, requires
from tiergate.web.example import create_app
from tiergate.web.lambda_handler import lambda_handler
from tiergate.wiring import build

from ..deploy.test_lambda_handler import Context
from ..observe.conftest import NOW_MS, read_stdout
from ..observe.test_lambda_telemetry import Handler, event
from .emf_spec import check_emf

COST_METRICS = {
    "Wall": "Milliseconds",
    "Cpu": "Milliseconds",
    "ResponseBytes": "Bytes",
    "RedisCommands": "Count",
    "DynamoDBReads": "Count",
    "DynamoDBWrites": "Count",
    "StripeCalls": "Count",
}
ROOMY = json.dumps(
    {
        "free": {"limit": 1000, "price": 0, "burst": 100},
        "pro": {"limit": 5000, "price": 29, "burst": 100},
    }
)


def example(
    settings: Settings, clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> tuple[Handler, dict[str, str]]:
    parts = build(settings, clock=clock)
    handler = lambda_handler(create_app(settings, parts=parts))
    return handler, loop.run_until_complete(parts.demo_keys())


def with_calls(
    settings: Settings, clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> tuple[Handler, dict[str, str]]:
    handler, keys, _ = app_with_calls(settings, clock, loop)
    return handler, keys


def app_with_calls(
    settings: Settings, clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> tuple[Handler, dict[str, str], FastAPI]:
    """An app whose route declares a fixed third-party cost and records another as it runs."""
    app = FastAPI()

    @app.get(
        "/v1/geocode/{place}",
        dependencies=[requires("free", cost=2), tiergate.third_party("maps", usd=0.005)],
    )
    async def geocode(place: str, admitted: Annotated[Admitted, requires()]) -> dict[str, str]:
        tiergate.record_call("openai", usd=0.002)
        tiergate.record_call("openai", usd=0.003)
        return {"place": place}

    parts = build(settings, clock=clock)
    install(app, settings, parts=parts)
    return lambda_handler(app), loop.run_until_complete(parts.demo_keys()), app


def call(handler: Handler, path: str, request_id: str, key: str | None) -> dict[str, Any]:
    headers = {"X-API-Key": key} if key else {}
    return handler(event("GET", path, request_id, headers), Context())


def test_an_admitted_request_is_one_emf_document_by_route_and_tier(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, keys = example(Settings(tiers=ROOMY, measure_flush=0), clock, loop)
    call(handler, "/v1/hello", "first", keys["free"])  # the key's first use: its miss
    capsys.readouterr()

    answer = call(handler, "/v1/hello", "Xb1=steady", keys["free"])
    assert answer["statusCode"] == 200
    out = read_stdout(capsys)
    assert out.emf == []  # no event was counted
    [document] = out.costs
    check_emf(document)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "tiergate"
    assert directive["Dimensions"] == [["service", "route", "tier"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == COST_METRICS
    assert (document["service"], document["route"], document["tier"]) == (
        "api",
        "/v1/hello",
        "free",
    )
    assert document["request_id"] == "Xb1=steady"  # a property: leads to the request's logs
    # Never the account nor the key: neither as a dimension nor as a member.
    assert "demo-free" not in json.dumps(document)
    assert keys["free"] not in json.dumps(document)
    # One value per metric (a document per request here): each value is one sample.
    assert document["RedisCommands"] == [1]  # one EVALSHA in the steady state
    assert document["DynamoDBReads"] == document["DynamoDBWrites"] == [0]
    assert document["StripeCalls"] == [0]
    assert document["Wall"][0] > 0
    assert document["Cpu"][0] >= 0
    body = answer["body"].encode()
    headers = sum(len(k) + len(v) + 4 for k, v in answer["headers"].items())
    assert document["ResponseBytes"] == [19 + headers + len(body)]


def test_a_keys_first_request_counts_its_write_through(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, keys = example(Settings(tiers=ROOMY, measure_flush=0), clock, loop)
    capsys.readouterr()
    call(handler, "/v1/pro/hello", "miss", keys["pro"])
    [document] = read_stdout(capsys).costs
    # a miss, the write-through of the key and its account, the decision again
    assert document["RedisCommands"] == [1 + write_commands({"k": None}, ["account"]) + 1] == [7]
    assert (document["route"], document["tier"]) == ("/v1/pro/hello", "pro")


def test_only_admitted_requests_are_measured(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, keys = example(Settings(tiers=ROOMY, measure_flush=0), clock, loop)
    capsys.readouterr()
    # A free key's 403 on a pro route must not put the pro route into the free tier's mix.
    assert call(handler, "/v1/pro/hello", "low", keys["free"])["statusCode"] == 403
    assert call(handler, "/v1/hello", "keyless", None)["statusCode"] == 401
    assert call(handler, "/v1/nowhere", "lost", keys["free"])["statusCode"] == 404
    assert call(handler, "/v1/hello", "served", keys["free"])["statusCode"] == 200
    out = read_stdout(capsys)
    assert [(d["request_id"], d["route"], d["tier"]) for d in out.costs] == [
        ("served", "/v1/hello", "free"),
    ]


def test_a_failing_measurement_never_fails_the_request(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, keys, app = app_with_calls(Settings(tiers=ROOMY, measure_flush=0), clock, loop)

    class Broken:
        def add(self, measured: object) -> None:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    app.state.tiergate_costs.sinks.append(Broken())
    for n in range(2):
        assert call(handler, "/v1/geocode/x", f"b{n}", keys["free"])["statusCode"] == 200
    failures = [r for r in caplog.records if "measurement is dropped" in r.getMessage()]
    assert len(failures) == 1  # logged once, not once a request


def test_third_party_calls_declared_and_recorded_are_documents_by_api(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, keys = with_calls(Settings(tiers=ROOMY, measure_flush=0), clock, loop)
    capsys.readouterr()
    assert call(handler, "/v1/geocode/paris", "geo", keys["pro"])["statusCode"] == 200
    out = read_stdout(capsys)
    for document in out.costs:
        check_emf(document)
    request, *calls = out.costs
    assert request["route"] == "/v1/geocode/{place}"  # the template, never the concrete path
    by_api = {d["api"]: d for d in calls}
    assert set(by_api) == {"maps", "openai"}
    for api, n, usd in (("maps", 1, 0.005), ("openai", 2, 0.005)):
        document = by_api[api]
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["service", "route", "tier", "api"]]
        assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
            "ThirdPartyCalls": "Count",
            "ThirdPartyUsd": "None",
        }
        assert (document["route"], document["tier"]) == ("/v1/geocode/{place}", "pro")
        assert document["ThirdPartyCalls"] == [n]
        assert document["ThirdPartyUsd"] == [pytest.approx(usd)]
        assert document["request_id"] == "geo"


def test_a_denied_request_records_no_cost_not_even_a_third_party_call(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, _ = with_calls(Settings(tiers=ROOMY, measure_flush=0), clock, loop)
    capsys.readouterr()
    assert call(handler, "/v1/geocode/paris", "nokey", None)["statusCode"] == 401
    assert read_stdout(capsys).costs == []


def test_measuring_off_writes_no_cost_documents(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    handler, keys = example(Settings(tiers=ROOMY, measure=False, measure_flush=0), clock, loop)
    capsys.readouterr()
    assert call(handler, "/v1/hello", "off", keys["free"])["statusCode"] == 200
    assert read_stdout(capsys).costs == []


@pytest.mark.parametrize(
    ("api", "usd", "calls"),
    [("", 0.1, 1), ("x" * 65, 0.1, 1), ("a", -1.0, 1), ("a", float("nan"), 1), ("a", 1.0, -1)],
)
def test_a_bad_declaration_is_refused_where_it_is_made(api: str, usd: float, calls: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        tiergate.third_party(api, usd=usd, calls=calls)
    with pytest.raises(ValueError, match="must be"):
        tiergate.record_call(api, usd=usd, calls=calls)


def test_by_default_requests_are_batched_into_a_document_of_up_to_100_values(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    settings = Settings(tiers=ROOMY)  # measure_flush: 10 s
    parts = build(settings, clock=clock)
    app = create_app(settings, parts=parts)
    handler = lambda_handler(app)
    key = loop.run_until_complete(parts.demo_keys())["free"]
    capsys.readouterr()
    for n in range(99):
        call(handler, "/v1/hello", f"r{n}", key)
    assert read_stdout(capsys).costs == []  # pending: written with a later request
    call(handler, "/v1/hello", "r99", key)
    [document] = read_stdout(capsys).costs
    check_emf(document)
    assert len(document["Wall"]) == len(document["RedisCommands"]) == 100
    assert document["RedisCommands"] == [7] + [1] * 99  # the key's first use, then hot
    assert "request_id" not in document  # a hundred requests have no one id

    clock.advance(60_000)  # the burst refilled: admitted, so measured
    assert call(handler, "/v1/usage", "u", key)["statusCode"] == 200
    pending = app.state.tiergate_costs.drain(NOW_MS)  # what exit writes
    [usage] = [json.loads(line) for line in pending.splitlines()]
    check_emf(usage)
    assert (usage["route"], usage["RedisCommands"]) == ("/v1/usage", [1])
