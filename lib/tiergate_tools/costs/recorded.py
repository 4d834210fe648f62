"""Measurements kept in a file (`tiergate costs --measurements FILE`): a JSON list of
RouteMeasurements, one object per route and tier, the same fields by the same names::

    [{"route": "/v1/hello", "tier": "free", "requests": 400, "wall_ms": 3.1, "cpu_ms": 2.4,
      "response_bytes": 27, "redis_commands": 1, "dynamodb_reads": 0, "dynamodb_writes": 0,
      "stripe_calls": 0, "third_party": {"geo": {"calls": 1, "usd": 0.0001}}}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiergate.errors import ConfigError, validation_problems
from tiergate.jsontext import read_json_file
from tiergate.observe.measurements import RouteMeasurements, ThirdPartyCalls

__all__ = ["dump_measurements", "load_measurements"]

_Mean = Field(ge=0, allow_inf_nan=False)


class _Calls(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calls: float = _Mean
    usd: float = _Mean


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    route: str = Field(min_length=1, max_length=500)
    tier: str = Field(default="", max_length=32)
    requests: int = Field(ge=0, strict=True)
    wall_ms: float = _Mean
    cpu_ms: float = _Mean
    response_bytes: float = _Mean
    redis_commands: float = _Mean
    dynamodb_reads: float = _Mean
    dynamodb_writes: float = _Mean
    stripe_calls: float = _Mean
    third_party: dict[str, _Calls] = Field(default_factory=dict)


def load_measurements(path: str) -> list[RouteMeasurements]:
    raw = read_json_file(path, "measurements file")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a JSON list of route measurements")
    return [_row(path, i, item) for i, item in enumerate(raw)]


def dump_measurements(rows: Sequence[RouteMeasurements]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=1)


def _row(path: str, index: int, item: Any) -> RouteMeasurements:
    try:
        row = _Row.model_validate(item)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {validation_problems(exc, (f'[{index}]',))}") from None
    return RouteMeasurements(
        route=row.route,
        tier=row.tier,
        requests=row.requests,
        wall_ms=row.wall_ms,
        cpu_ms=row.cpu_ms,
        response_bytes=row.response_bytes,
        redis_commands=row.redis_commands,
        dynamodb_reads=row.dynamodb_reads,
        dynamodb_writes=row.dynamodb_writes,
        stripe_calls=row.stripe_calls,
        third_party={k: ThirdPartyCalls(v.calls, v.usd) for k, v in row.third_party.items()},
    )
