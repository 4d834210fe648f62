"""The names of what tiergate measures, shared by the code that emits the metrics and by the
alarms in serverless.yml that watch them (a test holds the two to the same spelling).

Metrics are CloudWatch EMF, namespace NAMESPACE, every one with the `service` dimension (the
function: SERVICE_API, SERVICE_WEBHOOK or SERVICE_SCHEDULED) plus the one dimension named
beside it.
"""

from __future__ import annotations

__all__ = [
    "ALERT_DELIVERED",
    "ALERT_DELIVERY",
    "ALERT_DROPPED",
    "ALERT_FAILED",
    "ALERT_NO_CONTACTS",
    "COST_CPU",
    "COST_DYNAMODB_READS",
    "COST_DYNAMODB_WRITES",
    "COST_METRICS",
    "COST_REDIS_COMMANDS",
    "COST_REQUESTS",
    "COST_RESPONSE_BYTES",
    "COST_STRIPE_CALLS",
    "COST_THIRD_PARTY_CALLS",
    "COST_THIRD_PARTY_USD",
    "COST_WALL",
    "DEGRADED",
    "DENIED",
    "DIM_API",
    "DIM_OUTCOME",
    "DIM_REASON",
    "DIM_ROUTE",
    "DIM_SERVICE",
    "DIM_TIER",
    "METER_BEHIND",
    "METER_FAILED",
    "METER_MISSED",
    "METER_PUSH",
    "METER_SENT",
    "METER_UNITS",
    "METER_WAITING",
    "NAMESPACE",
    "OUTCOME_BAD_REQUEST",
    "OUTCOME_FAILED",
    "OUTCOME_INVALID_SIGNATURE",
    "OUTCOME_NOT_CONFIGURED",
    "REASON_FAIL_OPEN",
    "REASON_KEY_IN_QUERY",
    "REASON_REFUND_FAILED",
    "REASON_STALE_REGISTRY",
    "SERVICE_API",
    "SERVICE_SCHEDULED",
    "SERVICE_WEBHOOK",
    "TIER_NONE",
    "WEBHOOK",
]

NAMESPACE = "tiergate"
DIM_SERVICE = "service"
SERVICE_API = "api"
SERVICE_WEBHOOK = "webhook"
# The scheduled runs (meter push, alert delivery): their own function on AWS; in-process
# (`tiergate serve`) they count under the app's service.
SERVICE_SCHEDULED = "scheduled"

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

# Overage pushed to Stripe's meter events API, by DIM_OUTCOME, one count per batch (an
# account's units of one period): sent (Stripe has it, an "already exists" answer included),
# failed (not sent this run, tried again on the next), missed (its period closed and Stripe's
# window for it passed before it was sent: never billed, so it must be loud).
METER_PUSH = "MeterPush"
METER_SENT = "sent"
METER_FAILED = "failed"
METER_MISSED = "missed"
# Two more the push counts, not alarmed on: waiting (no Stripe customer linked yet: the
# units wait, and the report says `tiergate accounts link`), behind (the hot store counts
# fewer units than were sent already: Redis lost counters, or refunds came after the send;
# nothing is sent until the count passes what was).
METER_WAITING = "waiting"
METER_BEHIND = "behind"
# The units behind MeterPush's outcomes (sent, waiting, missed), so an alarm can weigh them.
METER_UNITS = "MeterUnits"
# One usage alert (a threshold crossed), by DIM_OUTCOME: delivered (every channel the account
# set took it), failed (a channel refused or did not answer; tried again), dropped (given up
# on after its retries, or refused for good: the customer never heard), no-contacts (the
# account set no email and no URL: logged and dropped; not alarmed, since most accounts set
# none).
ALERT_DELIVERY = "AlertDelivery"
ALERT_DELIVERED = "delivered"
ALERT_FAILED = "failed"
ALERT_DROPPED = "dropped"
ALERT_NO_CONTACTS = "no-contacts"

# What each gated request cost to serve (tiergate.observe.costmeter), one EMF document per
# request with the dimensions [service, route, tier]: route is the route's template
# (/v1/items/{id}), tier the caller's, TIER_NONE when the gate refused before knowing it
# (a missing or malformed key). Never the account or the key: a dimension per customer
# would be a custom metric per customer. The requests measured are the SampleCount of
# COST_WALL; measured 1 in N, each document also carries COST_REQUESTS, N per request
# measured, whose Sum estimates the requests served.
DIM_ROUTE = "route"
DIM_TIER = "tier"
TIER_NONE = "none"
COST_WALL = "Wall"  # Milliseconds: the request's wall time in the function (billed duration)
COST_CPU = "Cpu"  # Milliseconds: its share of the process's CPU (observe/cpu.py)
COST_RESPONSE_BYTES = "ResponseBytes"  # Bytes: status line, headers and body sent (egress)
COST_REDIS_COMMANDS = "RedisCommands"  # Count: commands as Upstash bills them
COST_DYNAMODB_READS = "DynamoDBReads"  # Count: read request units
COST_DYNAMODB_WRITES = "DynamoDBWrites"  # Count: write request units
COST_STRIPE_CALLS = "StripeCalls"  # Count: Stripe API calls
# (name, EMF unit) of every cost metric, in the order the document lists them
COST_METRICS = (
    (COST_WALL, "Milliseconds"),
    (COST_CPU, "Milliseconds"),
    (COST_RESPONSE_BYTES, "Bytes"),
    (COST_REDIS_COMMANDS, "Count"),
    (COST_DYNAMODB_READS, "Count"),
    (COST_DYNAMODB_WRITES, "Count"),
    (COST_STRIPE_CALLS, "Count"),
)
COST_REQUESTS = "Requests"  # Count: N per request measured 1 in N (only then: a metric more)
# Third-party calls an endpoint declared or recorded: a document per API the request
# called, dimensions [service, route, tier, api].
DIM_API = "api"
COST_THIRD_PARTY_CALLS = "ThirdPartyCalls"  # Count
COST_THIRD_PARTY_USD = "ThirdPartyUsd"  # None (dollars: CloudWatch has no currency unit)
