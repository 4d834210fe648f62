"""The meter push's section of the settings."""

from __future__ import annotations

from pydantic import Field

from ..settings import Section

__all__ = ["MeterSettings"]


class MeterSettings(Section):
    meter_late_window: int = Field(
        default=3000,
        ge=0,
        le=86_400,
        description="seconds after a billing period ends during which `tiergate meter push`"
        " still sends its overage into it; keep it under the Stripe account's invoice"
        " finalization grace period (1 hour by default), units later than it are reported"
        " missed",
    )
