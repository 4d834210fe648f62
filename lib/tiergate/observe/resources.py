"""What one gated request spent beyond its own CPU: calls to Redis, DynamoDB, Stripe and the
third-party APIs the app's code declares, added up while the request is served.

Code anywhere in the call (the counting store, the DynamoDB client's hooks, an endpoint)
adds to the request being served through the observation's contextvar, as metrics do: no
argument is threaded through. Outside a measured request (the CLI, a webhook, measuring
switched off) every call here is a no-op.
"""

from __future__ import annotations

import math

from .context import current

__all__ = [
    "Spent",
    "record_call",
    "spent",
    "spent_on_dynamodb",
    "spent_on_redis",
    "spent_on_stripe",
]


class Spent:
    """Counters of one request. A plain class with slots: one is made per gated request."""

    __slots__ = (
        "dynamodb_reads",
        "dynamodb_writes",
        "redis_commands",
        "started",
        "stripe_calls",
        "third_party",
    )

    def __init__(self) -> None:
        self.started = 0.0  # the wall clock (perf_counter) at the request's start
        self.redis_commands = 0
        self.dynamodb_reads = 0.0  # request units, as DynamoDB reports them (0.5 for eventual)
        self.dynamodb_writes = 0.0
        self.stripe_calls = 0
        # api -> [calls, dollars]; None until the first call, so most requests allocate none
        self.third_party: dict[str, list[float]] | None = None


def spent() -> Spent | None:
    """The counters of the request being measured, or None."""
    observation = current()
    return observation.spent if observation is not None else None


def spent_on_redis(commands: int) -> None:
    found = spent()
    if found is not None:
        found.redis_commands += commands


def spent_on_dynamodb(reads: float, writes: float) -> None:
    found = spent()
    if found is not None:
        found.dynamodb_reads += reads
        found.dynamodb_writes += writes


def spent_on_stripe(calls: int = 1) -> None:
    found = spent()
    if found is not None:
        found.stripe_calls += calls


def record_call(api: str, *, usd: float, calls: int = 1) -> None:
    """Record that the request being served called the third-party API `api` `calls` times,
    for `usd` dollars in all (what that call costs you, e.g. an LLM call's token price).

    ``tiergate.record_call("openai", usd=0.002)``. The cost report shows it per route and
    tier; the name becomes a metric dimension, so keep it to a few fixed names (never an id).
    """
    if not isinstance(api, str) or not api or len(api) > 64:
        raise ValueError(f"api must be a name of 1 to 64 characters, not {api!r}")
    if not math.isfinite(usd) or usd < 0:
        raise ValueError(f"usd must be a finite amount >= 0, not {usd!r}")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"calls must be a whole number >= 0, not {calls!r}")
    found = spent()
    if found is None:
        return
    if found.third_party is None:
        found.third_party = {}
    entry = found.third_party.get(api)
    if entry is None:
        found.third_party[api] = [float(calls), usd]
    else:
        entry[0] += calls
        entry[1] += usd
