"""The registry contract: the in-process registry and the DynamoDB one (on moto in-process,
and over HTTP on moto's server and on DynamoDB Local) pass the same tests."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections.abc import Iterator

import pytest

from tiergate.clock import FakeClock
from tiergate.errors import NotFound, TooManyKeys
from tiergate.registry import (
    MAX_LIVE_KEYS,
    Account,
    EventRecord,
    KeyRecord,
    Registry,
    SubscriptionUpdate,
)

from .registries import ALL_REGISTRIES, CONCURRENT_REGISTRIES, opened

NOW = 1_794_744_000_000


@pytest.fixture
def clock() -> FakeClock:
    """The registry's clock: whether a key is live is judged by it, in every backend."""
    return FakeClock(NOW)


@pytest.fixture(params=ALL_REGISTRIES)
def registry(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    with opened(request, clock) as registry:
        yield registry


@pytest.fixture(params=CONCURRENT_REGISTRIES)
def concurrent_registry(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    with opened(request, clock) as registry:
        yield registry


def event(created_s: int, event_id: str | None = None, type_: str = "x") -> EventRecord:
    return EventRecord(event_id or f"evt_{uuid.uuid4().hex}", type_, created_s, created_s + 9)


async def test_a_key_never_issued_has_no_hot_state(registry: Registry) -> None:
    assert await registry.hot_state("0" * 64) is None


async def test_hot_state_is_the_key_with_its_account(registry: Registry) -> None:
    account = Account("acct", tier="pro", limit_override=7, extra_features=frozenset({"x"}))
    record = KeyRecord("d1", "acct", created_at_ms=1, label="ci")
    await registry.put_account(account)
    await registry.put_key(record)
    assert await registry.hot_state("d1") == (record, account)
    assert await registry.get_account("acct") == account


async def test_a_key_needs_an_existing_account(registry: Registry) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await registry.put_key(KeyRecord("d1", "ghost", created_at_ms=1))
    assert await registry.hot_state("d1") is None


async def test_puts_replace(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    await registry.put_account(Account("acct", tier="pro", status="past_due"))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1, revoked_at_ms=5))
    found = await registry.hot_state("d1")
    assert found is not None
    assert found[0].revoked_at_ms == 5
    assert (found[1].tier, found[1].status) == ("pro", "past_due")


async def test_a_key_moved_to_another_account_follows_its_new_account(
    registry: Registry,
) -> None:
    await registry.put_account(Account("a1", tier="free"))
    await registry.put_account(Account("a2", tier="pro"))
    await registry.put_key(KeyRecord("d", "a1", created_at_ms=1))
    await registry.put_key(KeyRecord("d", "a2", created_at_ms=1))
    await registry.put_account(Account("a1", tier="enterprise"))  # must not reach the key
    found = await registry.hot_state("d")
    assert found is not None
    assert (found[0].account_id, found[1]) == ("a2", Account("a2", tier="pro"))
    assert await registry.list_keys("a1") == []
    assert [r.digest for r in await registry.list_keys("a2")] == ["d"]


async def test_keys_are_listed_per_account_oldest_first(registry: Registry) -> None:
    await registry.put_account(Account("a1", tier="free"))
    await registry.put_account(Account("a2", tier="free"))
    for digest, account, created in (("b", "a1", 2), ("a", "a1", 1), ("c", "a2", 3)):
        await registry.put_key(KeyRecord(digest, account, created_at_ms=created))
    assert [r.digest for r in await registry.list_keys("a1")] == ["a", "b"]
    assert await registry.list_keys("nobody") == []


async def test_revoked_keys_are_still_found_and_listed(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1, revoked_at_ms=NOW))
    found = await registry.get_key("d1")
    assert found is not None
    assert found.revoked_at_ms == NOW
    assert [r.revoked_at_ms for r in await registry.list_keys("acct")] == [NOW]


async def test_an_account_has_a_bounded_number_of_live_keys(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    for i in range(MAX_LIVE_KEYS):
        await registry.put_key(KeyRecord(f"d{i}", "acct", created_at_ms=NOW))
    with pytest.raises(TooManyKeys, match="revoke one first"):
        await registry.put_key(KeyRecord("one-more", "acct", created_at_ms=NOW))
    await registry.put_key(KeyRecord("d0", "acct", created_at_ms=NOW, revoked_at_ms=NOW))
    await registry.put_key(KeyRecord("one-more", "acct", created_at_ms=NOW))


async def test_a_rotated_key_follows_its_account_until_its_grace_runs_out(
    registry: Registry, clock: FakeClock
) -> None:
    await registry.put_account(Account("acct", tier="free"))
    await registry.put_key(KeyRecord("old", "acct", created_at_ms=NOW, expires_at_ms=NOW + 60_000))
    for i in range(1, MAX_LIVE_KEYS):
        await registry.put_key(KeyRecord(f"d{i}", "acct", created_at_ms=NOW))
    # In its grace the old key still admits requests, so it must see the account change.
    await registry.put_account(Account("acct", tier="pro", status="past_due"))
    found = await registry.hot_state("old")
    assert found is not None
    assert (found[1].tier, found[1].status) == ("pro", "past_due")
    with pytest.raises(TooManyKeys):
        await registry.put_key(KeyRecord("new", "acct", created_at_ms=NOW))
    clock.advance(60_000)  # the grace is over: the old key no longer counts against the bound
    await registry.put_key(KeyRecord("new", "acct", created_at_ms=NOW))
    found = await registry.hot_state("old")
    assert found is not None
    assert found[0].expires_at_ms == NOW + 60_000
    assert len(await registry.list_keys("acct")) == MAX_LIVE_KEYS + 1


async def test_a_key_is_live_by_the_registrys_clock_not_by_its_creation_time(
    registry: Registry,
) -> None:
    # A key made (created_at_ms) before its expiry but stored after it is not live: it does
    # not count against the bound. (The in-process registry judged it at created_at_ms.)
    await registry.put_account(Account("acct", tier="free"))
    await registry.put_key(KeyRecord("lapsed", "acct", created_at_ms=1, expires_at_ms=NOW - 1))
    for i in range(1, MAX_LIVE_KEYS):
        await registry.put_key(KeyRecord(f"d{i}", "acct", created_at_ms=1))
    await registry.put_key(KeyRecord("last", "acct", created_at_ms=1))
    with pytest.raises(TooManyKeys):
        await registry.put_key(KeyRecord("past-the-bound", "acct", created_at_ms=1))


async def test_a_key_moved_to_a_full_account_is_refused(registry: Registry) -> None:
    await registry.put_account(Account("full", tier="free"))
    await registry.put_account(Account("other", tier="free"))
    for i in range(MAX_LIVE_KEYS):
        await registry.put_key(KeyRecord(f"d{i}", "full", created_at_ms=NOW))
    await registry.put_key(KeyRecord("mover", "other", created_at_ms=NOW))
    with pytest.raises(TooManyKeys):
        await registry.put_key(KeyRecord("mover", "full", created_at_ms=NOW))
    found = await registry.hot_state("mover")
    assert found is not None
    assert found[0].account_id == "other"
    assert len(await registry.list_keys("full")) == MAX_LIVE_KEYS


async def test_a_revoked_key_put_back_needs_room(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    for i in range(MAX_LIVE_KEYS):
        await registry.put_key(KeyRecord(f"d{i}", "acct", created_at_ms=NOW))
    revoked = KeyRecord("d0", "acct", created_at_ms=NOW, revoked_at_ms=NOW)
    await registry.put_key(revoked)
    await registry.put_key(KeyRecord("new", "acct", created_at_ms=NOW))
    with pytest.raises(TooManyKeys):
        await registry.put_key(dataclasses.replace(revoked, revoked_at_ms=0))
    assert await registry.get_key("d0") == revoked


async def test_an_account_update_reaches_every_key(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    for digest in ("d1", "d2"):
        await registry.put_key(KeyRecord(digest, "acct", created_at_ms=1))
    await registry.put_account(Account("acct", tier="pro", status="past_due"))
    for digest in ("d1", "d2"):
        found = await registry.hot_state(digest)
        assert found is not None
        assert (found[1].tier, found[1].status) == ("pro", "past_due")


async def test_keys_made_while_the_account_changes_all_end_with_the_newest_account(
    concurrent_registry: Registry,
) -> None:
    registry = concurrent_registry
    await registry.put_account(Account("acct", tier="free"))
    await asyncio.gather(
        *(registry.put_key(KeyRecord(f"d{i}", "acct", created_at_ms=i)) for i in range(4)),
        registry.put_account(Account("acct", tier="pro")),
    )
    for i in range(4):
        found = await registry.hot_state(f"d{i}")
        assert found is not None
        assert found[1].tier == "pro"
    assert [r.digest for r in await registry.list_keys("acct")] == [f"d{i}" for i in range(4)]


# -- Stripe events --------------------------------------------------------------------------


def pro(**fields: object) -> SubscriptionUpdate:
    """An update to an active pro subscription, with `fields` changed."""
    base = SubscriptionUpdate(
        "acct", tier="pro", status="active", subscription_id="sub_1", customer_id="cus_1"
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


async def test_an_event_applies_once_and_its_redelivery_is_a_duplicate(
    registry: Registry,
) -> None:
    first = event(100, "evt_1")
    applied = await registry.apply_event(first, pro(), default_tier="free")
    assert applied.outcome == "applied"
    assert applied.account is not None
    assert (applied.account.tier, applied.account.watermark) == ("pro", 100)
    assert await registry.get_account("acct") == applied.account
    again = await registry.apply_event(first, pro(status="past_due"), default_tier="free")
    assert again.outcome == "duplicate"
    account = await registry.get_account("acct")
    assert account is not None
    assert account.status == "active"
    assert await registry.account_for_customer("cus_1") == "acct"
    assert await registry.account_for_customer("cus_nobody") is None


async def test_an_older_event_never_overwrites_newer_state(registry: Registry) -> None:
    await registry.apply_event(event(200), pro(status="past_due"), default_tier="free")
    older = await registry.apply_event(event(199), pro(status="active"), default_tier="free")
    assert older.outcome == "stale"
    account = await registry.get_account("acct")
    assert account is not None
    assert (account.status, account.past_due_since_ms, account.watermark) == (
        "past_due",
        200_000,
        200,
    )


async def test_an_event_of_the_same_second_waits_for_the_state_read_from_stripe(
    registry: Registry,
) -> None:
    await registry.apply_event(event(300), pro(status="active"), default_tier="free")
    tie = event(300)
    assert (await registry.apply_event(tie, pro(status="unpaid"), default_tier="free")).outcome == (
        "same-second"
    )
    applied = await registry.apply_event(
        tie, pro(status="unpaid"), default_tier="free", same_second_ok=True
    )
    assert applied.outcome == "applied"
    account = await registry.get_account("acct")
    assert account is not None
    assert account.status == "unpaid"


async def test_every_order_of_four_events_ends_in_the_newest_state(registry: Registry) -> None:
    updates = [
        (event(10, "e10"), pro(status="incomplete")),
        (event(11, "e11"), pro(status="active")),
        (event(12, "e12"), pro(status="past_due")),
        (event(13, "e13"), pro(tier="enterprise", status="active")),
    ]
    for n, order in enumerate(itertools.permutations(updates)):
        account_id = f"acct{n}"
        for record, update in order:
            update = dataclasses.replace(update, account_id=account_id)
            record = EventRecord(f"{record.event_id}-{n}", record.type, record.created_s, 99)
            await registry.apply_event(record, update, default_tier="free")
        account = await registry.get_account(account_id)
        assert account is not None
        assert (account.tier, account.status, account.watermark) == ("enterprise", "active", 13)


async def test_an_event_for_an_unseen_account_creates_it(registry: Registry) -> None:
    update = SubscriptionUpdate("new", status="active", customer_id="cus_9")
    applied = await registry.apply_event(event(5), update, default_tier="free")
    assert applied.account == Account("new", tier="free", customer_id="cus_9", watermark=5)


async def test_the_end_of_a_replaced_subscription_changes_nothing(registry: Registry) -> None:
    await registry.apply_event(event(1), pro(subscription_id="sub_new"), default_tier="free")
    ended = SubscriptionUpdate(
        "acct", tier="free", subscription_id="", only_if_subscription="sub_old"
    )
    assert (await registry.apply_event(event(2), ended, default_tier="free")).outcome == "recorded"
    account = await registry.get_account("acct")
    assert account is not None
    assert (account.tier, account.subscription_id) == ("pro", "sub_new")


async def test_an_event_with_no_update_is_recorded_once(registry: Registry) -> None:
    record = event(1, "evt_unknown")
    assert (await registry.apply_event(record, None, default_tier="free")).outcome == "recorded"
    assert (await registry.apply_event(record, None, default_tier="free")).outcome == "duplicate"


async def test_twenty_concurrent_deliveries_apply_once(concurrent_registry: Registry) -> None:
    registry = concurrent_registry
    record = event(7, "evt_storm")
    results = await asyncio.gather(
        *(registry.apply_event(record, pro(), default_tier="free") for _ in range(20))
    )
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["applied"] + ["duplicate"] * 19


async def test_an_applied_event_reaches_the_accounts_keys(registry: Registry) -> None:
    await registry.put_account(Account("acct", tier="free"))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1))
    await registry.apply_event(event(50), pro(status="past_due"), default_tier="free")
    found = await registry.hot_state("d1")
    assert found is not None
    assert (found[1].tier, found[1].status, found[1].past_due_since_ms) == (
        "pro",
        "past_due",
        50_000,
    )
