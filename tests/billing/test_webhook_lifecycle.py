"""A subscription's life through POST /webhooks/stripe, and the two failures that happen after
verification: Redis missing the write-through, and a same-second tie with no Stripe key."""

from __future__ import annotations

from typing import Any

import httpx

from tiergate.errors import StoreUnavailable
from tiergate.store import HotStore
from tiergate.web.webhooks import create_webhook_app

from .conftest import Billing, billing_settings
from .events import (
    NOW_S,
    checkout_session,
    deliver,
    event,
    outcome,
    signed,
    subscription,
    tier_and_status,
    upgrade,
)


async def test_a_subscription_is_created_paused_and_resumed(billing: Billing) -> None:
    key = await billing.account()
    created = event("customer.subscription.created", subscription(), created=NOW_S - 60)
    assert outcome(await deliver(billing, created)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 200
    paused = event(
        "customer.subscription.paused", subscription(status="paused"), created=NOW_S - 50
    )
    assert outcome(await deliver(billing, paused)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 402
    resumed = event("customer.subscription.resumed", subscription(), created=NOW_S - 40)
    assert outcome(await deliver(billing, resumed)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 200


async def test_a_first_payment_that_never_comes_leaves_the_free_tier_as_it_was(
    billing: Billing,
) -> None:
    key = await billing.account()
    incomplete = subscription(status="incomplete", customer="cus_9")
    created = event("customer.subscription.created", incomplete, created=NOW_S - 60)
    assert outcome(await deliver(billing, created)) == "applied"  # the customer is linked
    assert await billing.parts.registry.account_for_customer("cus_9") == "acme"
    assert (await billing.get("/v1/hello", key)).status_code == 200
    assert (await billing.get("/v1/pro/hello", key)).status_code == 403
    expired = subscription(status="incomplete_expired", customer="cus_9")
    updated = event("customer.subscription.updated", expired, created=NOW_S - 50)
    assert outcome(await deliver(billing, updated)) == "recorded"  # never the account's own
    assert await tier_and_status(billing) == ("free", "active")
    assert (await billing.get("/v1/hello", key)).status_code == 200


async def test_a_checkout_links_the_customer_for_events_that_name_no_account(
    billing: Billing,
) -> None:
    key = await billing.account()
    completed = event(
        "checkout.session.completed",
        checkout_session(customer="cus_9", sub_id="sub_9"),
        created=NOW_S - 60,
    )
    assert outcome(await deliver(billing, completed)) == "applied"
    account = await billing.parts.registry.get_account("acme")
    assert account is not None
    # Only the ids: the tier comes with the subscription's own events.
    assert (account.tier, account.customer_id, account.subscription_id) == (
        "free",
        "cus_9",
        "sub_9",
    )
    anonymous = subscription("sub_9", account=None, customer="cus_9")
    created = event("customer.subscription.created", anonymous, created=NOW_S - 59)
    assert outcome(await deliver(billing, created)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 200


async def test_the_end_of_a_replaced_subscription_changes_nothing(billing: Billing) -> None:
    await billing.account()
    await deliver(billing, upgrade(created=NOW_S - 60))
    moved = upgrade(created=NOW_S - 50, sub_id="sub_2", price="price_ent")
    assert outcome(await deliver(billing, moved)) == "applied"
    old_ended = event(
        "customer.subscription.deleted", subscription(status="canceled"), created=NOW_S - 40
    )
    assert outcome(await deliver(billing, old_ended)) == "recorded"
    assert await tier_and_status(billing) == ("enterprise", "active")


async def test_an_event_for_no_known_account_is_recorded(billing: Billing) -> None:
    await billing.account()
    stranger = upgrade(account=None, customer="cus_stranger")
    assert outcome(await deliver(billing, stranger)) == "recorded"
    assert outcome(await deliver(billing, stranger)) == "duplicate"
    assert await billing.parts.registry.account_for_customer("cus_stranger") is None
    assert await tier_and_status(billing) == ("free", "active")


class WriteFailsOnce:
    """A hot store whose next write through fails, as if Upstash timed out."""

    def __init__(self, inner: HotStore) -> None:
        self.inner = inner
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, **kwargs: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("Upstash: read timed out")
        await self.inner.write(**kwargs)


async def test_a_failed_write_through_answers_503_and_the_retry_repairs_redis(
    billing: Billing,
) -> None:
    key = await billing.account()
    assert (await billing.get("/v1/pro/hello", key)).status_code == 403  # free, now in Redis
    async with billing.rewired(store=WriteFailsOnce(billing.parts.store)) as b:
        evt = upgrade()
        response = await deliver(b, evt)
        assert response.status_code == 503
        assert await tier_and_status(b) == ("pro", "active")  # the registry committed
        assert (await b.get("/v1/pro/hello", key)).status_code == 403  # Redis did not
        # Stripe redelivers: a duplicate for the registry, yet it writes the state through.
        assert outcome(await deliver(b, evt)) == "duplicate"
        assert (await b.get("/v1/pro/hello", key)).status_code == 200


async def test_a_same_second_tie_without_a_stripe_key_answers_503_and_writes_nothing(
    billing: Billing, stripe_url: str
) -> None:
    await billing.account()
    no_stripe = billing_settings(stripe_url, stripe_secret_key=None)
    app = create_webhook_app(no_stripe, parts=billing.parts_with(no_stripe))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as client:

        async def post(evt: dict[str, Any]) -> httpx.Response:
            payload, header = signed(evt, at_s=NOW_S)
            headers = {"Stripe-Signature": header}
            return await client.post("/webhooks/stripe", content=payload, headers=headers)

        assert outcome(await post(upgrade(created=NOW_S - 5))) == "applied"
        tie = upgrade(created=NOW_S - 5, status="past_due")
        response = await post(tie)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert await tier_and_status(billing) == ("pro", "active")
    # Not recorded: once Stripe can be asked, the redelivery settles the tie.
    billing.stripe.subscriptions["sub_1"] = subscription(status="past_due")
    assert outcome(await deliver(billing, tie)) == "applied"
    assert await tier_and_status(billing) == ("pro", "past_due")
