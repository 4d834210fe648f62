"""What the registry stores: keys (by digest), accounts and their subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Account", "KeyRecord", "expired"]


def expired(expires_at_ms: int, now_ms: int) -> bool:
    """Whether a key with this expiry (0: never) has run out at `now_ms`."""
    return bool(expires_at_ms) and now_ms >= expires_at_ms


@dataclass(frozen=True, slots=True)
class KeyRecord:
    digest: str  # hex SHA-256 of the key; the key itself is never stored
    account_id: str
    created_at_ms: int
    label: str = ""
    revoked_at_ms: int = 0
    expires_at_ms: int = 0  # 0: never; set on the old key when a key is rotated

    def usable(self, now_ms: int) -> bool:
        """Live: not revoked, and not expired at `now_ms` (the registry's one meaning of it)."""
        return not self.revoked_at_ms and not expired(self.expires_at_ms, now_ms)


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    tier: str
    status: str = "active"  # Stripe's subscription status; "active" for free accounts
    period_start_ms: int = 0  # 0 and 0: no subscription, the calendar month applies
    period_end_ms: int = 0
    past_due_since_ms: int = 0
    limit_override: int | None = None  # a negotiated quota, e.g. a custom enterprise deal
    burst_override: int | None = None
    extra_features: frozenset[str] = field(default_factory=frozenset)
    customer_id: str = ""  # Stripe's cus_..., once the account has checked out
    subscription_id: str = ""  # Stripe's sub_... that sets the tier; "" on the free tier
    watermark: int = 0  # `created` (s) of the newest Stripe event applied; older ones lose
    overage_cap_override: int | None = None  # lower than the tier's cap, never higher
