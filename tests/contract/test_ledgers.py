"""The claim/settle ledger primitive's contract, on every backend of ALL_LEDGERS and under
both rule books that use it (the alert ledger's leases, the meter outbox's batches): a change
commits only if its rule holds over what is stored, answers the record now when it does and
the record as stored when it does not, and reads find what was committed and nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tiergate.alerts.ledger import LEASE_RULES, Lease, Release, Settle, Take
from tiergate.alerts.ledger_dynamo import LEASE_CODEC
from tiergate.ledger import Ledger
from tiergate.meter.outbox import (
    OUTBOX_RULES,
    Batch,
    Claim,
    Decided,
    MeterKey,
    MeterRecord,
    meter_pk,
)
from tiergate.meter.outbox import Settle as SettleBatch
from tiergate.meter.outbox_dynamo import OUTBOX_CODEC

from .ledgers import ALL_LEDGERS, Opener

T = time.time_ns() // 1_000_000  # DynamoDB Local honours TTL: keep the items' TTL ahead
WEEK_S = 7 * 86_400


@pytest.fixture(params=ALL_LEDGERS)
def leases(request: pytest.FixtureRequest) -> Iterator[Ledger[Lease, Any]]:
    opener: Opener = request.param
    with opener(request, LEASE_RULES, LEASE_CODEC) as ledger:
        yield ledger


@pytest.fixture(params=ALL_LEDGERS)
def outbox(request: pytest.FixtureRequest) -> Iterator[Ledger[MeterRecord, Decided]]:
    opener: Opener = request.param
    with opener(request, OUTBOX_RULES, OUTBOX_CODEC) as ledger:
        yield ledger


async def test_a_change_that_holds_commits_and_answers_the_record_now(
    leases: Ledger[Lease, Any],
) -> None:
    assert await leases.read("ALRT#a#email") is None
    done, record = await leases.change("ALRT#a#email", Take(T, T + 100))
    expires = (T // 1000 + WEEK_S) * 1000
    assert (done, record) == (True, Lease(T + 100, False, expires))
    assert await leases.read("ALRT#a#email") == Lease(T + 100, False, expires)


async def test_a_change_that_does_not_hold_answers_the_record_as_stored(
    leases: Ledger[Lease, Any],
) -> None:
    await leases.change("ALRT#a#email", Take(T, T + 100))
    done, stored = await leases.change("ALRT#a#email", Take(T + 50, T + 200))
    assert done is False
    assert stored is not None
    assert stored.until_ms == T + 100
    # none stored: the refusal says so
    assert await leases.change("ALRT#b#email", Release(T)) == (False, None)
    assert await leases.read("ALRT#b#email") is None


async def test_the_first_write_keeps_its_expiry_and_a_settled_record_stays_settled(
    leases: Ledger[Lease, Any],
) -> None:
    await leases.change("ALRT#a#email", Take(T, T + 100))
    done, record = await leases.change("ALRT#a#email", Settle(T + 10**6))
    assert done
    assert record == Lease(0, True, (T // 1000 + WEEK_S) * 1000)
    assert (await leases.change("ALRT#a#email", Take(T + 10**9, T + 10**10)))[0] is False


async def test_read_many_finds_the_records_that_exist_once_each(
    leases: Ledger[Lease, Any],
) -> None:
    await leases.change("ALRT#a#email", Take(T, T + 1))
    await leases.change("ALRT#b#email", Settle(T))
    found = await leases.read_many(["ALRT#a#email", "ALRT#none", "ALRT#b#email", "ALRT#a#email"])
    assert {k: (r.until_ms, r.settled) for k, r in found.items()} == {
        "ALRT#a#email": (T + 1, False),
        "ALRT#b#email": (0, True),
    }


KEY = MeterKey("acme#1", T, "api_overage")  # a '#' in the account id is fine


async def test_the_outbox_rules_hold_alike_on_every_backend(
    outbox: Ledger[MeterRecord, Decided],
) -> None:
    empty = MeterRecord(KEY, T + 10**6)
    first = Claim(Batch(1, 7, "tg_1", T))
    done, claimed = await outbox.change(meter_pk(KEY), Decided(empty, first))
    assert done
    assert claimed == MeterRecord(KEY, T + 10**6, 7, 0, 0, 1, first.batch, True)
    # decided on the empty record, a second claim must lose, and see the first's batch
    done, stored = await outbox.change(meter_pk(KEY), Decided(empty, Claim(Batch(1, 3, "x", T))))
    assert (done, stored) == (False, claimed)
    done, settled = await outbox.change(meter_pk(KEY), Decided(claimed, SettleBatch(1, True)))
    assert done
    assert settled is not None
    assert (settled.sent, settled.pending) == (7, None)
    assert await outbox.read_many([meter_pk(KEY)]) == {meter_pk(KEY): settled}
