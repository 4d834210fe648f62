"""A small stateful Stripe stand-in: the HTTP API tiergate calls, and test controls that make
Stripe-side things happen (a checkout completes, a payment fails) and emit signed events.

Billing meter events (`POST /v1/billing/meter_events`) are deduplicated by identifier as
Stripe does: an identifier seen in the last 24 hours (of the fake clock) is refused with
Stripe's 400 ("An event already exists with identifier ...", Stripe-Should-Retry: false), and
the timestamp must lie within 35 days back and 5 minutes ahead. `meter_failures` makes the
next answers fail: "500" or "429" before accepting, "drop" after accepting (the event is kept
and the connection cut before the answer: the answer is lost).

It speaks Stripe's wire format: form-encoded requests with bracketed nested keys, JSON
objects with prefixed ids, `object`, `created` and `metadata`. Events are signed the way
Stripe signs them, with the real `stripe` library's header builder.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tiergate.clock import Clock
from tiergate_tools.localredis.background import serve_in_thread

__all__ = ["Delivery", "FakeStripe", "running_fake_stripe"]

MONTH_S = 30 * 86_400
IDENTIFIER_WINDOW_S = 24 * 3600  # Stripe: "a rolling period of at least 24 hours"


@dataclass(frozen=True)
class Delivery:
    """A signed webhook, ready to POST: exactly what Stripe would send."""

    event: dict[str, Any]
    payload: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Stripe-Signature": self.signature, "Content-Type": "application/json"}


@dataclass
class FakeStripe:
    clock: Clock
    webhook_secret: str
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Prices whose recurring.usage_type is metered: a Checkout line item for one takes no
    # quantity, and any other needs one (Stripe refuses both mistakes with a 400).
    metered_prices: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    outbox: list[Delivery] = field(default_factory=list)
    idempotency_keys: list[str] = field(default_factory=list)  # of each POST, in order
    failures: list[int] = field(default_factory=list)  # statuses to answer next, in order
    hang_s: float = 0.0  # each API call waits this long first
    should_retry: str | None = None  # the Stripe-Should-Retry header on failures, if set
    meter_events: list[dict[str, Any]] = field(default_factory=list)  # accepted, in order
    meter_failures: list[str] = field(default_factory=list)  # "500", "429", "drop", in order
    meter_requests: int = 0  # meter-event POSTs received, accepted or not
    _identifiers: dict[str, int] = field(default_factory=dict)  # identifier -> accepted at (s)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- the HTTP API --------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._create_portal, methods=["POST"]),
                Route("/v1/subscriptions/{id}", self._get_subscription, methods=["GET"]),
                Route("/v1/billing/meter_events", _Raw(self._meter_event), methods=["POST"]),
            ]
        )

    def metered(self, customer_id: str | None = None, event_name: str | None = None) -> int:
        """Units Stripe took, for one customer and meter (or all of them)."""
        return sum(
            int(e["payload"]["value"])
            for e in self.meter_events
            if customer_id in (None, e["payload"]["stripe_customer_id"])
            and event_name in (None, e["event_name"])
        )

    async def _meter_event(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        self.meter_requests += 1
        params = await self._receive(request)
        failure = None
        if isinstance(params, JSONResponse):
            answer = params
        elif self.meter_failures and self.meter_failures[0] in ("500", "429"):
            failure = self.meter_failures.pop(0)
            kind = "rate_limit_error" if failure == "429" else "api_error"
            answer = _error(int(failure), "Injected failure", kind=kind)
        else:
            failure = self.meter_failures.pop(0) if self.meter_failures else None
            answer = self._accept_meter_event(params)
        if failure == "drop" and answer.status_code == 200:
            # Headers out, then the connection cut before the body: the event is kept and its
            # answer lost, as when a network fails on the way back.
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", b"1000")]})  # fmt: skip
            raise _AnswerLost
        await answer(scope, receive, send)

    def _accept_meter_event(self, params: dict[str, Any]) -> JSONResponse:
        now = self._now_s()
        payload = params.get("payload") or {}
        name, identifier = params.get("event_name", ""), params.get("identifier", "")
        for field_name, value in (
            ("event_name", name),
            ("payload[stripe_customer_id]", payload.get("stripe_customer_id")),
            ("payload[value]", payload.get("value")),
        ):
            if not value:
                return _error(400, f"Missing required param: {field_name}.", param=field_name)
        if not str(payload["value"]).isdigit():
            return _error(400, "Invalid payload: value must be a number", param="payload")
        if len(name) > 100 or len(identifier) > 100:
            return _error(400, "Invalid string: at most 100 characters", param="identifier")
        timestamp = int(params.get("timestamp") or now)
        if not now - 35 * 86_400 <= timestamp <= now + 300:
            return _error(400, "Timestamp must be within the past 35 days", param="timestamp")
        identifier = identifier or self._id("mev")
        seen = self._identifiers.get(identifier)
        if seen is not None and now - seen < IDENTIFIER_WINDOW_S:
            refused = _error(400, f"An event already exists with identifier {identifier}.")
            refused.headers["Stripe-Should-Retry"] = "false"
            return refused
        self._identifiers[identifier] = now
        event = {
            "object": "billing.meter_event",
            "created": now,
            "event_name": name,
            "identifier": identifier,
            "livemode": False,
            "payload": {k: str(v) for k, v in payload.items()},
            "timestamp": timestamp,
        }
        self.meter_events.append(event)
        return JSONResponse(event)

    async def _create_session(self, request: Request) -> JSONResponse:
        params = await self._receive(request)
        if isinstance(params, JSONResponse):
            return params
        price = params["line_items"][0]["price"]
        if refused := self._refused_line_items(params["line_items"]):
            return refused
        session = {
            "id": self._id("cs_test"),
            "object": "checkout.session",
            "mode": params["mode"],
            "url": f"https://checkout.stripe.test/c/pay/{len(self.sessions)}",
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "metadata": params.get("metadata", {}),
            "subscription": None,
            "status": "open",
            "_price": price,
            "_line_items": params["line_items"],
            "_subscription_metadata": params.get("subscription_data", {}).get("metadata", {}),
        }
        self.sessions[session["id"]] = session
        return JSONResponse(_public(session))

    def _refused_line_items(self, items: list[dict[str, Any]]) -> JSONResponse | None:
        for n, item in enumerate(items):
            price = item.get("price", "")
            if not price.startswith("price_"):
                return _error(400, f"No such price: '{price}'", param=f"line_items[{n}][price]")
            metered = price in self.metered_prices
            if metered == ("quantity" in item):
                message = (
                    "Quantity should not be specified where usage_type is `metered`."
                    if metered
                    else f"Quantity is required. Add `quantity` to `line_items[{n}]`"
                )
                return _error(400, message, param=f"line_items[{n}][quantity]")
        return None

    async def _create_portal(self, request: Request) -> JSONResponse:
        params = await self._receive(request)
        if isinstance(params, JSONResponse):
            return params
        if not str(params.get("customer", "")).startswith("cus_"):
            return _error(400, "No such customer", param="customer")
        return JSONResponse(
            {
                "id": self._id("bps"),
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{params['customer']}",
            }
        )

    async def _get_subscription(self, request: Request) -> JSONResponse:
        params = await self._receive(request)
        if isinstance(params, JSONResponse):
            return params
        found = self.subscriptions.get(request.path_params["id"])
        if found is None:
            return _error(404, "No such subscription", param="id")
        return JSONResponse(found)

    async def _receive(self, request: Request) -> dict[str, Any] | JSONResponse:
        if not request.headers.get("authorization", "").startswith("Bearer sk_test_"):
            return _error(401, "Invalid API Key provided")
        params = parse_form((await request.body()).decode())
        self.requests.append((request.method, request.url.path, params))
        if request.method == "POST":
            self.idempotency_keys.append(request.headers.get("idempotency-key", ""))
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.failures:
            failed = _error(self.failures.pop(0), "An unexpected error occurred", kind="api_error")
            if self.should_retry is not None:
                failed.headers["Stripe-Should-Retry"] = self.should_retry
            return failed
        return params

    # -- test controls: what happens on Stripe's side ---------------------------------------

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer pays: a customer and an active subscription appear; two events."""
        session = self.sessions[session_id]
        customer = session["customer"] or self._id("cus")
        now = self._now_s()
        subscription = {
            "id": self._id("sub"),
            "object": "subscription",
            "customer": customer,
            "status": "active",
            "created": now,
            "metadata": session["_subscription_metadata"],
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self._id("si"),
                        "object": "subscription_item",
                        "price": {"id": item["price"], "object": "price"},
                        "current_period_start": now,
                        "current_period_end": now + MONTH_S,
                    }
                    for item in session["_line_items"]
                ],
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        session.update(customer=customer, subscription=subscription["id"], status="complete")
        self.emit("checkout.session.completed", _public(session))
        self.emit("customer.subscription.created", subscription)
        return subscription

    def fail_payment(self, subscription_id: str) -> None:
        """A renewal charge fails: the subscription goes past_due."""
        self._invoice(subscription_id, "invoice.payment_failed", paid=False)
        self._set_status(subscription_id, "past_due")

    def pay_invoice(self, subscription_id: str) -> None:
        """The customer fixes the card and the invoice is paid: active again."""
        self._invoice(subscription_id, "invoice.paid", paid=True)
        self._set_status(subscription_id, "active")

    def cancel(self, subscription_id: str) -> None:
        subscription = self.subscriptions[subscription_id]
        subscription["status"] = "canceled"
        self.emit("customer.subscription.deleted", subscription)

    def emit(self, kind: str, obj: dict[str, Any]) -> Delivery:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": self._now_s(),
            "type": kind,
            "livemode": False,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        payload = json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(
            payload.decode(), self.webhook_secret, timestamp=self._now_s()
        )
        delivery = Delivery(event, payload, header)
        self.outbox.append(delivery)
        return delivery

    async def deliver(self, client: httpx.AsyncClient) -> list[httpx.Response]:
        """POST every pending event to the app's /webhooks/stripe, oldest first."""
        pending, self.outbox = self.outbox, []
        return [
            await client.post("/webhooks/stripe", content=d.payload, headers=d.headers)
            for d in pending
        ]

    def _invoice(self, subscription_id: str, kind: str, *, paid: bool) -> None:
        subscription = self.subscriptions[subscription_id]
        self.emit(
            kind,
            {
                "id": self._id("in"),
                "object": "invoice",
                "customer": subscription["customer"],
                "status": "paid" if paid else "open",
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription_id,
                        "metadata": subscription["metadata"],
                    },
                },
            },
        )

    def _set_status(self, subscription_id: str, status: str) -> None:
        subscription = self.subscriptions[subscription_id]
        subscription["status"] = status
        self.emit("customer.subscription.updated", subscription)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):014d}"

    def _now_s(self) -> int:
        return self.clock.now_ms() // 1000


@contextmanager
def running_fake_stripe(fake: FakeStripe) -> Iterator[str]:
    """Serve the fake on a free loopback port; yields its base URL."""
    with serve_in_thread(fake.app()) as url:
        yield url


class _AnswerLost(Exception):
    """Raised after the response started: the server then cuts the connection."""


class _Raw:
    """A raw ASGI endpoint (Starlette treats a plain function or method as request-response)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding back into nested objects: a[b][0][c]=v -> {"a": {"b": [{"c": v}]}}."""
    root: dict[str, Any] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        head = name.split("[", 1)[0]
        path = [head, *_BRACKETS.findall(name)]
        node: Any = root
        for part, following in itertools.pairwise(path):
            default: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(default if len(node) == index else {})
                node = node[index]
            else:
                node = node.setdefault(part, default)
        last = path[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _error(
    status: int, message: str, *, kind: str = "invalid_request_error", param: str = ""
) -> JSONResponse:
    body = {"error": {"type": kind, "message": message, "param": param or None}}
    return JSONResponse(body, status)
