"""One Stripe Billing meter event: what is sent, and what Stripe's answer means.

Stripe's API (v1, `POST /v1/billing/meter_events`, form-encoded): `event_name` (the meter's
event name, at most 100 characters), `payload[stripe_customer_id]`, `payload[value]`,
`timestamp` (seconds; at most 35 calendar days in the past and 5 minutes in the future) and
`identifier` (at most 100 characters). Stripe keeps identifiers unique "within a rolling
period of at least 24 hours": a second event with an identifier it still remembers is refused
with HTTP 400, `type` invalid_request_error, no `code`, the message "An event already exists
with identifier <identifier>." and `Stripe-Should-Retry: false`. That refusal proves the first
one arrived, so it counts as delivered (a pipeline that treats it as a failure stalls on it
for good). After the window Stripe may have forgotten the identifier; the meter push never
resends a batch that old (meter/push.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "DUPLICATE_MESSAGE",
    "IDENTIFIER_WINDOW_MS",
    "MAX_FUTURE_MS",
    "MAX_PAST_MS",
    "MeterDelivery",
    "MeterEvent",
    "MeterEventSender",
    "is_duplicate_refusal",
]

DUPLICATE_MESSAGE = "An event already exists with identifier"
IDENTIFIER_WINDOW_MS = 24 * 3_600_000  # "at least 24 hours": the least Stripe promises
MAX_PAST_MS = 35 * 86_400_000  # the oldest timestamp Stripe takes
MAX_FUTURE_MS = 5 * 60_000  # the furthest ahead

# accepted: Stripe took the event now; duplicate: it had it already (delivered before)
MeterDelivery = Literal["accepted", "duplicate"]


@dataclass(frozen=True, slots=True)
class MeterEvent:
    event_name: str
    customer_id: str
    value: int
    timestamp_s: int
    identifier: str

    def params(self) -> dict[str, object]:
        return {
            "event_name": self.event_name,
            "payload": {"stripe_customer_id": self.customer_id, "value": str(self.value)},
            "timestamp": self.timestamp_s,
            "identifier": self.identifier,
        }


class MeterEventSender(Protocol):
    async def send_meter_event(self, event: MeterEvent) -> MeterDelivery:
        """Send one event, retrying network errors, 429 and 5xx with backoff within a time
        budget; raises `StripeUnavailable` when that runs out and `StripeRejected` for any
        other refusal. Each attempt is a new request (its own idempotency key): Stripe keeps
        a request's first answer under its key, a 500 included, so only a new key can get
        past a failed attempt, and the identifier is what deduplicates."""
        ...


def is_duplicate_refusal(status: int | None, message: str) -> bool:
    """Whether Stripe's answer is its refusal of an identifier it has seen."""
    return status == 400 and message.startswith(DUPLICATE_MESSAGE)
