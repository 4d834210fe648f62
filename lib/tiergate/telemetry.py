"""The names of what tiergate measures, shared by the code that emits the metrics and by the
alarms in serverless.yml that watch them (a test holds the two to the same spelling).

Metrics are CloudWatch EMF, namespace NAMESPACE, every one with the `service` dimension (the
function: SERVICE_API or SERVICE_WEBHOOK) plus the one dimension named beside it.
"""

from __future__ import annotations

__all__ = [
    "DEGRADED",
    "DENIED",
    "DIM_OUTCOME",
    "DIM_REASON",
    "DIM_SERVICE",
    "METER_PUSH",
    "METER_UNITS",
    "NAMESPACE",
    "OUTCOME_BAD_REQUEST",
    "OUTCOME_BEHIND",
    "OUTCOME_DUPLICATE",
    "OUTCOME_FAILED",
    "OUTCOME_INVALID_SIGNATURE",
    "OUTCOME_MISSED",
    "OUTCOME_NOT_CONFIGURED",
    "OUTCOME_SENT",
    "OUTCOME_WAITING",
    "REASON_FAIL_OPEN",
    "REASON_KEY_IN_QUERY",
    "REASON_REFUND_FAILED",
    "REASON_STALE_REGISTRY",
    "SERVICE_API",
    "SERVICE_METER",
    "SERVICE_WEBHOOK",
    "WEBHOOK",
]

NAMESPACE = "tiergate"
DIM_SERVICE = "service"
SERVICE_API = "api"
SERVICE_WEBHOOK = "webhook"
SERVICE_METER = "meter"  # the scheduled meter push (`tiergate meter push`)

DIM_REASON = "reason"
# A request answered with a denial; reason: the problem slug (burst-exceeded,
# quota-exhausted, limiter-unavailable, revoked-key, ...).
DENIED = "Denied"
# A request decided without a full answer from a store; reason: fail-open (admitted
# uncounted, Redis down), stale-registry (the last loaded copy stood in for DynamoDB),
# refund-failed (a non-billable answer whose refund did not reach Redis).
DEGRADED = "Degraded"
REASON_FAIL_OPEN = "fail-open"
REASON_STALE_REGISTRY = "stale-registry"
REASON_REFUND_FAILED = "refund-failed"
# The one denial the web layer makes before the gate: an API key in the query string.
REASON_KEY_IN_QUERY = "key-in-query"

DIM_OUTCOME = "outcome"
# One Stripe webhook delivery; outcome: what the registry made of it (applied, duplicate,
# stale, recorded), or invalid-signature, bad-request (too large, not JSON), failed (answered
# 5xx, so Stripe retries), not-configured.
WEBHOOK = "Webhook"
# The outcomes the web layer names; the registry's (applied, duplicate, stale, recorded) are
# the webhook processor's own words.
OUTCOME_INVALID_SIGNATURE = "invalid-signature"
OUTCOME_BAD_REQUEST = "bad-request"
OUTCOME_FAILED = "failed"
OUTCOME_NOT_CONFIGURED = "not-configured"

# The meter push (billing/meter.py), one count per account period and meter it handled;
# outcome: sent (Stripe took a batch), duplicate (Stripe already had the batch's identifier:
# delivered before), failed (Stripe or the registry failed; the batch is retried on the next
# run), waiting (no Stripe customer linked yet), missed (units that can no longer be billed
# into their period: alarm on it), behind (the hot store counts fewer units than were already
# sent: Redis lost counters, or a refund came after the send).
METER_PUSH = "MeterPush"
# The units behind those outcomes (sent, missed, waiting), so an alarm can weigh them.
METER_UNITS = "MeterUnits"
OUTCOME_SENT = "sent"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME_WAITING = "waiting"
OUTCOME_MISSED = "missed"
OUTCOME_BEHIND = "behind"
