"""What a Stripe event changes in an account, as plain data, and the one rule that applies it.

Every registry applies events through `updated_account` (by way of `base.RegistryBase`), so
no two can disagree on meaning; a backend only makes "record the event, apply it" atomic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, TypeVar

from .records import Account

__all__ = ["Applied", "EventRecord", "Outcome", "SubscriptionUpdate", "updated_account"]

# applied      the event changed the account (Applied.account is the new state)
# duplicate    its id was processed before: nothing written
# stale        the account already holds a newer event's state: only the id is recorded
# same-second  the account holds an event of the very same second: nothing written; the
#              caller re-reads the subscription from Stripe and applies that (same_second_ok)
# recorded     an event that changes no state (unknown type, foreign subscription): id recorded
_T = TypeVar("_T")

Outcome = Literal["applied", "duplicate", "stale", "same-second", "recorded"]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A processed Stripe event, kept (with a TTL) so a redelivery is a no-op."""

    event_id: str
    type: str
    created_s: int  # the event's `created`: Stripe's ordering, one-second resolution
    expires_at_s: int  # when the registry may forget it (DynamoDB TTL)


@dataclass(frozen=True, slots=True)
class SubscriptionUpdate:
    """The state one event asserts. None fields are left as they are."""

    account_id: str
    tier: str | None = None
    status: str | None = None
    period_start_ms: int | None = None
    period_end_ms: int | None = None
    customer_id: str | None = None
    subscription_id: str | None = None  # "" clears it (the subscription ended)
    # A subscription's deletion only downgrades the account if it is the account's current
    # subscription: the old one of an account that moved to a new subscription is ignored.
    only_if_subscription: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    account: Account | None = None  # the account after the event, when outcome is applied


def updated_account(
    current: Account | None, update: SubscriptionUpdate, *, watermark: int, default_tier: str
) -> Account | None:
    """The account after `update`, or None when the update does not concern it.

    An account first seen in an event (checked out before any key was made) starts on the
    default (lowest) tier.
    """
    account = current or Account(update.account_id, tier=default_tier)
    if update.only_if_subscription is not None and (
        account.subscription_id != update.only_if_subscription
    ):
        return None
    status = update.status if update.status is not None else account.status
    if status != "past_due":
        past_due_since = 0
    elif account.status == "past_due" and account.past_due_since_ms:
        past_due_since = account.past_due_since_ms  # the grace period runs from the first
    else:
        past_due_since = watermark * 1000
    return dataclasses.replace(
        account,
        tier=_or(update.tier, account.tier),
        status=status,
        period_start_ms=_or(update.period_start_ms, account.period_start_ms),
        period_end_ms=_or(update.period_end_ms, account.period_end_ms),
        past_due_since_ms=past_due_since,
        customer_id=_or(update.customer_id, account.customer_id),
        subscription_id=_or(update.subscription_id, account.subscription_id),
        watermark=max(watermark, account.watermark),
    )


def _or(value: _T | None, default: _T) -> _T:
    return default if value is None else value
