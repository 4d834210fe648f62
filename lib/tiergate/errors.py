"""Exceptions raised by tiergate.

The tree::

    TiergateError                   base of everything tiergate raises on purpose
    ├── ConfigError                 settings or tiers are invalid; start-up stops with its message
    │   └── TierConfigError         the tiers document is malformed
    └── StoreUnavailable            a store did not answer in time or answered garbage;
                                    the gate turns it into 503 or fail-open per tier

Requests never see these as tracebacks: the web layer maps outcomes to problem+json bodies.
"""

from __future__ import annotations

__all__ = ["ConfigError", "StoreUnavailable", "TierConfigError", "TiergateError"]


class TiergateError(Exception):
    """Base class of the errors tiergate raises on purpose."""


class ConfigError(TiergateError):
    """The configuration cannot be used; the message says what to change."""


class TierConfigError(ConfigError):
    """The tiers document is malformed."""


class StoreUnavailable(TiergateError):
    """A store (Redis, the registry) failed or timed out."""
