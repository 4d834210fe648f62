"""Where `tiergate costs` gets its measurements when no `--measurements FILE` is given.

A placeholder: the measurement work (CloudWatch for `--since`, what `tiergate serve`
recorded, and the in-process `--profile` run) replaces this module at merge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import Settings
    from .measurements import RouteMeasurements

__all__ = ["measurements"]


async def measurements(
    settings: Settings, *, since_ms: int | None, profile: bool
) -> list[RouteMeasurements]:
    raise ConfigError(
        "recorded measurements are not built yet: pass --measurements FILE"
        " (a JSON list of route measurements)"
    )
