"""From requests to Stripe's meter: requests past the limit of an overage tier, through the
app and the real hot stores (in-process, and Redis behind the local Upstash server) and both
registries, become meter events at the Stripe stand-in, each unit once, and the ended period
is then forgotten."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from botocore.client import BaseClient

from tiergate.alerts.contacts_store import AlertContacts
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.gate import Requirement
from tiergate.keys import generate_key, key_digest
from tiergate.observe import EmfWriter
from tiergate.outcomes import Admitted
from tiergate.periods import calendar_month
from tiergate.registry import Account, KeyRecord
from tiergate.schedule import JobRunner, scheduled_jobs
from tiergate.telemetry import SERVICE_SCHEDULED
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.fakestripe import FakeStripe
from .conftest import billing_settings

ROOT = Path(__file__).resolve().parents[2]

TIERS = json.dumps(
    {
        "free": {"limit": 100, "price": 0, "burst": 1000},
        "pro": {
            "limit": 5, "price": 29, "burst": 1000, "stripe_price": "price_pro",
            "overage": {"meter": "api_overage", "unit_price": 0.01, "cap": 3},
        },
    }
)  # fmt: skip


@pytest.fixture(params=["memory", "upstash"])
def settings(
    request: pytest.FixtureRequest, stripe_url: str, registry_settings: dict[str, object]
) -> Settings:
    stores: dict[str, object] = dict(registry_settings)  # in-process, or DynamoDB Local
    if request.param == "upstash":
        endpoint: UpstashEndpoint = request.getfixturevalue("upstash")
        stores |= {
            "upstash_redis_rest_url": endpoint.url,
            "upstash_redis_rest_token": endpoint.token,
            "redis_namespace": f"m{uuid.uuid4().hex[:10]}",
            "redis_timeout": 5.0,
        }
    return billing_settings(stripe_url, tiers=TIERS, **stores)


@pytest.fixture
async def parts(settings: Settings, clock: FakeClock) -> AsyncIterator[Parts]:
    parts = build(settings, clock=clock)
    yield parts
    await parts.aclose()


async def test_requests_past_the_limit_reach_the_meter_once(
    settings: Settings, parts: Parts, clock: FakeClock, fake_stripe: FakeStripe
) -> None:
    await parts.registry.put_account(Account("acme", tier="pro", customer_id="cus_acme"))
    key = generate_key("test")
    await parts.registry.put_key(KeyRecord(key_digest(key), "acme", clock.now_ms()))
    app = create_app(settings, parts=parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiergate.test") as client:
        answers = [
            (await client.get("/v1/hello", headers={"X-API-Key": key})).status_code
            for _ in range(10)
        ]
    assert answers == [200] * 8 + [429] * 2  # 5 in the quota, 3 of overage, then the cap
    pusher = parts.meter_pusher(settings.meter)
    assert pusher is not None

    report = await pusher.push()
    assert report.ok
    [event] = fake_stripe.meter_events
    assert (event["event_name"], event["payload"]) == (
        "api_overage", {"stripe_customer_id": "cus_acme", "value": "3"}
    )  # fmt: skip
    start, end = calendar_month(clock.now_ms())
    assert start // 1000 <= event["timestamp"] < end // 1000
    assert (await pusher.push()).sent == []  # nothing new: nothing sent again

    clock.set(end + 5 * 60_000)  # the month is over, and every unit of it sent
    finished = await pusher.push()
    assert (finished.ok, finished.forgotten, finished.sent) == (True, 1, [])
    assert await parts.meter_index.metered() == []
    assert fake_stripe.metered() == 3


async def test_the_scheduled_run_pushes_the_meter(
    settings: Settings, parts: Parts, clock: FakeClock, fake_stripe: FakeStripe
) -> None:
    await parts.registry.put_account(Account("acme", tier="pro", customer_id="cus_acme"))
    key = generate_key("test")
    await parts.registry.put_key(KeyRecord(key_digest(key), "acme", clock.now_ms()))
    for _ in range(7):  # 2 units of overage
        assert isinstance(await parts.gate.admit(key, Requirement()), Admitted)
    jobs = scheduled_jobs(parts, settings)
    assert [job.name for job in jobs] == ["meter-push", "alerts"]
    lines: list[str] = []
    runner = JobRunner(
        jobs,
        timeout_s=30,
        service=SERVICE_SCHEDULED,
        writer=EmfWriter("tiergate", write=lines.append),
    )
    run = await runner.run(run_id="run-1")
    [meter] = [job for job in run.jobs if job.name == "meter-push"]
    assert meter.ok
    assert meter.lines[0].startswith("sent 2 api_overage to cus_acme for acme")
    assert fake_stripe.metered("cus_acme") == 2
    docs = [json.loads(line) for line in "".join(lines).splitlines()]
    assert {
        (d["outcome"], d.get("MeterPush"), d.get("MeterUnits")) for d in docs if "MeterPush" in d
    } == {("sent", 1, 2)}


async def test_a_scheduled_run_on_dynamodb_makes_only_calls_its_role_allows(
    settings: Settings, parts: Parts, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every DynamoDB operation a scheduled run makes (the meter push and the alert delivery,
    with overage and an alert to deliver) is one serverless.yml's ScheduledRole allows."""
    await parts.registry.put_account(Account("acme", tier="pro", customer_id="cus_acme"))
    await parts.alert_contacts.update("acme", lambda _: AlertContacts(email="ops@acme.test"))
    key = generate_key("test")
    await parts.registry.put_key(KeyRecord(key_digest(key), "acme", clock.now_ms()))
    for _ in range(8):  # past 80 % and 100 % of the limit, into overage up to the cap
        assert isinstance(await parts.gate.admit(key, Requirement()), Admitted)
    called: set[str] = set()
    make_call = getattr(BaseClient, "_make_api_call")  # noqa: B009 - untyped in the stubs

    def recording(client: BaseClient, operation: str, params: dict[str, object]) -> object:
        if client.meta.service_model.service_name == "dynamodb":
            called.add(operation)
        return make_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    runner = JobRunner(
        scheduled_jobs(parts, settings),
        timeout_s=30,
        service=SERVICE_SCHEDULED,
        writer=EmfWriter("tiergate", write=lambda _: None),
    )
    run = await runner.run(run_id="run-1")
    assert run.ok, run
    if settings.gate.table is None:
        assert called == set()  # the in-process registry: nothing to allow
        return
    template = yaml.safe_load((ROOT / "serverless.yml").read_text())
    statements = template["resources"]["Resources"]["ScheduledRole"]["Properties"]["Policies"][0]
    allowed = {
        action.removeprefix("dynamodb:")
        for statement in statements["PolicyDocument"]["Statement"]
        for action in statement["Action"]
        if action.startswith("dynamodb:")
    }
    assert {"BatchGetItem", "UpdateItem"} <= called
    assert called <= allowed


async def test_without_a_stripe_key_there_is_no_meter_job(
    settings: Settings, clock: FakeClock
) -> None:
    unkeyed = settings.replace(stripe_secret_key=None)
    parts = build(unkeyed, clock=clock)
    try:
        assert [job.name for job in scheduled_jobs(parts, unkeyed)] == ["alerts"]
    finally:
        await parts.aclose()
