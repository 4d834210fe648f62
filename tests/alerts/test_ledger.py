"""The delivery ledger's contract, on every claim/settle ledger backend (tests/contract/
ledgers.py: in process, DynamoDB on moto, and the real DynamoDB Local, its conditional writes
and ALL_OLD answers as AWS gives them)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tiergate.alerts import DeliveryLedger
from tiergate.alerts.ledger import LEASE_RULES, LeaseLedger
from tiergate.alerts.ledger_dynamo import LEASE_CODEC

from ..contract.ledgers import ALL_LEDGERS, Opener

# Now: DynamoDB Local honours TTL, and an item whose TTL (a week past T) is already past the
# wall clock would be gone.
T = time.time_ns() // 1_000_000


@pytest.fixture(params=ALL_LEDGERS)
def ledger(request: pytest.FixtureRequest) -> Iterator[DeliveryLedger]:
    opener: Opener = request.param
    with opener(request, LEASE_RULES, LEASE_CODEC) as leases:
        yield LeaseLedger(leases)


async def test_one_run_holds_a_channel_until_its_lease_runs_out(ledger: DeliveryLedger) -> None:
    assert await ledger.claim("alert_1", "webhook", now_ms=T, until_ms=T + 100) == "claimed"
    assert await ledger.claim("alert_1", "webhook", now_ms=T + 99, until_ms=T + 200) == "busy"
    # the other channel, and another crossing, are claimed on their own
    assert await ledger.claim("alert_1", "email", now_ms=T, until_ms=T + 100) == "claimed"
    assert await ledger.claim("alert_2", "webhook", now_ms=T, until_ms=T + 100) == "claimed"
    # a run that crashed holding it: its lease runs out and a later run takes it
    assert await ledger.claim("alert_1", "webhook", now_ms=T + 100, until_ms=T + 300) == "claimed"


async def test_a_settled_channel_is_never_claimed_again(ledger: DeliveryLedger) -> None:
    assert await ledger.claim("alert_1", "email", now_ms=T, until_ms=T + 100) == "claimed"
    await ledger.settle("alert_1", "email", now_ms=T + 10)
    assert await ledger.claim("alert_1", "email", now_ms=T + 20, until_ms=T + 200) == "settled"
    assert await ledger.claim("alert_1", "email", now_ms=T + 10**9, until_ms=T + 10**10) == (
        "settled"
    )


async def test_release_frees_only_the_lease_it_took(ledger: DeliveryLedger) -> None:
    assert await ledger.claim("alert_1", "webhook", now_ms=T, until_ms=T + 100) == "claimed"
    await ledger.release("alert_1", "webhook", until_ms=T + 100)
    assert await ledger.claim("alert_1", "webhook", now_ms=T + 1, until_ms=T + 500) == "claimed"
    # a run whose lease had run out releasing late does not free the newer run's lease
    await ledger.release("alert_1", "webhook", until_ms=T + 100)
    assert await ledger.claim("alert_1", "webhook", now_ms=T + 2, until_ms=T + 600) == "busy"
    await ledger.release("alert_2", "webhook", until_ms=T)  # nothing to release: no error
