"""From requests to the receiver, through the real stores: 50 concurrent requests through the
app on Upstash (the local REST server over redis-server) and DynamoDB Local (the registry,
and the delivery ledger in its table) cross 80 % of the quota, the gate records the crossing
once, and one delivery run POSTs exactly one 80 % alert, signed."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from pydantic import SecretStr
from standardwebhooks import Webhook

from tiergate import Settings
from tiergate.alerts import alert_job
from tiergate.alerts.contacts import set_alert_contacts
from tiergate.registry.dynamo import connect
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.background import UpstashEndpoint

from .support import receiving

TIERS = json.dumps(
    {
        "free": {"limit": 60, "price": 0, "burst": 1000},  # 80 %: the 48th unit
        "pro": {"limit": 1000, "price": 9, "burst": 1000},
    }
)


async def test_fifty_concurrent_requests_cross_80_percent_and_one_alert_arrives(
    upstash: UpstashEndpoint, dynamodb_endpoint: str, dynamodb_table: str
) -> None:
    settings = Settings(
        tiers=TIERS,
        table=dynamodb_table,
        aws_endpoint_url_dynamodb=dynamodb_endpoint,
        dynamodb_timeout=10,
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=SecretStr(upstash.token),
        redis_namespace=f"alerts{uuid.uuid4().hex[:8]}",
        redis_timeout=5,
        redis_retry_budget=10,
    )
    parts = build(settings)
    job = alert_job(
        settings.alerts,
        settings.gate,
        queue=parts.alert_queue,
        contacts=parts.alert_contacts,
        clock=parts.clock,
    )
    app = create_app(settings, parts=parts)
    try:
        key = (await parts.admin().create_key("acme", "free")).key
        with receiving() as receiver:
            done = await set_alert_contacts(
                parts.registry, parts.alert_contacts, "acme", url=receiver.url, allow_loopback=True
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                answers = await asyncio.gather(
                    *(client.get("/v1/hello", headers={"X-API-Key": key}) for _ in range(50))
                )
            assert [a.status_code for a in answers] == [200] * 50

            [pending] = await parts.alert_queue.alerts()
            assert (pending.account_id, pending.label) == ("acme", "80")

            first = await job.run()
            second = await job.run()  # nothing left: nothing sent again
    finally:
        await job.aclose()
        await parts.aclose()

    assert (first.delivered, second.pending) == (1, 0)
    [got] = receiver.received
    assert got.headers["webhook-id"] == pending.id
    assert done.new_secret is not None
    alert = Webhook(done.new_secret).verify(got.body, got.headers)
    assert alert["data"]["threshold"] == "80"
    assert alert["data"]["account"] == "acme"
    assert alert["data"]["limit"] == 60
    assert 48 <= alert["data"]["used"] <= 50
    ledger = connect("us-east-1", dynamodb_endpoint, 5.0).get_item(
        TableName=dynamodb_table, Key={"pk": {"S": f"ALRT#{pending.id}#webhook"}}
    )
    assert ledger["Item"]["st"] == {"N": "1"}  # settled in the table's ledger
