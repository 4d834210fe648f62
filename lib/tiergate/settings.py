"""The gate's settings: what the request path, the stores it uses and the core's wiring read.

Each feature keeps its own section beside its code (billing/settings.py, meter/, alerts/,
observe/, schedule/), and `tiergate.config.Settings` holds them all: read from the
environment once, at the edge, and each section passed from there to what reads it.

Production names keep their ecosystems' spelling (UPSTASH_*, STRIPE_*, AWS_*); tiergate's own
are TIERGATE_*.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

__all__ = ["MIN_CRON_SECRET", "GateSettings", "Section", "env_name"]


# What the README asks of CRON_SECRET: a bearer token short enough to guess is no lock.
MIN_CRON_SECRET = 16


def env_name(name: str) -> AliasChoices:
    """A variable read under its own name (no TIERGATE_ prefix), also given by that name in
    lower case as a keyword: Settings(upstash_redis_rest_url=...)."""
    return AliasChoices(name, name.lower())


class Section(BaseSettings):
    """What every section shares: TIERGATE_ names, unknown names ignored (a section sees the
    whole environment and every keyword of Settings), and errors that never repeat a value."""

    # hide_input_in_errors: a ValidationError's text otherwise carries the values it was
    # given (the whole environment's, secrets included, for a model-level check) into the
    # start-up traceback that Lambda and Vercel log. defer_build: a section's validator is
    # built when the section is read alone; `Settings` validates every section in one model
    # of its own, and building each section's too would double what a cold start spends on
    # them (pydantic builds a validator in milliseconds).
    model_config = SettingsConfigDict(
        env_prefix="TIERGATE_",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
        defer_build=True,
    )


class GateSettings(Section):
    env: Literal["development", "production"] = "development"
    tiers: str | None = Field(default=None, description="path to a tiers JSON file, or the JSON")
    table: str | None = Field(default=None, description="DynamoDB table (registry)")
    prefix: str = Field(default="/v1", description="path prefix of the gated routes")
    redis_timeout: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="seconds a Redis call may wait for its answer (the process's own event-loop"
        " delay excluded)",
    )
    redis_retry_budget: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="seconds for all attempts of one decision; a lost answer is asked for again"
        " with the same request id, which is exact",
    )
    redis_namespace: str = Field(default="tg", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    # The gate's: a hot-state miss rebuilds the account's record through the publisher,
    # which turns the grace into the suspend-at the decision reads.
    past_due_grace_days: float = Field(default=3, ge=0)
    idempotency_ttl: int = Field(default=86_400, ge=1, description="seconds")
    hot_state_ttl: int = Field(
        default=300,
        ge=1,
        description="seconds a key's or account's hot record lives in Redis before it is read"
        " from the registry again: the longest a missed write-through can go unnoticed",
    )
    idempotency_budget: int = Field(
        default=32 * 2**20,
        ge=0,
        description="bytes of kept Idempotency-Key responses an account may add per"
        " TIERGATE_IDEMPOTENCY_TTL; past it responses are served but not kept",
    )
    idempotency_inflight_ttl: int = Field(
        default=60,
        ge=1,
        description="seconds an Idempotency-Key stays in flight (409) if its request never"
        " answers; longer than the function timeout",
    )
    refund_client_errors: bool = Field(
        default=False, description="refund 4xx answers too (5xx are always refunded)"
    )
    warmup_secret: SecretStr | None = None
    # The gate's too: the warm-up route (mounted by every install) takes it, as the scheduled
    # runs' route does.
    cron_secret: SecretStr | None = Field(
        default=None,
        validation_alias=env_name("CRON_SECRET"),
        description="Vercel sends it with its cron requests: it authorises the scheduled runs"
        " (meter push, alert delivery) and warm-up pings",
    )
    dynamodb_timeout: float = Field(default=1.0, gt=0, le=30, description="seconds per call")

    upstash_redis_rest_url: str | None = Field(
        default=None, validation_alias=env_name("UPSTASH_REDIS_REST_URL")
    )
    upstash_redis_rest_token: SecretStr | None = Field(
        default=None, validation_alias=env_name("UPSTASH_REDIS_REST_TOKEN")
    )
    aws_region: str | None = Field(default=None, validation_alias=env_name("AWS_REGION"))
    aws_endpoint_url_dynamodb: str | None = Field(
        default=None, validation_alias=env_name("AWS_ENDPOINT_URL_DYNAMODB")
    )

    @field_validator("cron_secret")
    @classmethod
    def _cron_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty stays "not set" (the scheduled route answers 503), as an unset one does.
        length = len(value.get_secret_value()) if value else 0
        if 0 < length < MIN_CRON_SECRET:
            raise ValueError(
                f"CRON_SECRET needs {MIN_CRON_SECRET} characters or more, a random string"
                f" (e.g. `openssl rand -hex 32`); the one set has {length}"
            )
        return value

    @model_validator(mode="after")
    def _gate_complete(self) -> GateSettings:
        if self.upstash_redis_rest_url and not self.upstash_redis_rest_token:
            raise ValueError("UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not")
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError("TIERGATE_PREFIX must start with '/' and not end with it, e.g. /v1")
        return self

    def require_production_stores(self) -> None:
        """In production the in-process stores would lose every count: refuse to start."""
        if self.env != "production":
            return
        missing = [
            name
            for name, value in (
                ("UPSTASH_REDIS_REST_URL", self.upstash_redis_rest_url),
                ("TIERGATE_TABLE", self.table),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "TIERGATE_ENV=production needs "
                + " and ".join(missing)
                + ": the in-process stores are for local use only"
            )
