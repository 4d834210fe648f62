"""Hot records expire (TIERGATE_HOT_STATE_TTL), so a registry change whose write-through never
reached Redis (a CLI run without the hot store, a lost call) heals by itself."""

from __future__ import annotations

import dataclasses

import pytest

from tiergate.gate import Requirement
from tiergate.keys import generate_key, key_digest
from tiergate.outcomes import Denied
from tiergate.store.memory import MemoryStore

from .conftest import Harness, MakeHarness, assert_problem, tiers_json


async def test_a_revocation_that_missed_the_hot_store_heals_within_the_ttl(h: Harness) -> None:
    key = await h.add_account("free", account_id="acme")
    assert (await h.call("/v1/hello", key)).status_code == 200
    record = await h.registry.get_key(key_digest(key))
    assert record is not None
    revoked = dataclasses.replace(record, revoked_at_ms=h.clock.now_ms())
    await h.registry.put_key(revoked)  # not written through: Redis still has it live

    h.clock.advance(299_000)
    assert (await h.call("/v1/hello", key)).status_code == 200
    h.clock.advance(1_000)  # the default TTL is 300 s
    assert_problem(await h.call("/v1/hello", key), 403, "revoked-key")


async def test_an_upgrade_that_missed_the_hot_store_heals_within_the_ttl(h: Harness) -> None:
    key = await h.add_account("free", account_id="acme")
    assert_problem(await h.call("/v1/pro/hello", key), 403, "tier-too-low")
    account = await h.registry.get_account("acme")
    assert account is not None
    await h.registry.put_account(dataclasses.replace(account, tier="pro"))  # not written through
    h.clock.advance(300_000)
    assert (await h.call("/v1/pro/hello", key)).status_code == 200


@pytest.mark.parametrize(("ttl_s", "reads"), [(300, 12), (900, 4)])
async def test_registry_reads_per_key_per_hour(
    make_harness: MakeHarness, ttl_s: int, reads: int
) -> None:
    """One request a second for an hour: the registry is read once per TTL, per key."""
    tiers = tiers_json(
        free={"limit": 10_000, "price": 0, "burst": 5},
        pro={"limit": 10_000, "price": 9, "burst": 5},
    )
    h = await make_harness(hot_state_ttl=ttl_s, tiers=tiers)
    key = await h.add_account("free")
    assert (await h.call("/v1/hello", key)).status_code == 200  # the first load
    before = h.registry.reads
    for _ in range(3600):
        h.clock.advance(1_000)
        assert (await h.call("/v1/hello", key)).status_code == 200
    assert h.registry.reads - before == reads


async def test_forged_keys_do_not_stay_in_the_in_process_store(h: Harness) -> None:
    """20,000 well-formed keys that were never issued: each is cached as unknown for 60 s,
    then swept, whether or not anyone sends it again."""
    store = h.store.inner
    assert isinstance(store, MemoryStore)
    for _ in range(20_000):
        assert isinstance(await h.parts.gate.admit(generate_key("test"), Requirement()), Denied)
    assert len(store) >= 20_000
    h.clock.advance(60_000)
    key = await h.add_account("free")
    for _ in range(3):
        assert (await h.call("/v1/hello", key)).status_code == 200
    assert len(store) <= 5  # the live key, its account, the 3 requests recorded for 30 s
