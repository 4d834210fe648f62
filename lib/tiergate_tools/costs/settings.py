"""The cost report's own setting, read by `tiergate costs` itself: the report is not
deployed, so neither is its price list nor the setting that overrides it (it is not a part
of `tiergate.Settings`)."""

from __future__ import annotations

from pydantic import Field

from tiergate.settings import Section

__all__ = ["CostSettings"]


class CostSettings(Section):
    prices: str | None = Field(
        default=None,
        description="unit prices for `tiergate costs`: a path or the JSON, merged over the"
        " packaged, dated list",
    )
