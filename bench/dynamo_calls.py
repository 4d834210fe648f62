"""DynamoDB calls per gated request and per Stripe event, counted at the client (botocore).

The registry runs against moto's DynamoDB server over HTTP; the hot store is the real Upstash
path. Counts, not times: they do not depend on the machine.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from typing import Any

import stripe
from pydantic import SecretStr
from tests.support.moto_server import running_moto_server

from tiergate.clock import FakeClock, SystemClock
from tiergate.config import Settings
from tiergate.gate import Requirement
from tiergate.keys import generate_key, key_digest
from tiergate.outcomes import Admitted
from tiergate.registry import Account, KeyRecord
from tiergate.registry.dynamo import DynamoRegistry, connect
from tiergate.registry.dynamo.table import create_table
from tiergate.store.memory import MemoryStore
from tiergate.wiring import Parts, build

from .report import Finding, Outcome, Table
from .stack import Stack

__all__ = ["measure"]

_SECRET = "whsec_bench"  # noqa: S105 - signs the benchmark's own events, nothing else


def _settings() -> Settings:
    return Settings(
        tiers=json.dumps(
            {
                "free": {"limit": 1_000_000_000, "price": 0, "burst": 1_000_000},
                "pro": {
                    "limit": 1_000_000_000,
                    "price": 9,
                    "burst": 1_000_000,
                    "stripe_price": "p",
                },
            }
        ),
        stripe_secret_key=None,  # a same-second tie would read Stripe: none happens here
        stripe_webhook_secret=SecretStr(_SECRET),
        webhook_tolerance=300,
        event_retention_days=4,  # the least Settings allows
        past_due_grace_days=0,
    )


class _Calls(Counter[str]):
    def __call__(self, event_name: str, **_: Any) -> None:
        self[event_name.rsplit(".", 1)[-1]] += 1

    def describe(self, per: int) -> str:
        if not self:
            return "0"
        return " + ".join(f"{n / per:g} {op}" for op, n in sorted(self.items()))


async def measure(stack: Stack, requests: int, events: int) -> Outcome:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # moto accepts any; boto3 insists on some
    with running_moto_server() as endpoint:
        client = connect("us-east-1", endpoint, 5.0)
        table = f"bench-{uuid.uuid4().hex[:8]}"
        create_table(client, table)
        calls = _Calls()
        client.meta.events.register("before-call.dynamodb.*", calls)
        settings = _settings()
        parts = build(
            settings,
            store=stack.store(f"dyn{uuid.uuid4().hex[:6]}"),
            registry=DynamoRegistry(client, table),
        )
        keys = [await _new_key(parts, f"acct-{i}") for i in range(events)]
        table_out = Table("DynamoDB calls (moto's server over HTTP, counted at the client)")

        calls.clear()
        for key in keys:
            _admitted(await parts.gate.admit(key, Requirement()))
        miss = calls.copy()
        calls.clear()
        for n in range(requests):
            _admitted(await parts.gate.admit(keys[n % len(keys)], Requirement()))
        steady = calls.copy()

        processor = parts.webhook_processor(settings.billing)
        assert processor is not None  # the settings name a webhook secret
        bodies = [_signed_event(f"acct-{i}", n=i) for i in range(events)]
        calls.clear()
        for payload, header in bodies:
            assert await processor.handle(payload, header) == "applied"
        applied = calls.copy()
        calls.clear()
        for payload, header in bodies:
            assert await processor.handle(payload, header) == "duplicate"
        redelivered = calls.copy()
        await parts.aclose()
        hourly, step_ms = await _over_an_hour(settings, DynamoRegistry(client, table), calls,
                                              requests)  # fmt: skip

    table_out.add("per gated request, steady state", steady.describe(requests), "-", "0")
    table_out.add("per hot-state miss (first use of a key)", miss.describe(events), "-", "1 read")
    table_out.add("per new Stripe event", applied.describe(events), "-", "1 transaction")
    table_out.add("per redelivered event", redelivered.describe(events), "-", "no write")
    ttl_s = settings.gate.hot_state_ttl
    table_out.add(
        f"{requests:,} requests of one key spread over an hour (hot TTL {ttl_s} s)",
        " + ".join(f"{n} {op}" for op, n in sorted(hourly.items())) or "0",
        "-",
        f"{3600 // ttl_s} reads",
    )
    table_out.notes += [
        f"{requests:,} requests over {events} keys after their first use; {events} events, each"
        " for an account with one key",
        "an event is one TransactGetItems (was it seen? the account now, at one instant) and one"
        " TransactWriteItems (event id, account, its keys' copies, customer link)",
        "a redelivery also re-reads the account to write it through to Redis again, repairing"
        " a first delivery whose write-through failed",
        f"the hour: the in-process hot store on a fake clock that moves {step_ms} ms per"
        " request, so the hot records' TTL runs out as it would in Redis; the first read (the"
        " key's first use) is counted too",
    ]
    writes_per_event = applied["TransactWriteItems"] / events
    one_read_one_write = set(applied) == {"TransactGetItems", "TransactWriteItems"}
    return Outcome(
        tables=[table_out],
        findings=[
            Finding(
                "DynamoDB calls per gated request", f"{sum(steady.values()) / requests:g}", "-",
                "0", sum(steady.values()) == 0,
            ),
            Finding(
                "DynamoDB transactions per Stripe event", f"{writes_per_event:g}", "-", "1",
                writes_per_event == 1 and one_read_one_write,
            ),
        ],
    )  # fmt: skip


async def _over_an_hour(
    settings: Settings, registry: DynamoRegistry, calls: _Calls, requests: int
) -> tuple[_Calls, int]:
    """One key's requests spaced evenly over an hour: the registry reads its hot TTL costs."""
    clock = FakeClock(SystemClock().now_ms())
    store = MemoryStore(clock, hot_state_ttl_ms=settings.gate.hot_state_ttl * 1000)
    parts = build(settings, clock=clock, store=store, registry=registry)
    key = await _new_key(parts, "acct-hourly")
    step_ms = 3_600_000 // requests
    calls.clear()
    for _ in range(requests):
        _admitted(await parts.gate.admit(key, Requirement()))
        clock.advance(step_ms)
    await parts.aclose()
    return calls.copy(), step_ms


async def _new_key(parts: Parts, account_id: str) -> str:
    key = generate_key("test")
    await parts.registry.put_account(Account(account_id, tier="free"))
    await parts.registry.put_key(KeyRecord(key_digest(key), account_id, parts.clock.now_ms()))
    return key


def _admitted(outcome: object) -> None:
    if not isinstance(outcome, Admitted):
        raise RuntimeError(f"expected an admitted request, got {outcome!r}")


def _signed_event(account_id: str, n: int) -> tuple[bytes, str]:
    now = SystemClock().now_ms() // 1000
    subscription = {
        "id": f"sub_{n}",
        "object": "subscription",
        "customer": f"cus_{n}",
        "status": "active",
        "metadata": {"account_id": account_id},
        "items": {"data": [{"price": {"id": "p"}, "current_period_start": now,
                            "current_period_end": now + 30 * 86_400}]},
    }  # fmt: skip
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.subscription.updated",
        "created": now,
        "data": {"object": subscription},
    }
    payload = json.dumps(event).encode()
    return payload, stripe.WebhookSignature.generate_signature_header(
        payload.decode(), _SECRET, timestamp=now
    )
