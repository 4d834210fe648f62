"""Applying a Stripe webhook: verify, interpret, apply exactly once, write through to Redis.

FastAPI-free; `web/webhooks.py` maps what this raises to HTTP. Anything that fails before the
registry's transaction commits leaves nothing written, and the 5xx it becomes makes Stripe
retry; anything after it (the Redis write-through) is repeated by the redelivery.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from ..clock import Clock
from ..errors import StripeUnavailable
from ..publisher import Publisher
from ..registry import Applied, EventRecord, Outcome, Registry, SubscriptionUpdate
from ..tiers import Tiers
from . import StripeApi
from .events import interpret, subscription_update
from .signature import verify

__all__ = ["WebhookProcessor"]

log = logging.getLogger("tiergate")


class WebhookProcessor:
    def __init__(
        self,
        *,
        registry: Registry,
        publisher: Publisher,
        tiers: Tiers,
        clock: Clock,
        secrets: Sequence[str],
        tolerance_s: int,
        retention_s: int,
        stripe: StripeApi | None,
    ) -> None:
        self._registry = registry
        self._publisher = publisher
        self._tiers = tiers
        self._clock = clock
        self._secrets = list(secrets)
        self._tolerance_s = tolerance_s
        self._retention_s = retention_s
        self._stripe = stripe

    async def handle(self, payload: bytes, signature: str | None) -> Outcome:
        """Raises InvalidSignature (400), UnknownPrice, StoreUnavailable, StripeUnavailable."""
        now_s = self._clock.now_ms() // 1000
        event = verify(
            payload, signature, self._secrets, tolerance_s=self._tolerance_s, now_s=now_s
        )
        record = EventRecord(
            event_id=event["id"],
            type=event["type"],
            created_s=event["created"],
            expires_at_s=max(now_s, event["created"]) + self._retention_s,
        )
        update = await self._with_account(interpret(event, self._tiers))
        applied = await self._apply(record, update)
        if applied.outcome == "same-second":
            applied = await self._apply_as_stripe_has_it(record, update)
        log.info(
            "stripe event=%s type=%s outcome=%s", record.event_id, record.type, applied.outcome
        )
        if applied.account is not None:
            await self._publisher.publish(account=applied.account)
        elif applied.outcome == "duplicate" and update is not None:
            # The first delivery may have failed after its commit, writing Redis: a retry
            # repairs that. Writing the same state twice is harmless.
            account = await self._registry.get_account(update.account_id)
            if account is not None:
                await self._publisher.publish(account=account)
        return applied.outcome

    async def _apply(
        self, record: EventRecord, update: SubscriptionUpdate | None, *, tie: bool = False
    ) -> Applied:
        return await self._registry.apply_event(
            record, update, default_tier=self._tiers.lowest.name, same_second_ok=tie
        )

    async def _apply_as_stripe_has_it(
        self, record: EventRecord, update: SubscriptionUpdate | None
    ) -> Applied:
        """Resolve two events of the same second.

        Stripe's `created` has one-second resolution, so of two events in the same second
        neither can be proven newer. The subscription as Stripe has it now is newer than
        both, so it is read back and applied in this event's place.
        """
        assert update is not None  # an event with no update never ties
        subscription_id = update.subscription_id or update.only_if_subscription
        if not subscription_id:
            # Nothing to read back (a checkout that names no subscription): its own update
            # only links ids, which no other event contradicts.
            return await self._apply(record, update, tie=True)
        if self._stripe is None:
            raise StripeUnavailable(
                "two events of the same second need the subscription read back from Stripe,"
                " and STRIPE_SECRET_KEY is not set"
            )
        current = subscription_update(await self._stripe.subscription(subscription_id), self._tiers)
        return await self._apply(
            record, dataclasses.replace(current, account_id=update.account_id), tie=True
        )

    async def _with_account(self, update: SubscriptionUpdate | None) -> SubscriptionUpdate | None:
        """The update with its account, looked up by customer when the event lacks it."""
        if update is None or update.account_id:
            return update
        if update.customer_id:
            account_id = await self._registry.account_for_customer(update.customer_id)
            if account_id:
                return dataclasses.replace(update, account_id=account_id)
        log.warning("stripe event for no known account (customer=%s)", update.customer_id)
        return None
