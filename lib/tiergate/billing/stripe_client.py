"""The Stripe calls tiergate makes, with bounded retries: backoff with full jitter, a cap on
attempts and on the total time, then `StripeUnavailable` (a 503 to the caller).

stripe-python's own retries are off (max_network_retries=0) so that this one loop owns the
time budget. Calls go through the library's async methods on its httpx client, so a slow
Stripe holds only the request that waits for it, never the event loop. The library (a few
hundred milliseconds to import) loads on the first Stripe call, not at a cold start.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..backoff import Backoff
from ..errors import StripeRejected, StripeUnavailable
from ..lazy import Lazy
from ..meter.events import MeterDelivery, MeterEvent, is_duplicate_refusal
from .settings import BillingSettings

if TYPE_CHECKING:
    import stripe

__all__ = ["StripeGateway", "build_stripe"]

log = logging.getLogger("tiergate")
_T = TypeVar("_T")


class StripeGateway:
    def __init__(
        self,
        client: Callable[[], stripe.StripeClient],
        *,
        budget_s: float,
        attempts: int = 4,
        first_delay_s: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,  # seconds; moves with `sleep`
        close: Callable[[], Awaitable[None]] | None = None,  # the client's connections
    ) -> None:
        self._made: Lazy[stripe.StripeClient] = Lazy(client)  # made on first use
        self._budget_s = budget_s
        self._backoff = Backoff(
            first_delay_s, attempts=attempts, sleep=sleep, jitter=jitter, now_s=monotonic
        )
        self._close = close

    @property
    def _client(self) -> stripe.StripeClient:
        return self._made.get()

    async def aclose(self) -> None:
        """Close the client's connections, if it was ever made."""
        if self._made.made and self._close is not None:
            await self._close()

    async def subscription(self, subscription_id: str) -> Mapping[str, Any]:
        found = await self._call(
            "read subscription",
            lambda _: self._client.v1.subscriptions.retrieve_async(subscription_id),
        )
        return found.to_dict()

    async def checkout_url(
        self,
        *,
        account_id: str,
        customer_id: str,
        price: str,
        success_url: str,
        cancel_url: str,
        metered_price: str | None = None,
    ) -> str:
        """A Checkout Session for `price` (the tier's flat price) and, for a tier with
        overage, its `metered_price` as a second item: Stripe bills that one from the meter's
        events each period, so it takes no quantity (Stripe refuses one on a metered price)."""
        items: list[dict[str, Any]] = [{"price": price, "quantity": 1}]
        if metered_price:
            items.append({"price": metered_price})
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": items,
            "client_reference_id": account_id,
            "metadata": {"account_id": account_id},
            "subscription_data": {"metadata": {"account_id": account_id}},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if customer_id:
            params["customer"] = customer_id
        session = await self._call(
            "create a Checkout Session",
            lambda key: self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": key},
            ),
        )
        return str(session.url)

    async def portal_url(self, *, customer_id: str, return_url: str) -> str:
        session = await self._call(
            "create a Billing Portal session",
            lambda key: self._client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}, {"idempotency_key": key}
            ),
        )
        return str(session.url)

    async def send_meter_event(self, event: MeterEvent) -> MeterDelivery:
        """One Billing meter event (meter/events.py says what Stripe's answers mean)."""
        import stripe

        async def attempt(_key: str) -> MeterDelivery:
            # No idempotency key of ours: stripe-python gives every POST a fresh one, so a
            # retry is a new request, and the identifier deduplicates (see MeterEventSender).
            try:
                await self._client.v1.billing.meter_events.create_async(
                    event.params()  # type: ignore[arg-type]
                )
            except stripe.InvalidRequestError as exc:
                message = exc.error.message if exc.error and exc.error.message else str(exc)
                if is_duplicate_refusal(exc.http_status, message):
                    return "duplicate"
                raise
            return "accepted"

        return await self._call("send a meter event", attempt)

    async def _call(self, what: str, call: Callable[[str], Awaitable[_T]]) -> _T:
        """Run `call` until it succeeds, Stripe refuses, or attempts or time run out.

        `call` gets one idempotency key for all its attempts, so a retried create whose
        first attempt did reach Stripe returns that first object instead of a second one.
        """
        import stripe

        key = f"tiergate-{uuid.uuid4()}"
        backoff = self._backoff
        deadline = backoff.deadline(self._budget_s)
        problem = "no attempt made"
        for attempt in range(backoff.attempts):
            left = backoff.left_s(deadline)
            if left <= 0:
                break
            try:
                return await asyncio.wait_for(call(key), timeout=left)
            except TimeoutError:
                problem = "timed out"
                break
            except stripe.StripeError as exc:
                problem = f"{type(exc).__name__} (HTTP {exc.http_status})"
                if not _retryable(exc):
                    if (exc.http_status or 0) >= 500:
                        raise StripeUnavailable(f"could not {what}: {problem}") from exc
                    raise StripeRejected(
                        f"Stripe refused to {what}: {exc.user_message or exc}"
                    ) from exc
            delay = backoff.wait_s(attempt, deadline)
            if delay is None:
                break
            log.info("Stripe could not %s (%s); retrying in %.2f s", what, problem, delay)
            await backoff.sleep(delay)
        raise StripeUnavailable(f"could not {what} within {self._budget_s:g} s: {problem}")


def _retryable(exc: stripe.StripeError) -> bool:
    import stripe

    should = (exc.headers or {}).get("stripe-should-retry")
    if should is not None:
        return bool(should == "true")
    if isinstance(exc, stripe.APIConnectionError):
        return True
    status = exc.http_status or 0
    return status == 429 or status >= 500 or status == 409  # 409: an idempotent twin in flight


def build_stripe(
    settings: BillingSettings, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> StripeGateway | None:
    """The gateway, or None when STRIPE_SECRET_KEY is not set. `sleep`: between retries
    (tests pass one that returns at once)."""
    if settings.stripe_secret_key is None:
        return None
    api_key = settings.stripe_secret_key.get_secret_value()
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None

    made: list[stripe.HTTPXClient] = []

    def connect() -> stripe.StripeClient:
        import stripe

        made.append(stripe.HTTPXClient(timeout=settings.stripe_timeout))
        return stripe.StripeClient(
            api_key,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=0,
            http_client=made[-1],
        )

    async def close() -> None:
        for http in made:
            await http.close_async()  # type: ignore[no-untyped-call]

    return StripeGateway(connect, budget_s=settings.stripe_retry_budget, sleep=sleep, close=close)
