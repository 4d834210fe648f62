"""The usage-billing contract, every hot store: overage past the limit up to the cap, counted
for the meter (as the meter room's index lists it); billable units by route; usage alerts
fired once per period and threshold (as the alert room's queue reads them), all inside the
one atomic call."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tiergate.alerts.queue import AlertQueue
from tiergate.clock import FakeClock
from tiergate.decision import Code
from tiergate.hotstate import AccountState, usage_alerts
from tiergate.meter.index import MeterIndex
from tiergate.periods import calendar_month
from tiergate.store import Charge, HotStore
from tiergate.usage import AlertCrossing, MeteredPeriod

from .conftest import NOW
from .test_hot_store import ask, codes, seed

START, END = calendar_month(NOW)
DAY = 86_400_000
# limit 10, 5 overage units; alerts at 80 % (8), 100 % (10) and the cap (15)
OVERAGE = AccountState(
    account_id="acct-1", tier="pro", rank=1, status="active", limit=10, burst=100_000,
    overage_cap=5, meter="api_overage", alerts=usage_alerts(10, (80, 100), 5),
)  # fmt: skip


def metered(units: int, start: int = START, end: int = END) -> MeteredPeriod:
    return MeteredPeriod("acct-1", start, end, "api_overage", units)


async def labels(queue: AlertQueue) -> list[tuple[str, int]]:
    return [(a.label, a.used) for a in await queue.alerts()]


async def test_an_overage_tier_admits_past_its_limit_up_to_the_cap(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    assert await codes(store, clock, 16) == [Code.ADMIT] * 15 + [Code.QUOTA]
    denied = await store.check(ask(clock))
    assert (denied.used, denied.limit, denied.overage_cap) == (15, 10, 5)
    assert await index.metered() == [metered(5)]
    assert await store.used("acct-1", START) == 15


async def test_a_tier_without_overage_is_not_metered(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, replace(OVERAGE, overage_cap=0, meter="", alerts=()))
    assert await codes(store, clock, 11) == [Code.ADMIT] * 10 + [Code.QUOTA]
    assert await index.metered() == []


async def test_a_cost_that_straddles_the_limit_meters_only_its_part_past_it(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    await store.check(ask(clock, cost=8))
    straddling = await store.check(ask(clock, cost=4))  # 2 within the limit, 2 past it
    assert (straddling.code, straddling.used) == (Code.ADMIT, 12)
    assert await index.metered() == [metered(2)]
    too_big = await store.check(ask(clock, cost=4))  # 16 > 15: refused whole
    assert (too_big.code, too_big.used) == (Code.QUOTA, 12)
    assert await index.metered() == [metered(2)]


async def test_refunds_give_back_overage_and_route_units(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    for _ in range(10):
        await store.check(ask(clock, route="/v1/a"))
    by_id = await store.check(ask(clock, cost=2, request_id="r1", route="/v1/b"))
    by_verdict = await store.check(ask(clock, cost=3, request_id="r2", route="/v1/b"))
    assert await index.metered() == [metered(5)]
    assert await store.routes("acct-1", START) == {"/v1/a": 10, "/v1/b": 5}
    await store.refund("r1", None)  # the answer was lost: the request's record tells
    # The verdict's charge, as the gate builds it (no meter named: the store finds it).
    await store.refund("r2", Charge("acct-1", START, 3, "", 3, "/v1/b"))
    await store.refund("r2", Charge("acct-1", START, 3, "", 3, "/v1/b"))  # once only
    assert (by_id.used, by_verdict.used) == (12, 15)
    assert await index.metered() == [metered(0)]
    assert await store.routes("acct-1", START) == {"/v1/a": 10}
    assert await store.used("acct-1", START) == 10


async def test_a_replay_is_neither_metered_nor_counted_by_route(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, replace(OVERAGE, limit=0, alerts=()))
    first = await store.check(
        ask(clock, idempotency_key="k", fingerprint="f", request_id="r", route="/v1/a")
    )
    await store.complete("r", "acct-1", "k", "kept")
    for _ in range(5):
        replayed = await store.check(
            ask(clock, idempotency_key="k", fingerprint="f", request_id=f"again-{_}")
        )
        assert replayed.code == Code.REPLAY
    assert first.code == Code.ADMIT
    assert await index.metered() == [metered(1)]
    assert await store.routes("acct-1", START) == {"/v1/a": 1}


async def test_alerts_fire_once_per_threshold_and_period(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    fired = [(await store.check(ask(clock))).alerts for _ in range(16)]
    assert [(n + 1, f) for n, f in enumerate(fired) if f] == [(8, "80"), (10, "100"), (15, "cap")]
    assert await labels(queue) == [("80", 8), ("100", 10), ("cap", 15)]
    crossing = (await queue.alerts())[0]
    assert crossing == AlertCrossing("acct-1", "pro", "80", 8, 10, START, END, NOW)


async def test_a_refund_and_a_second_crossing_do_not_fire_again(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    for _ in range(7):
        await store.check(ask(clock))
    crossing = await store.check(ask(clock, request_id="r"))
    await store.refund("r", None)
    again = await store.check(ask(clock))
    assert (crossing.alerts, again.alerts, again.used) == ("80", "", 8)
    assert await labels(queue) == [("80", 8)]


async def test_one_request_may_cross_several_thresholds(store: HotStore, clock: FakeClock) -> None:
    await seed(store, OVERAGE)
    assert (await store.check(ask(clock, cost=12))).alerts == "80,100"


async def test_a_request_refused_near_the_ceiling_fires_the_ceilings_alert(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    await store.check(ask(clock, cost=13))  # past 80 % and 100 %: both fire
    refused = await store.check(ask(clock, cost=3))  # 16 > 15: blocked till the period ends
    assert (refused.code, refused.alerts) == (Code.QUOTA, "cap")
    assert await labels(queue) == [("80", 13), ("100", 13), ("cap", 13)]
    assert (await store.check(ask(clock, cost=3))).alerts == ""  # once


async def test_a_huge_request_early_in_the_period_fires_nothing(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    await store.check(ask(clock, cost=1))
    refused = await store.check(ask(clock, cost=100))
    assert (refused.code, refused.alerts) == (Code.QUOTA, "")
    for _ in range(7):  # the real crossings still fire when usage gets there
        await store.check(ask(clock))
    assert await labels(queue) == [("80", 8)]


async def test_alerts_start_again_next_period_and_drain_when_delivered(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    await store.check(ask(clock, cost=8))
    clock.set(END)
    await store.check(ask(clock, cost=8))
    pending = await queue.alerts()
    assert [(a.label, a.period_start_ms) for a in pending] == [("80", START), ("80", END)]
    assert len({a.id for a in pending}) == 2
    await queue.alerts_delivered(pending[:1])
    assert await queue.alerts() == pending[1:]
    assert [a.label for a in await queue.alerts(limit=0)] == []


async def test_concurrent_clients_at_the_boundaries_are_exact(
    store: HotStore, index: MeterIndex, queue: AlertQueue, clock: FakeClock
) -> None:
    """64 clients race past 80 %, the limit and the cap: the ceiling admits exactly, the meter
    counts exactly the cap, and each alert fires exactly once."""
    await seed(store, replace(OVERAGE, limit=100, overage_cap=50,
                              alerts=usage_alerts(100, (80, 100), 50)))  # fmt: skip

    async def client(n: int) -> list[str]:
        verdicts = [await store.check(ask(clock, route="/v1/a")) for _ in range(n)]
        return [v.alerts for v in verdicts if v.admitted and v.alerts] + [
            "denied" for v in verdicts if not v.admitted
        ]

    results = [item for items in await asyncio.gather(*(client(4) for _ in range(64)))
               for item in items]  # fmt: skip
    assert results.count("denied") == 64 * 4 - 150
    assert sorted(r for r in results if r != "denied") == ["100", "80", "cap"]
    assert await index.metered() == [MeteredPeriod("acct-1", START, END, "api_overage", 50)]
    assert await store.routes("acct-1", START) == {"/v1/a": 150}
    assert [a.label for a in await queue.alerts()] == ["80", "100", "cap"]


async def test_a_recorded_verdict_keeps_the_overage_cap(store: HotStore, clock: FakeClock) -> None:
    await seed(store, OVERAGE)
    first = await store.check(ask(clock, request_id="r", cost=2))
    again = await store.check(ask(clock, request_id="r", cost=2, retry=True))
    assert again.overage_cap == first.overage_cap == 5
    assert await store.used("acct-1", START) == 2


async def test_alerts_requeued_go_to_the_back_in_order(
    store: HotStore, queue: AlertQueue, clock: FakeClock
) -> None:
    await seed(store, OVERAGE)
    await store.check(ask(clock, cost=15))  # 80, 100 and the cap at once
    first, second, third = await queue.alerts()
    await queue.alerts_requeue([first, second])
    assert await queue.alerts() == [third, first, second]
    assert await queue.alerts(limit=1) == [third]
    await queue.alerts_requeue([])
    await queue.alerts_delivered([first])
    # One no longer pending is added back (the ledger has it settled: the next run drops it).
    await queue.alerts_requeue([first])
    assert await queue.alerts() == [third, second, first]
