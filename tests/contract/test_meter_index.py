"""The meter index contract, every row of tests/contract/hot_stores.py: the periods a hot
store's gate call counted overage in, as the meter room's index lists them for the push, and
forgets them once the push is done with them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tiergate.clock import FakeClock
from tiergate.decision import Code
from tiergate.errors import StoreUnavailable
from tiergate.meter.index import MeterIndex, NoMeterIndex
from tiergate.periods import calendar_month
from tiergate.store import HotStore

from .conftest import NOW
from .test_hot_store import codes, seed
from .test_overage_and_alerts import DAY, END, OVERAGE, metered


async def test_overage_is_kept_per_period_until_the_push_forgets_it(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, replace(OVERAGE, alerts=()))
    await codes(store, clock, 12)
    clock.set(END)  # the next month
    nxt, nxt_end = calendar_month(END)
    assert await codes(store, clock, 11) == [Code.ADMIT] * 11
    assert sorted(await index.metered(), key=lambda p: p.period_start_ms) == [
        metered(2),
        metered(1, nxt, nxt_end),
    ]
    await index.forget_metered(metered(2))
    assert await index.metered() == [metered(1, nxt, nxt_end)]
    assert await store.used("acct-1", nxt) == 11


async def test_a_period_whose_end_moves_is_listed_once_with_its_latest_end(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    """The gate rolled a subscription's period forward by its old length; then the renewal
    webhook wrote the real end. The overage of that one period is listed once, with the end
    the push must use (an entry with the stale end would close the period early)."""
    start = NOW - 5 * DAY  # a subscription period with now inside it
    await seed(store, replace(OVERAGE, period_start_ms=start, period_end_ms=start + 10 * DAY))
    await codes(store, clock, 11)
    await seed(store, replace(OVERAGE, period_start_ms=start, period_end_ms=start + 12 * DAY))
    await codes(store, clock, 2)
    assert await index.metered() == [metered(3, start, start + 12 * DAY)]


async def test_accounts_periods_and_meters_are_listed_apart(
    store: HotStore, index: MeterIndex, clock: FakeClock
) -> None:
    await seed(store, replace(OVERAGE, alerts=()))
    await codes(store, clock, 12)
    other = replace(OVERAGE, account_id="acct:2\nb", meter="other_meter", alerts=())
    await seed(store, other)  # the key is its now; an account id may hold ':' and newlines
    await codes(store, clock, 11)
    listed = sorted(await index.metered(), key=lambda p: p.account_id)
    theirs = replace(metered(1), account_id="acct:2\nb", meter="other_meter")
    assert listed == [metered(2), theirs]
    await index.forget_metered(theirs)
    await index.forget_metered(theirs)  # forgotten already: nothing happens
    assert await index.metered() == [metered(2)]


async def test_without_an_index_the_push_fails_rather_than_reading_nothing() -> None:
    with pytest.raises(StoreUnavailable, match="no meter index"):
        await NoMeterIndex().metered()
    with pytest.raises(StoreUnavailable, match="no meter index"):
        await NoMeterIndex().forget_metered(metered(1))
