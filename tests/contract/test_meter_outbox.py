"""The meter outbox contract: every registry backend (in-process, DynamoDB on moto, on moto's
server and on DynamoDB Local) claims, settles and skips batches under the same conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tiergate.clock import FakeClock
from tiergate.registry import Account, MeterKey, MeterRecord, Registry
from tiergate.registry.outbox import Batch, Claim, Settle, Skip

from .registries import ALL_REGISTRIES, CONCURRENT_REGISTRIES, opened

NOW = 1_794_744_000_000
START, END = 1_793_491_200_000, 1_796_083_200_000  # November 2026
KEY = MeterKey("acme#1", START, "api_overage")  # a '#' in an account id is fine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(params=ALL_REGISTRIES)
def registry(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    with opened(request, clock) as registry:
        yield registry


@pytest.fixture(params=CONCURRENT_REGISTRIES)
def concurrent_registry(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    with opened(request, clock) as registry:
        yield registry


def batch(seq: int, units: int) -> Batch:
    return Batch(seq, units, f"tg_batch_{seq}", NOW + seq)


async def claimed(registry: Registry, units: int) -> MeterRecord:
    read = await registry.meter_record(KEY, END)
    done, record = await registry.change_meter(read, Claim(batch(read.seq + 1, units)))
    assert done
    return record


async def test_a_record_never_written_is_empty(registry: Registry) -> None:
    assert await registry.meter_record(KEY, END) == MeterRecord(KEY, END)


async def test_a_claim_raises_the_watermark_and_holds_the_batch(registry: Registry) -> None:
    record = await claimed(registry, 7)
    expected = MeterRecord(KEY, END, batched=7, seq=1, pending=batch(1, 7), stored=True)
    assert record == expected
    assert await registry.meter_record(KEY, END) == expected


async def test_no_second_claim_while_a_batch_is_pending(registry: Registry) -> None:
    first = await claimed(registry, 7)
    done, stored = await registry.change_meter(first, Claim(batch(2, 3)))
    assert not done
    assert stored == first  # the stored record comes back with the refusal: no re-read


async def test_a_claim_decided_on_a_stale_watermark_fails(registry: Registry) -> None:
    stale = await registry.meter_record(KEY, END)
    first = await claimed(registry, 7)
    done, _ = await registry.change_meter(first, Settle(1, sent=True))
    assert done
    refused, stored = await registry.change_meter(stale, Claim(batch(1, 9)))
    assert not refused
    assert (stored.batched, stored.sent, stored.pending) == (7, 7, None)


async def test_settling_sends_the_units_once(registry: Registry) -> None:
    record = await claimed(registry, 7)
    assert not (await registry.change_meter(record, Settle(2, sent=True)))[0]  # not that batch
    done, settled = await registry.change_meter(record, Settle(1, sent=True))
    assert done
    assert (settled.batched, settled.sent, settled.missed, settled.pending) == (7, 7, 0, None)
    again, stored = await registry.change_meter(record, Settle(1, sent=True))
    assert not again  # a second push marking the same batch changes nothing
    assert stored.sent == 7
    nxt = await claimed(registry, 5)
    assert (nxt.batched, nxt.seq, nxt.sent) == (12, 2, 7)


async def test_a_batch_given_up_on_counts_as_missed(registry: Registry) -> None:
    record = await claimed(registry, 4)
    done, settled = await registry.change_meter(record, Settle(1, sent=False))
    assert done
    assert (settled.batched, settled.sent, settled.missed) == (4, 0, 4)


async def test_skipped_units_are_missed_and_never_claimed_again(registry: Registry) -> None:
    read = await registry.meter_record(KEY, END)
    done, record = await registry.change_meter(read, Skip(6))
    assert done
    assert (record.batched, record.missed, record.pending, record.stored) == (6, 6, None, True)
    assert not (await registry.change_meter(read, Skip(6)))[0]  # decided on the empty record
    assert await registry.meter_record(KEY, END) == record


async def test_records_are_kept_apart_by_account_period_and_meter(registry: Registry) -> None:
    await claimed(registry, 3)
    for other in (
        MeterKey("acme#2", START, "api_overage"),
        MeterKey("acme#1", END, "api_overage"),
        MeterKey("acme#1", START, "other"),
    ):
        assert not (await registry.meter_record(other, END)).stored


async def test_of_concurrent_claims_one_wins(concurrent_registry: Registry) -> None:
    reads = [await concurrent_registry.meter_record(KEY, END) for _ in range(8)]
    results = await asyncio.gather(
        *(concurrent_registry.change_meter(r, Claim(batch(1, 5 + i))) for i, r in enumerate(reads))
    )
    winners = [record for done, record in results if done]
    assert len(winners) == 1
    stored = await concurrent_registry.meter_record(KEY, END)
    assert stored == winners[0]
    assert all(record == stored for done, record in results if not done)


async def test_records_are_read_together_in_order(registry: Registry) -> None:
    stored = await claimed(registry, 3)
    other = MeterKey("acme#2", START, "api_overage")
    wanted = [(other, END), (KEY, END), (other, END)]  # a key twice, as two meters' periods may
    assert await registry.meter_records(wanted) == [
        MeterRecord(other, END),
        stored,
        MeterRecord(other, END),
    ]
    many = [(MeterKey(f"a{i}", START, "m"), END) for i in range(130)]  # past one batch of 100
    assert await registry.meter_records(many) == [MeterRecord(k, end) for k, end in many]


async def test_customers_are_read_together(registry: Registry) -> None:
    await registry.put_account(Account("linked", tier="pro", customer_id="cus_1"))
    await registry.put_account(Account("unlinked", tier="pro"))
    found = await registry.customer_ids(["linked", "unlinked", "missing", "linked"])
    assert found == {"linked": "cus_1", "unlinked": ""}
