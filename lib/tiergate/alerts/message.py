"""What a usage alert says: one JSON document (the webhook's body, also quoted in the email),
in the shape Standard Webhooks recommends (`type`, `timestamp`, `data`).

The body is built from the crossing alone, so every delivery of one crossing (a retry, a
later run) sends the very same bytes under the same `webhook-id`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..usage import AlertCrossing

__all__ = ["EVENT_TYPE", "alert_body", "email_subject", "email_text"]

EVENT_TYPE = "usage.alert"


def alert_body(crossing: AlertCrossing) -> str:
    """The JSON body, minified (what is signed is what is sent)."""
    document = {
        "type": EVENT_TYPE,
        "id": crossing.id,
        "timestamp": _iso(crossing.at_ms),  # when the request that crossed it was admitted
        "data": {
            "account": crossing.account_id,
            "tier": crossing.tier,
            # "80", "100": percent of limit; "cap": the overage cap was reached
            "threshold": crossing.label,
            "used": crossing.used,
            "limit": crossing.limit,
            "period_start": _iso(crossing.period_start_ms),
            "period_end": _iso(crossing.period_end_ms),
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def email_subject(crossing: AlertCrossing) -> str:
    return f"Usage alert: account {crossing.account_id} {_reached(crossing)}"


def email_text(crossing: AlertCrossing) -> str:
    return (
        f"Account {crossing.account_id} (tier {crossing.tier}) {_reached(crossing)}.\n\n"
        f"Used {crossing.used:,} of {crossing.limit:,} in the billing period"
        f" {_iso(crossing.period_start_ms)} to {_iso(crossing.period_end_ms)}.\n\n"
        f"Alert id {crossing.id}. The same alert as JSON:\n{alert_body(crossing)}\n"
    )


def _reached(crossing: AlertCrossing) -> str:
    if crossing.label == "cap":
        return "reached its overage cap"
    return f"reached {crossing.label}% of its quota"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
