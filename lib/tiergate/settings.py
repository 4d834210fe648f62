"""Settings, read from the environment once, at the edge, and passed in from there.

Production names keep their ecosystems' spelling (UPSTASH_*, STRIPE_*, AWS_*); tiergate's own
are TIERGATE_*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError
from .telemetry import NAMESPACE

__all__ = ["Settings"]


# What the README asks of CRON_SECRET: a bearer token short enough to guess is no lock.
MIN_CRON_SECRET = 16

# Lambda's level names (its advanced logging controls) in Python's spelling.
_LAMBDA_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _plain(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError's text otherwise carries the values it was
    # given (the whole environment's, secrets included, for a model-level check) into the
    # start-up traceback that Lambda and Vercel log.
    model_config = SettingsConfigDict(
        env_prefix="TIERGATE_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    env: Literal["development", "production"] = "development"
    tiers: str | None = Field(default=None, description="path to a tiers JSON file, or the JSON")
    prices: str | None = Field(
        default=None,
        description="unit prices for `tiergate costs`: a path or the JSON, merged over the"
        " packaged, dated list",
    )
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
    cron_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_plain("CRON_SECRET"),
        description="Vercel sends it with its cron requests: it authorises the scheduled runs"
        " (meter push, alert delivery) and warm-up pings",
    )
    vercel: bool = Field(
        default=False,
        validation_alias=_plain("VERCEL"),
        description="set (to 1) by Vercel on its deployments: the scheduled runs' endpoint is"
        " mounted for its cron",
    )
    scheduled_timeout: float = Field(
        default=50,
        gt=0,
        le=900,
        description="seconds one scheduled run (each job in it) may take; under the functions'"
        " own limits (60 s)",
    )
    background_interval: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="seconds between the scheduled runs `tiergate serve` makes in the background",
    )
    dynamodb_timeout: float = Field(default=1.0, gt=0, le=30, description="seconds per call")
    event_retention_days: int = Field(
        default=35, ge=4, description="processed Stripe event ids are kept this long (TTL)"
    )
    webhook_tolerance: int = Field(
        default=300, ge=1, description="seconds a webhook signature may be stale or early"
    )
    stripe_api_base: str | None = Field(
        default=None, description="Stripe API address; set only for a local stand-in"
    )
    stripe_timeout: float = Field(default=5.0, gt=0, le=60, description="seconds per call")
    stripe_retry_budget: float = Field(
        default=8.0, gt=0, le=60, description="seconds, all retries of one Stripe call"
    )
    meter_late_window: int = Field(
        default=3000,
        ge=0,
        le=86_400,
        description="seconds after a billing period ends during which `tiergate meter push`"
        " still sends its overage into it; keep it under the Stripe account's invoice"
        " finalization grace period (1 hour by default), units later than it are reported"
        " missed",
    )
    alert_email_from: str | None = Field(
        default=None,
        description="the sender of usage-alert emails: an address SES has verified (itself or"
        " its domain); unset: alert emails are log lines (the embedded default)",
    )
    ses_region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        description="the SES region alert emails are sent through (default: AWS_REGION)",
    )
    alert_webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=30,
        description="seconds one usage-alert POST may take, answer included",
    )
    alert_run_budget: float = Field(
        default=40.0,
        gt=0,
        le=600,
        description="seconds one alert-delivery run may take; what is left is retried next run",
    )
    alert_give_up_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 14,
        description="hours an alert keeps being retried before it is reported and dropped",
    )
    billing_return_url: str = Field(
        default="http://localhost:8000/",
        description="where Checkout and the Billing Portal send the customer back",
    )

    measure: bool = Field(
        default=True,
        description="measure what each gated request costs (wall and CPU time, bytes, store"
        " and third-party calls) and emit it as EMF metrics by route and tier",
    )
    measure_flush: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="seconds of measurements batched into one EMF document per route and tier"
        " (at most 100 requests); 0: a document per request",
    )
    measure_sample: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="measure 1 in N gated requests, drawn at random (1: every one); the"
        " documents say sample_rate=N: means are unbiased, counts are 1/N (observe/costmeter.py)",
    )
    record_costs: bool = Field(
        default=False,
        description="also add the measurements up in TIERGATE_STATE_DIR/measurements.json,"
        " for `tiergate costs` (`tiergate serve` turns it on)",
    )
    state_dir: str = Field(
        default_factory=lambda: str(Path.home() / ".local" / "state" / "tiergate"),
        description="where the embedded default keeps what it records",
    )

    upstash_redis_rest_url: str | None = Field(
        default=None, validation_alias=_plain("UPSTASH_REDIS_REST_URL")
    )
    upstash_redis_rest_token: SecretStr | None = Field(
        default=None, validation_alias=_plain("UPSTASH_REDIS_REST_TOKEN")
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None, validation_alias=_plain("STRIPE_SECRET_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_plain("STRIPE_WEBHOOK_SECRET")
    )
    aws_region: str | None = Field(default=None, validation_alias=_plain("AWS_REGION"))
    aws_endpoint_url_dynamodb: str | None = Field(
        default=None, validation_alias=_plain("AWS_ENDPOINT_URL_DYNAMODB")
    )

    # Observability, under the names AWS Lambda Powertools reads, so a function's settings
    # mean the same to both.
    service: str | None = Field(
        default=None,
        validation_alias=_plain("POWERTOOLS_SERVICE_NAME"),
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="the service dimension and log field; default api (webhook for its app)",
    )
    metrics_namespace: str = Field(
        default=NAMESPACE,
        validation_alias=_plain("POWERTOOLS_METRICS_NAMESPACE"),
        pattern=r"^[A-Za-z0-9 ._/#:-]{1,255}$",  # what CloudWatch allows in a namespace
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO",
        validation_alias=AliasChoices(
            *_plain("TIERGATE_LOG_LEVEL").choices,
            *_plain("POWERTOOLS_LOG_LEVEL").choices,
            *_plain("LOG_LEVEL").choices,
            *_plain("AWS_LAMBDA_LOG_LEVEL").choices,  # Lambda's application log level
        ),
        description="the tiergate logger's level (INFO keeps the access lines)",
    )
    access_log: Literal["all", "problems", "off"] = Field(
        default="problems",
        description="which requests get an access line: every one, those answered with a"
        " problem (4xx, 5xx) or let in degraded, or none. API Gateway's access log already"
        " has every request; a line per success costs more than the gate itself",
    )
    log_json: bool = Field(
        default=True,
        description="JSON lines on stdout from the tiergate logger; false leaves it to the"
        " host's logging configuration",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        level = _LAMBDA_LEVELS.get(value.upper(), value.upper())
        if level not in _LEVELS:
            # Said here because errors do not repeat their input (hide_input_in_errors); a
            # level is no secret, and naming it is what makes the line useful.
            raise ValueError(f"{level[:20]!r} is not a level; one of {', '.join(_LEVELS)}")
        return level

    @field_validator("cron_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty stays "not set" (the scheduled route answers 503), as an unset one does.
        length = len(value.get_secret_value()) if value else 0
        if 0 < length < MIN_CRON_SECRET:
            raise ValueError(
                f"CRON_SECRET needs {MIN_CRON_SECRET} characters or more, a random string"
                f" (e.g. `openssl rand -hex 32`); the one set has {length}"
            )
        return value

    @field_validator("alert_email_from")
    @classmethod
    def _sender_address(cls, value: str | None) -> str | None:
        if value:
            from .alerts.policy import check_email  # the same rule as the accounts' addresses

            check_email(value, what="TIERGATE_ALERT_EMAIL_FROM")
        return value or None

    @model_validator(mode="after")
    def _complete(self) -> Settings:
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
