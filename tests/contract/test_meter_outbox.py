"""The meter outbox contract: every backend of tests/contract/meter_outboxes.py (in-process,
DynamoDB on moto, on moto's server and on DynamoDB Local) claims, settles and skips batches
under the same conditions, and reads the accounts' Stripe customers alike."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tiergate.clock import FakeClock
from tiergate.meter.outbox import Batch, Claim, MeterKey, MeterOutbox, MeterRecord, Settle, Skip
from tiergate.registry import Account

from .meter_outboxes import ALL_METER_OUTBOXES, CONCURRENT_METER_OUTBOXES, Opened, opened

NOW = 1_794_744_000_000
START, END = 1_793_491_200_000, 1_796_083_200_000  # November 2026
KEY = MeterKey("acme#1", START, "api_overage")  # a '#' in an account id is fine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(params=ALL_METER_OUTBOXES)
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    with opened(request, clock) as backend:
        yield backend


@pytest.fixture
def outbox(backend: Opened) -> MeterOutbox:
    return backend.outbox


@pytest.fixture(params=CONCURRENT_METER_OUTBOXES)
def concurrent_outbox(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[MeterOutbox]:
    with opened(request, clock) as backend:
        yield backend.outbox


def batch(seq: int, units: int) -> Batch:
    return Batch(seq, units, f"tg_batch_{seq}", NOW + seq)


async def claimed(outbox: MeterOutbox, units: int) -> MeterRecord:
    read = await outbox.meter_record(KEY, END)
    done, record = await outbox.change_meter(read, Claim(batch(read.seq + 1, units)))
    assert done
    return record


async def test_a_record_never_written_is_empty(outbox: MeterOutbox) -> None:
    assert await outbox.meter_record(KEY, END) == MeterRecord(KEY, END)


async def test_a_claim_raises_the_watermark_and_holds_the_batch(outbox: MeterOutbox) -> None:
    record = await claimed(outbox, 7)
    expected = MeterRecord(KEY, END, batched=7, seq=1, pending=batch(1, 7), stored=True)
    assert record == expected
    assert await outbox.meter_record(KEY, END) == expected


async def test_no_second_claim_while_a_batch_is_pending(outbox: MeterOutbox) -> None:
    first = await claimed(outbox, 7)
    done, stored = await outbox.change_meter(first, Claim(batch(2, 3)))
    assert not done
    assert stored == first  # the stored record comes back with the refusal: no re-read


async def test_a_claim_decided_on_a_stale_watermark_fails(outbox: MeterOutbox) -> None:
    stale = await outbox.meter_record(KEY, END)
    first = await claimed(outbox, 7)
    done, _ = await outbox.change_meter(first, Settle(1, sent=True))
    assert done
    refused, stored = await outbox.change_meter(stale, Claim(batch(1, 9)))
    assert not refused
    assert (stored.batched, stored.sent, stored.pending) == (7, 7, None)


async def test_settling_sends_the_units_once(outbox: MeterOutbox) -> None:
    record = await claimed(outbox, 7)
    assert not (await outbox.change_meter(record, Settle(2, sent=True)))[0]  # not that batch
    done, settled = await outbox.change_meter(record, Settle(1, sent=True))
    assert done
    assert (settled.batched, settled.sent, settled.missed, settled.pending) == (7, 7, 0, None)
    again, stored = await outbox.change_meter(record, Settle(1, sent=True))
    assert not again  # a second push marking the same batch changes nothing
    assert stored.sent == 7
    nxt = await claimed(outbox, 5)
    assert (nxt.batched, nxt.seq, nxt.sent) == (12, 2, 7)


async def test_a_batch_given_up_on_counts_as_missed(outbox: MeterOutbox) -> None:
    record = await claimed(outbox, 4)
    done, settled = await outbox.change_meter(record, Settle(1, sent=False))
    assert done
    assert (settled.batched, settled.sent, settled.missed) == (4, 0, 4)


async def test_skipped_units_are_missed_and_never_claimed_again(outbox: MeterOutbox) -> None:
    read = await outbox.meter_record(KEY, END)
    done, record = await outbox.change_meter(read, Skip(6))
    assert done
    assert (record.batched, record.missed, record.pending, record.stored) == (6, 6, None, True)
    assert not (await outbox.change_meter(read, Skip(6)))[0]  # decided on the empty record
    assert await outbox.meter_record(KEY, END) == record


async def test_records_are_kept_apart_by_account_period_and_meter(outbox: MeterOutbox) -> None:
    await claimed(outbox, 3)
    for other in (
        MeterKey("acme#2", START, "api_overage"),
        MeterKey("acme#1", END, "api_overage"),
        MeterKey("acme#1", START, "other"),
    ):
        assert not (await outbox.meter_record(other, END)).stored


async def test_of_concurrent_claims_one_wins(concurrent_outbox: MeterOutbox) -> None:
    reads = [await concurrent_outbox.meter_record(KEY, END) for _ in range(8)]
    results = await asyncio.gather(
        *(concurrent_outbox.change_meter(r, Claim(batch(1, 5 + i))) for i, r in enumerate(reads))
    )
    winners = [record for done, record in results if done]
    assert len(winners) == 1
    stored = await concurrent_outbox.meter_record(KEY, END)
    assert stored == winners[0]
    assert all(record == stored for done, record in results if not done)


async def test_records_are_read_together_in_order(outbox: MeterOutbox) -> None:
    stored = await claimed(outbox, 3)
    other = MeterKey("acme#2", START, "api_overage")
    wanted = [(other, END), (KEY, END), (other, END)]  # a key twice, as two meters' periods may
    assert await outbox.meter_records(wanted) == [
        MeterRecord(other, END),
        stored,
        MeterRecord(other, END),
    ]
    many = [(MeterKey(f"a{i}", START, "m"), END) for i in range(130)]  # past one batch of 100
    assert await outbox.meter_records(many) == [MeterRecord(k, end) for k, end in many]


async def test_customers_are_read_together(backend: Opened) -> None:
    await backend.registry.put_account(Account("linked", tier="pro", customer_id="cus_1"))
    await backend.registry.put_account(Account("unlinked", tier="pro"))
    found = await backend.outbox.customer_ids(["linked", "unlinked", "missing", "linked"])
    assert found == {"linked": "cus_1", "unlinked": ""}
