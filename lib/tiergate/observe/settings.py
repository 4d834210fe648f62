"""Observability's section of the settings: logs, metrics, and what each request's cost
measurement does (observe/costmeter.py) and records (observe/recording.py).

Logs and metrics go by the names AWS Lambda Powertools reads, so a function's settings mean
the same to both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from ..settings import Section, env_name
from ..telemetry import NAMESPACE

__all__ = ["ObserveSettings"]

# Lambda's level names (its advanced logging controls) in Python's spelling.
_LAMBDA_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ObserveSettings(Section):
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
        description="measure 1 in N gated requests, drawn at random (1: every one); their"
        " documents carry Requests=N each, the requests served, and the means are over those"
        " measured (observe/costmeter.py). Default 10 with TIERGATE_ENV=production, else 1",
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

    service: str | None = Field(
        default=None,
        validation_alias=env_name("POWERTOOLS_SERVICE_NAME"),
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="the service dimension and log field; default api (webhook for its app)",
    )
    metrics_namespace: str = Field(
        default=NAMESPACE,
        validation_alias=env_name("POWERTOOLS_METRICS_NAMESPACE"),
        pattern=r"^[A-Za-z0-9 ._/#:-]{1,255}$",  # what CloudWatch allows in a namespace
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO",
        validation_alias=AliasChoices(
            *env_name("TIERGATE_LOG_LEVEL").choices,
            *env_name("POWERTOOLS_LOG_LEVEL").choices,
            *env_name("LOG_LEVEL").choices,
            *env_name("AWS_LAMBDA_LOG_LEVEL").choices,  # Lambda's application log level
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
        description="lines on stdout from the tiergate logger (TIERGATE_LOG_FORMAT); false"
        " leaves it to the host's logging configuration",
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: a JSON object a line, for CloudWatch Logs and Vercel's log search;"
        " text: a short line for a person at a terminal (`tiergate serve` uses it)",
    )
    emf: bool = Field(
        default=True,
        description="CloudWatch EMF metric documents on stdout (the metrics the alarms and"
        " the cost report read); `tiergate serve` turns them off: a terminal has no CloudWatch"
        " (its costs are recorded for `tiergate costs` all the same)",
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
