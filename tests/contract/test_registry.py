"""The registry contract. Only the in-process registry exists so far; the DynamoDB one joins
the `registry` fixture's params and must pass the same tests."""

from __future__ import annotations

import pytest

from tiergate.errors import NotFound
from tiergate.registry import Account, KeyRecord, Registry
from tiergate.registry.memory import MemoryRegistry


@pytest.fixture(params=["memory"])
def registry(request: pytest.FixtureRequest) -> Registry:
    return MemoryRegistry()


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


async def test_keys_are_listed_per_account_oldest_first(registry: Registry) -> None:
    await registry.put_account(Account("a1", tier="free"))
    await registry.put_account(Account("a2", tier="free"))
    for digest, account, created in (("b", "a1", 2), ("a", "a1", 1), ("c", "a2", 3)):
        await registry.put_key(KeyRecord(digest, account, created_at_ms=created))
    assert [r.digest for r in await registry.list_keys("a1")] == ["a", "b"]
    assert await registry.list_keys("nobody") == []
