"""Build tiergate's parts from settings, once per container, and hand each its collaborators.

`build` makes the stores (each chosen on its own by what is configured), the write-through
publisher and the gate; `Parts` keeps them so that the web layer, the admin commands and the
webhook get the very same objects. Parts is the wiring's, not a locator for the components:
each of them is given only what it uses (`Parts.admin`, `Parts.webhook_processor`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .clock import Clock, SystemClock
from .gate import Gate
from .keys import KeyEnv
from .lazy import Lazy
from .publisher import Publisher
from .settings import GateSettings
from .tiers import Tiers, load_tiers

# What a request does not need loads only where it is used: the in-process store and
# registry (a deployment with Upstash and a table never loads them), the admin commands,
# the webhook's processor, the meter push, the stores' clients.
if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from upstash_redis.asyncio import Redis

    from .admin import Admin
    from .alerts.contacts_store import ContactsStore
    from .alerts.queue import AlertQueue
    from .billing import StripeApi
    from .billing.settings import BillingSettings
    from .billing.webhook import WebhookProcessor
    from .config import Settings
    from .meter.index import MeterIndex
    from .meter.outbox import MeterOutbox
    from .meter.push import MeterPusher
    from .meter.settings import MeterSettings
    from .registry import Registry
    from .store import HotStore
    from .store.bounded import BoundedRedis
    from .store.memory import MemoryStore

__all__ = ["Parts", "Rooms", "build", "build_stripe", "dynamodb_client", "hot_store"]

_DAY_MS = 86_400_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rooms:
    """The feature rooms' storage. A request never uses it (the gate writes what the rooms
    read in its one call), so each is made, and its modules loaded, when a room first asks:
    a cold start of the API function loads none of them."""

    alert_queue: Lazy[AlertQueue]
    alert_contacts: Lazy[ContactsStore]
    meter_index: Lazy[MeterIndex]
    meter_outbox: Lazy[MeterOutbox]


@dataclass(frozen=True, slots=True)
class Parts:
    """One container's tiergate, built once by `build`."""

    tiers: Tiers
    clock: Clock
    key_env: KeyEnv
    store: HotStore
    registry: Registry
    rooms: Rooms  # the feature rooms' storage, each made on first use
    publisher: Publisher
    stripe: StripeApi | None  # None without STRIPE_SECRET_KEY (Checkout then answers 503)
    gate: Gate
    # The cold paths' upstash-redis client (None without Upstash): the hot store's, unless one
    # was given, and the rooms' storage's; made on first use, closed with the parts.
    redis: Lazy[Redis] | None = None

    @property
    def alert_queue(self) -> AlertQueue:
        """The alert room's: the crossings the gate queued."""
        return self.rooms.alert_queue.get()

    @property
    def alert_contacts(self) -> ContactsStore:
        """The alert room's: where each account's alerts go."""
        return self.rooms.alert_contacts.get()

    @property
    def meter_index(self) -> MeterIndex:
        """The meter room's: the overage the gate counted."""
        return self.rooms.meter_index.get()

    @property
    def meter_outbox(self) -> MeterOutbox:
        """The meter room's: what was sent to Stripe's meter."""
        return self.rooms.meter_outbox.get()

    def admin(self) -> Admin:
        """What the `tiergate keys` and `usage` commands act through."""
        from .admin import Admin  # the commands' code, not the request path's

        return Admin(
            registry=self.registry,
            publisher=self.publisher,
            store=self.store,
            tiers=self.tiers,
            clock=self.clock,
            key_env=self.key_env,
        )

    def webhook_processor(self, settings: BillingSettings) -> WebhookProcessor | None:
        """The webhook's processor, or None without STRIPE_WEBHOOK_SECRET (it answers 503).

        `settings`: the webhook's own (its secrets), which an app may set apart from the
        settings the parts were built from.
        """
        secret = settings.stripe_webhook_secret
        secrets = (
            [s.strip() for s in secret.get_secret_value().split(",") if s.strip()] if secret else []
        )
        if not secrets:
            return None
        from .billing.webhook import WebhookProcessor

        return WebhookProcessor(
            registry=self.registry,
            publisher=self.publisher,
            tiers=self.tiers,
            clock=self.clock,
            secrets=secrets,
            tolerance_s=settings.webhook_tolerance,
            retention_s=settings.event_retention_days * 86_400,
            stripe=self.stripe,
        )

    def meter_pusher(self, settings: MeterSettings) -> MeterPusher | None:
        """What `tiergate meter push` and the scheduled runs run, or None without
        STRIPE_SECRET_KEY."""
        if self.stripe is None:
            return None
        from .meter.push import MeterPusher

        return MeterPusher(
            index=self.meter_index,
            outbox=self.meter_outbox,
            sender=self.stripe,
            clock=self.clock,
            late_window_ms=settings.meter_late_window * 1000,
        )

    async def demo_keys(self) -> dict[str, str]:
        """A fresh demo key per tier (demo.create_demo_keys); returns tier -> key."""
        from .demo import create_demo_keys

        return await create_demo_keys(
            self.registry, self.tiers, clock=self.clock, key_env=self.key_env
        )

    async def aclose(self) -> None:
        await self.store.aclose()
        if self.redis is not None and self.redis.made:  # a room's call may have made it
            await self.redis.get().close()  # closed already by the store, or now
        if self.stripe is not None:
            await self.stripe.aclose()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: HotStore | None = None,
    registry: Registry | None = None,
    alert_queue: AlertQueue | None = None,
    alert_contacts: ContactsStore | None = None,
    meter_index: MeterIndex | None = None,
    meter_outbox: MeterOutbox | None = None,
) -> Parts:
    """Every part, from `settings`. `clock`, `store`, `registry`, the rooms' storage
    (`alert_queue`, `alert_contacts`, `meter_index`, `meter_outbox`) replace the configured
    ones (tests: a frozen clock, a store that fails, a registry that records its calls). An
    in-process `store` given alone comes with its own alert queue and meter index."""
    core, measure = settings.gate, settings.observe.measure
    core.require_production_stores()
    injected = clock
    clock = clock or SystemClock()
    tiers = load_tiers(core.tiers)
    key_env: KeyEnv = "live" if core.env == "production" else "test"
    redis = _upstash_client(core) if core.upstash_redis_rest_url else None
    if store is None:
        store = hot_store(core, clock=injected, redis=redis)
    registry = registry if registry is not None else _registry(core, clock, measure=measure)
    made = store  # the rooms read what this store counts
    rooms = Rooms(
        alert_queue=_given(alert_queue) or Lazy(lambda: _alert_queue(core, made, redis)),
        alert_contacts=_given(alert_contacts) or Lazy(lambda: _alert_contacts(core)),
        meter_index=_given(meter_index) or Lazy(lambda: _meter_index(core, made, redis)),
        meter_outbox=_given(meter_outbox) or Lazy(lambda: _meter_outbox(core, registry)),
    )
    # What the request path sends to Redis is counted for the cost metrics; the admin
    # commands' calls are nobody's request.
    path_store = _counted(store) if measure else store
    publisher = Publisher(
        path_store, tiers, past_due_grace_ms=int(core.past_due_grace_days * _DAY_MS)
    )
    gate = Gate(
        tiers=tiers,
        store=path_store,
        registry=registry,
        publisher=publisher,
        clock=clock,
        key_env=key_env,
        refund_client_errors=core.refund_client_errors,
    )
    return Parts(
        tiers=tiers,
        clock=clock,
        key_env=key_env,
        store=store,
        registry=registry,
        rooms=rooms,
        publisher=publisher,
        stripe=build_stripe(settings.billing, measure=measure),
        gate=gate,
        redis=redis,
    )


def _given(part: T | None) -> Lazy[T] | None:
    """A part the caller gave, held as the rooms hold theirs."""
    return None if part is None else Lazy(lambda: part)


def _alert_queue(settings: GateSettings, store: HotStore, redis: Lazy[Redis] | None) -> AlertQueue:
    """The alert room's queue over the same Redis (or the in-process store's own list) that
    the gate queues crossings in; `redis`: the cold paths' client, when wiring made it."""
    memory = _in_process(store)
    if memory is not None:
        from .alerts.queue_memory import MemoryAlertQueue

        return MemoryAlertQueue(memory.fired)
    rooms_redis = _rooms_redis(settings, redis)
    if rooms_redis is None:  # a store of the caller's own (a test's)
        from .alerts.queue import NoAlertQueue

        return NoAlertQueue()
    from .alerts.queue_upstash import UpstashAlertQueue

    return UpstashAlertQueue(rooms_redis, namespace=settings.redis_namespace)


def _meter_index(settings: GateSettings, store: HotStore, redis: Lazy[Redis] | None) -> MeterIndex:
    """The meter room's index over what the gate counts: the same Redis, or the in-process
    store's own counts; `redis`: the cold paths' client, when wiring made it."""
    memory = _in_process(store)
    if memory is not None:
        from .meter.index_memory import MemoryMeterIndex

        return MemoryMeterIndex(memory.metered)
    rooms_redis = _rooms_redis(settings, redis)
    if rooms_redis is None:  # a store of the caller's own (a test's)
        from .meter.index import NoMeterIndex

        return NoMeterIndex()
    from .meter.index_upstash import UpstashMeterIndex

    return UpstashMeterIndex(rooms_redis, namespace=settings.redis_namespace)


def _in_process(store: HotStore) -> MemoryStore | None:
    """`store` when it is the in-process one. Its module is asked only if it was loaded: a
    store whose module never was cannot be one (and a cold start does not load it)."""
    memory = sys.modules.get("tiergate.store.memory")
    return store if memory is not None and isinstance(store, memory.MemoryStore) else None


def _rooms_redis(settings: GateSettings, redis: Lazy[Redis] | None) -> BoundedRedis | None:
    """The rooms' Redis (the configured Upstash, over the cold paths' client), or None
    without Upstash. A scheduled run waits for it as long as the store's retries may take."""
    if not settings.upstash_redis_rest_url:
        return None
    from .store.bounded import BoundedRedis

    timeout_s = max(settings.redis_timeout, settings.redis_retry_budget)
    return BoundedRedis((redis or _upstash_client(settings)).get, timeout_s=timeout_s)


def _upstash_client(settings: GateSettings) -> Lazy[Redis]:
    """The upstash-redis client of the configured database, made on first use (a request in
    the steady state never needs it: the hot path has its own). One per container: the hot
    store's cold paths, the alert queue and the meter index share it, and none builds it at
    a cold start (each client loads its own TLS context, tens of milliseconds)."""
    url, token = settings.upstash_redis_rest_url, settings.upstash_redis_rest_token
    assert url, "only asked for where Upstash is configured"
    assert token is not None  # Settings refuses a URL without a token

    def make() -> Redis:
        from .store.upstash import connect

        return connect(url, token.get_secret_value())

    return Lazy(make)


def _alert_contacts(settings: GateSettings) -> ContactsStore:
    """The alert room's contacts: in the registry's table when there is one."""
    if not settings.table:
        from .alerts.contacts_memory import MemoryContacts

        return MemoryContacts()
    from .alerts.contacts_dynamo import DynamoContacts  # the client is made on first use

    return DynamoContacts(lambda: dynamodb_client(settings), settings.table)


def _meter_outbox(settings: GateSettings, registry: Registry) -> MeterOutbox:
    """The meter room's outbox: in the registry's table when there is one (else in process,
    reading the customers from `registry`)."""
    if not settings.table:
        from .meter.outbox_memory import MemoryMeterOutbox

        return MemoryMeterOutbox(registry)
    from .meter.outbox_dynamo import DynamoMeterOutbox  # the client is made on first use

    return DynamoMeterOutbox(lambda: dynamodb_client(settings), settings.table)


def _counted(store: HotStore) -> HotStore:
    from .observe.counting import CountedStore

    return CountedStore(store)


def hot_store(
    settings: GateSettings, *, clock: Clock | None = None, redis: Lazy[Redis] | None = None
) -> HotStore:
    """The configured hot store. `clock`: one the caller (a test) chose; Redis then decides
    at its time rather than on its own clock, which no test can move. `redis`: the
    upstash-redis client to share, made on first use (default: one of the store's own)."""
    ttl_ms = settings.idempotency_ttl * 1000
    inflight_ms = settings.idempotency_inflight_ttl * 1000
    hot_ms = settings.hot_state_ttl * 1000
    url, token = settings.upstash_redis_rest_url, settings.upstash_redis_rest_token
    if not url or token is None:  # Settings refuses a URL without a token
        from .store.memory import MemoryStore

        return MemoryStore(
            clock or SystemClock(),
            idempotency_ttl_ms=ttl_ms,
            inflight_ttl_ms=inflight_ms,
            hot_state_ttl_ms=hot_ms,
            idempotency_budget=settings.idempotency_budget,
        )
    from .store.rest import RestClient  # only deployments with Upstash pay for these
    from .store.upstash import UpstashStore

    return UpstashStore(
        (redis or _upstash_client(settings)).get,  # upstash-redis: the cold paths
        RestClient(url, token.get_secret_value()),  # the hot path's calls
        namespace=settings.redis_namespace,
        timeout_s=settings.redis_timeout,
        retry_budget_s=settings.redis_retry_budget,
        idempotency_ttl_ms=ttl_ms,
        inflight_ttl_ms=inflight_ms,
        hot_state_ttl_ms=hot_ms,
        idempotency_budget=settings.idempotency_budget,
        clock=clock,
    )


def _registry(settings: GateSettings, clock: Clock, *, measure: bool) -> Registry:
    if not settings.table:
        from .registry.memory import MemoryRegistry

        return MemoryRegistry(clock)
    from .registry.dynamo import DynamoRegistry  # the client (boto3) is made on first use

    return DynamoRegistry(
        lambda: _measured(dynamodb_client(settings), measure), settings.table, clock=clock
    )


def _measured(client: DynamoDBClient, measure: bool) -> DynamoDBClient:
    if not measure:
        return client
    from .observe.counting import count_dynamodb_units

    return count_dynamodb_units(client)


def dynamodb_client(settings: GateSettings) -> DynamoDBClient:
    from .registry.dynamo import connect

    return connect(
        settings.aws_region or "us-east-1",
        settings.aws_endpoint_url_dynamodb,
        settings.dynamodb_timeout,
    )


def build_stripe(settings: BillingSettings, *, measure: bool) -> StripeApi | None:
    """The Stripe gateway, or None without STRIPE_SECRET_KEY (Checkout then answers 503);
    `measure`: its calls counted for the cost metrics (TIERGATE_MEASURE)."""
    if settings.stripe_secret_key is None:
        return None
    from .billing.stripe_client import build_stripe as build

    stripe = build(settings)
    if stripe is None or not measure:
        return stripe
    from .observe.counting import CountedStripe

    return CountedStripe(stripe)
