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
    "usage_alerts",
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
    # Overage: units admitted past `limit` per period, counted for `meter` (0 and "": none).
    overage_cap: int = 0
    meter: str = ""
    # Usage alerts, ascending: (units used at which it fires, its label: "80", "100", "cap").
    alerts: tuple[tuple[int, str], ...] = ()

    @property
    def ceiling(self) -> int:
        """The most units the period admits: `limit`, plus the overage cap."""
        return self.limit + self.overage_cap


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
    cap, meter = 0, ""
    if tier.overage is not None:
        cap, meter = tier.overage.cap, tier.overage.meter
        if account.overage_cap_override is not None:  # lower, never higher, than the tier's
            cap = max(0, min(cap, account.overage_cap_override))
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
        overage_cap=cap,
        meter=meter,
        alerts=usage_alerts(limit, tier.alerts, cap),
    )


def usage_alerts(limit: int, percents: tuple[int, ...], cap: int) -> tuple[tuple[int, str], ...]:
    """The units at which each alert fires: a percent of `limit` (rounded up, so 80 % of 5 is
    4), and "cap" when the overage cap is reached. Thresholds past what the period admits
    could never fire and are left out, as is one at 0 units."""
    ceiling = limit + cap
    alerts = [(-(-limit * p // 100), str(p)) for p in percents]
    if cap > 0:
        alerts.append((ceiling, "cap"))
    return tuple((units, label) for units, label in alerts if 0 < units <= ceiling)
