"""Build the gate's parts from settings: each store chosen on its own by what is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import Clock, SystemClock
from .gate import Gate
from .registry import Registry
from .registry.memory import MemoryRegistry
from .settings import Settings
from .store import HotStore
from .store.memory import MemoryStore
from .tiers import load_tiers

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from .billing import StripeApi
    from .billing.webhook import WebhookProcessor

__all__ = ["build_gate", "build_stripe", "dynamodb_client", "webhook_processor"]

_DAY_MS = 86_400_000


def build_gate(settings: Settings, *, clock: Clock | None = None) -> Gate:
    settings.require_production_stores()
    injected = clock
    clock = clock or SystemClock()
    return Gate(
        tiers=load_tiers(settings.tiers),
        store=_hot_store(settings, clock, injected),
        registry=_registry(settings, clock),
        clock=clock,
        key_env="live" if settings.env == "production" else "test",
        past_due_grace_ms=int(settings.past_due_grace_days * _DAY_MS),
        refund_client_errors=settings.refund_client_errors,
    )


def _hot_store(settings: Settings, clock: Clock, injected: Clock | None) -> HotStore:
    """`injected`: a clock the caller (a test) chose; Redis then decides at its time rather
    than on its own clock, which no test can move."""
    ttl_ms = settings.idempotency_ttl * 1000
    inflight_ms = settings.idempotency_inflight_ttl * 1000
    hot_ms = settings.hot_state_ttl * 1000
    if not settings.upstash_redis_rest_url:
        return MemoryStore(
            clock, idempotency_ttl_ms=ttl_ms, inflight_ttl_ms=inflight_ms, hot_state_ttl_ms=hot_ms
        )
    from .store.upstash import UpstashStore, connect  # only deployments with Upstash pay for it

    token = settings.upstash_redis_rest_token
    assert token is not None  # Settings refuses a URL without a token
    return UpstashStore(
        connect(settings.upstash_redis_rest_url, token.get_secret_value()),
        namespace=settings.redis_namespace,
        timeout_s=settings.redis_timeout,
        retry_budget_s=settings.redis_retry_budget,
        idempotency_ttl_ms=ttl_ms,
        inflight_ttl_ms=inflight_ms,
        hot_state_ttl_ms=hot_ms,
        clock=injected,
    )


def _registry(settings: Settings, clock: Clock) -> Registry:
    if not settings.table:
        return MemoryRegistry(clock)
    from .registry.dynamo import DynamoRegistry  # the client (boto3) is made on first use

    return DynamoRegistry(lambda: dynamodb_client(settings), settings.table, clock=clock)


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    from .registry.dynamo import connect

    return connect(
        settings.aws_region or "us-east-1",
        settings.aws_endpoint_url_dynamodb,
        settings.dynamodb_timeout,
    )


def build_stripe(settings: Settings) -> StripeApi | None:
    """The Stripe gateway, or None without STRIPE_SECRET_KEY (Checkout then answers 503)."""
    if settings.stripe_secret_key is None:
        return None
    from .billing.stripe_client import build_stripe as build

    return build(settings)


def webhook_processor(
    settings: Settings, gate: Gate, stripe: StripeApi | None
) -> WebhookProcessor | None:
    """The webhook's processor, or None without STRIPE_WEBHOOK_SECRET (it then answers 503)."""
    secret = settings.stripe_webhook_secret
    secrets = (
        [s.strip() for s in secret.get_secret_value().split(",") if s.strip()] if secret else []
    )
    if not secrets:
        return None
    from .billing.webhook import WebhookProcessor

    return WebhookProcessor(
        gate,
        secrets,
        tolerance_s=settings.webhook_tolerance,
        retention_s=settings.event_retention_days * 86_400,
        stripe=stripe,
    )
