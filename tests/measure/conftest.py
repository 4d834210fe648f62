"""The observability fixtures (isolated environment, frozen clock), shared."""

from ..observe.conftest import _isolated_environment, clock

__all__ = ["_isolated_environment", "clock"]
