"""The schedule's section of the settings: where the cron route is mounted, how long a run
may take, how often `tiergate serve` makes one. CRON_SECRET is the gate's (the warm-up route
takes it too)."""

from __future__ import annotations

from pydantic import Field

from ..settings import Section, env_name

__all__ = ["ScheduleSettings"]


class ScheduleSettings(Section):
    vercel: bool = Field(
        default=False,
        validation_alias=env_name("VERCEL"),
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
