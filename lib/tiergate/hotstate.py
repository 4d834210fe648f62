"""The hot state the gate reads on every request, as it is kept in Redis.

It is a projection of the registry (the source of truth) through the tiers: limits are
resolved here, once, when the state is written, so the request path never has to join an
account with its tier or its overrides.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry.records import Account, KeyRecord
from .tiers import Tiers, check_limits

__all__ = [
    "SUSPENDED_STATUSES",
    "UNKNOWN_KEY",
    "AccountState",
    "KeyState",
    "account_state",
    "key_state",
]

# Subscription statuses (Stripe's names) that deny access outright; past_due denies only
# after its grace period, which AccountState.suspend_at_ms carries.
SUSPENDED_STATUSES = frozenset({"unpaid", "canceled", "paused", "incomplete", "incomplete_expired"})


@dataclass(frozen=True, slots=True)
class KeyState:
    account_id: str
    revoked: bool = False
    expires_at_ms: int = 0  # 0: never; set while a rotated key runs out its grace period


# A cached negative answer: the registry has no such key. It spares the registry a read per
# request when someone sends well-formed keys that were never issued.
UNKNOWN_KEY = KeyState(account_id="")


@dataclass(frozen=True, slots=True)
class AccountState:
    account_id: str
    tier: str
    rank: int
    status: str
    limit: int
    burst: int
    period_start_ms: int = 0  # 0 with period_end_ms 0: the calendar month, UTC
    period_end_ms: int = 0
    suspend_at_ms: int = 0  # 0: no deadline; otherwise access ends at this instant
    features: frozenset[str] = frozenset()


def key_state(record: KeyRecord) -> KeyState:
    return KeyState(
        account_id=record.account_id,
        revoked=record.revoked_at_ms > 0,
        expires_at_ms=record.expires_at_ms,
    )


def account_state(account: Account, tiers: Tiers, past_due_grace_ms: int) -> AccountState:
    tier = tiers.require(account.tier)
    limit = tier.limit if account.limit_override is None else account.limit_override
    burst = tier.burst if account.burst_override is None else account.burst_override
    check_limits(f"account {account.account_id!r}'s overrides", limit=limit, burst=burst)
    suspend_at = 0
    if account.status == "past_due" and account.past_due_since_ms:
        suspend_at = account.past_due_since_ms + past_due_grace_ms
    return AccountState(
        account_id=account.account_id,
        tier=tier.name,
        rank=tier.rank,
        status=account.status,
        limit=limit,
        burst=burst,
        period_start_ms=account.period_start_ms,
        period_end_ms=account.period_end_ms,
        suspend_at_ms=suspend_at,
        features=tier.features | account.extra_features,
    )
