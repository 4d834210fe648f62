"""Key lifecycle and usage (what the CLI runs), and the gate when the registry is down."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from tiergate.admin import Admin, NotWrittenThrough
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.errors import NotFound, StoreUnavailable, TierConfigError, TiergateError
from tiergate.gate import Gate, Requirement
from tiergate.hotstate import AccountState, KeyState
from tiergate.outcomes import Admitted, Denied
from tiergate.registry import Account, KeyRecord
from tiergate.registry.memory import MemoryRegistry
from tiergate.store.memory import MemoryStore
from tiergate.wiring import Parts, build, hot_store

from .support.faults import FaultyStore

NOW = 1_794_744_000_000  # 2026-11-15 12:00 UTC
HOUR = 3_600_000
TIERS = json.dumps(
    {
        "free": {"limit": 100, "price": 0, "burst": 1000},
        "pro": {"limit": 900, "price": 9, "burst": 1000},
    }
)


SETTINGS = Settings(tiers=TIERS)


class DownableRegistry(MemoryRegistry):
    """The in-process registry, whose reads for the gate's miss path fail while `down`."""

    down = False

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        if self.down:
            raise StoreUnavailable("hot_state: connection refused")
        return await super().hot_state(digest)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(clock: FakeClock) -> FaultyStore:
    return FaultyStore(hot_store(SETTINGS.gate, clock=clock))


@pytest.fixture
def registry(clock: FakeClock) -> DownableRegistry:
    return DownableRegistry(clock)


@pytest.fixture
def parts(clock: FakeClock, store: FaultyStore, registry: DownableRegistry) -> Parts:
    return build(SETTINGS, clock=clock, store=store, registry=registry)


@pytest.fixture
def gate(parts: Parts) -> Gate:
    return parts.gate


@pytest.fixture
def admin(parts: Parts) -> Admin:
    return parts.admin()


async def admit(gate: Gate, key: str, tier: str | None = None) -> Admitted | Denied:
    return await gate.admit(key, Requirement(tier=tier))


def slug(outcome: Admitted | Denied) -> str:
    return outcome.slug if isinstance(outcome, Denied) else "admitted"


async def test_a_new_account_starts_on_the_lowest_tier_and_its_key_works_at_once(
    gate: Gate, admin: Admin, registry: DownableRegistry
) -> None:
    new = await admin.create_key("acme", None, label="ci")
    assert (new.account.tier, new.record.label) == ("free", "ci")
    assert new.key.startswith("tg_test_")
    assert await registry.get_key(new.record.digest) == new.record
    outcome = await admit(gate, new.key)
    assert slug(outcome) == "admitted"
    assert registry.reads == 0  # written through: no registry read on first use


async def test_a_tier_can_be_chosen_for_a_new_account_and_changed_without_a_subscription(
    gate: Gate, admin: Admin
) -> None:
    assert (await admin.create_key("acme", "pro")).account.tier == "pro"
    assert (await admin.create_key("acme", "free")).account.tier == "free"
    with pytest.raises(TierConfigError, match="known tiers: free, pro"):
        await admin.create_key("other", "gold")
    with pytest.raises(TiergateError, match="account id"):
        await admin.create_key("has space", None)


async def test_a_subscribed_account_keeps_the_tier_stripe_gives_it(
    admin: Admin, registry: DownableRegistry
) -> None:
    await registry.put_account(Account("acme", tier="pro", subscription_id="sub_1"))
    with pytest.raises(TiergateError, match="change its plan in Stripe"):
        await admin.create_key("acme", "free")
    assert (await admin.create_key("acme", None)).account.tier == "pro"


async def test_a_revoked_key_is_refused_on_its_next_request(
    gate: Gate, admin: Admin, registry: DownableRegistry
) -> None:
    new = await admin.create_key("acme", None)
    assert slug(await admit(gate, new.key)) == "admitted"
    revoked = await admin.revoke(new.key)
    assert revoked.revoked_at_ms == NOW
    assert slug(await admit(gate, new.key)) == "revoked-key"
    assert registry.reads == 0
    assert (await admin.revoke(new.key)).revoked_at_ms == NOW  # idempotent


async def test_keys_are_named_by_id_only_with_their_account(gate: Gate, admin: Admin) -> None:
    new = await admin.create_key("acme", None)
    key_id = new.record.digest[:12]
    assert (await admin.revoke(key_id, "acme")).digest == new.record.digest
    with pytest.raises(NotFound, match="give --account"):
        await admin.revoke(key_id)
    with pytest.raises(NotFound, match="no single key"):
        await admin.revoke(key_id[:3], "acme")  # too short to name a key safely
    with pytest.raises(NotFound, match="no account 'nobody'"):
        await admin.list_keys("nobody")


async def test_rotation_keeps_the_old_key_for_its_grace_period(
    gate: Gate, admin: Admin, clock: FakeClock
) -> None:
    old = await admin.create_key("acme", None, label="prod")
    new, expiring = await admin.rotate(old.key, None, grace_ms=HOUR)
    assert (new.account.account_id, new.record.label) == ("acme", "prod")
    assert expiring.expires_at_ms == NOW + HOUR
    clock.advance(HOUR - 1)
    assert slug(await admit(gate, old.key)) == "admitted"
    clock.advance(1)
    assert slug(await admit(gate, old.key)) == "revoked-key"
    assert slug(await admit(gate, new.key)) == "admitted"
    with pytest.raises(TiergateError, match="already revoked or expired"):
        await admin.rotate(old.key, None, grace_ms=HOUR)
    # Both were made in the same millisecond (the clock stood still): ties go by digest.
    assert [r.digest for r in await admin.list_keys("acme")] == sorted(
        [old.record.digest, new.record.digest]
    )


async def test_usage_by_key_or_account(gate: Gate, admin: Admin) -> None:
    new = await admin.create_key("acme", "pro")
    for _ in range(3):
        assert slug(await admit(gate, new.key)) == "admitted"
    by_key, by_account = await admin.usage(new.key), await admin.usage("acme")
    assert by_key == by_account
    assert (by_key.used, by_key.limit) == (3, 900)
    assert by_key.period_start_ms == 1_793_491_200_000  # 2026-11-01, the calendar month
    with pytest.raises(NotFound, match="not an API key"):
        await admin.usage("nobody")


async def test_a_change_redis_missed_fails_loudly_and_a_rerun_completes_it(
    gate: Gate, admin: Admin, store: FaultyStore
) -> None:
    new = await admin.create_key("acme", None)
    assert slug(await admit(gate, new.key)) == "admitted"
    store.fail()
    with pytest.raises(NotWrittenThrough, match="rerun the same command"):
        await admin.revoke(new.key)
    store.recover()
    assert slug(await admit(gate, new.key)) == "admitted"  # Redis still has it live
    await admin.revoke(new.key)
    assert slug(await admit(gate, new.key)) == "revoked-key"


async def test_with_the_registry_down_the_last_loaded_state_stands_in(
    gate: Gate, admin: Admin, clock: FakeClock, store: FaultyStore, registry: DownableRegistry
) -> None:
    known = await admin.create_key("acme", "pro")
    never_loaded = await admin.create_key("other", None)
    store.inner = MemoryStore(clock)  # Redis lost everything: every key is a miss
    assert slug(await admit(gate, known.key, "pro")) == "admitted"  # loaded from the registry
    registry.down = True
    store.inner = MemoryStore(clock)  # lost again, and now the registry is down too
    assert slug(await admit(gate, known.key, "pro")) == "admitted"
    assert slug(await admit(gate, known.key, "pro")) == "admitted"
    assert slug(await admit(gate, never_loaded.key)) == "limiter-unavailable"  # 503, not 500


class CountingStore(MemoryStore):
    """Keeps the account states written, to see what reached Redis."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.accounts: list[AccountState] = []

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        self.accounts.extend(accounts)
        await super().write(keys=keys, accounts=accounts, unknown_key_ttl_ms=unknown_key_ttl_ms)


async def test_a_revoked_keys_stale_account_copy_never_reaches_redis(
    gate: Gate, admin: Admin, clock: FakeClock, store: FaultyStore
) -> None:
    new = await admin.create_key("acme", None)
    await admin.revoke(new.key)
    counting = CountingStore(clock)
    store.inner = counting  # Redis lost everything: the key is a miss, loaded again
    assert slug(await admit(gate, new.key)) == "revoked-key"
    assert counting.accounts == []
