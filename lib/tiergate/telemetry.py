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
    "NAMESPACE",
    "SERVICE_API",
    "SERVICE_WEBHOOK",
    "WEBHOOK",
]

NAMESPACE = "tiergate"
DIM_SERVICE = "service"
SERVICE_API = "api"
SERVICE_WEBHOOK = "webhook"

DIM_REASON = "reason"
# A request answered with a denial; reason: the problem slug (burst-exceeded,
# quota-exhausted, limiter-unavailable, revoked-key, ...).
DENIED = "Denied"
# A request decided without a full answer from a store; reason: fail-open (admitted
# uncounted, Redis down), stale-registry (the last loaded copy stood in for DynamoDB),
# refund-failed (a non-billable answer whose refund did not reach Redis).
DEGRADED = "Degraded"

DIM_OUTCOME = "outcome"
# One Stripe webhook delivery; outcome: what the registry made of it (applied, duplicate,
# stale, recorded), or invalid-signature, bad-request (too large, not JSON), failed (answered
# 5xx, so Stripe retries), not-configured.
WEBHOOK = "Webhook"
