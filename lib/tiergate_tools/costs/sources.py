"""Where `tiergate costs` gets its measurements: one function, three sources.

- production (TIERGATE_ENV=production): CloudWatch, from the EMF metrics the functions
  wrote (cloudwatch.py), over `since_ms` to now (default: the last 7 days);
- the embedded default: what `tiergate serve` recorded under TIERGATE_STATE_DIR
  (tiergate/observe/recording.py), since `since_ms` (default: everything);
- `profile=True`: the example app driven in-process now (profile.py), whatever was
  recorded.

An empty list means nothing was measured in the range; the command says so and suggests
`--profile`.
"""

from __future__ import annotations

import time
from typing import Any

from tiergate.config import Settings
from tiergate.errors import ConfigError
from tiergate.observe.measurements import RouteMeasurements
from tiergate.telemetry import SERVICE_API

__all__ = ["DEFAULT_SINCE_MS", "measurements"]

DEFAULT_SINCE_MS = 7 * 86_400_000  # production's default range: a week back


async def measurements(
    settings: Settings, *, since_ms: int | None, profile: bool, cloudwatch: Any = None
) -> list[RouteMeasurements]:
    """`since_ms`: the start of the range, epoch milliseconds (None: the default).
    `cloudwatch`: a boto3 CloudWatch client (default: one for AWS_REGION)."""
    if profile:
        from .profile import profile as run_profile

        return await run_profile(settings)
    observe = settings.observe
    if settings.gate.env == "production" or cloudwatch is not None:
        from botocore.exceptions import BotoCoreError, ClientError

        from .cloudwatch import cloudwatch_measurements

        now = time.time_ns() // 1_000_000
        try:
            return await cloudwatch_measurements(
                cloudwatch or _cloudwatch_client(settings.gate.aws_region),
                namespace=observe.metrics_namespace,
                service=observe.service or SERVICE_API,
                start_ms=now - DEFAULT_SINCE_MS if since_ms is None else since_ms,
                end_ms=now + 60_000,  # the minute under way, whole: CloudWatch's resolution
            )
        except (BotoCoreError, ClientError) as exc:
            # No credentials, no permission (cloudwatch:ListMetrics, GetMetricData), no
            # network: the command's error, in AWS's words.
            raise ConfigError(f"cannot read the measurements from CloudWatch: {exc}") from None
    from tiergate.observe.recording import read_recorded, recorded_path

    return read_recorded(recorded_path(observe)).measurements(since_ms)


def _cloudwatch_client(region: str | None) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=region or "us-east-1")
