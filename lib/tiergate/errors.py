"""Exceptions raised by tiergate.

The tree::

    TiergateError                   base of everything tiergate raises on purpose
    ├── ConfigError                 settings or tiers are invalid; start-up stops with its message
    │   └── TierConfigError         the tiers document is malformed
    ├── StoreUnavailable            a store did not answer in time or answered garbage;
    │                               the gate turns it into 503 or fail-open per tier
    ├── NotFound                    a key or account named by an admin command does not exist
    ├── TooManyKeys                 an account already has the most live keys it may have
    ├── StripeUnavailable           Stripe kept failing within the retry budget; 503
    └── StripeRejected              Stripe refused a call (bad price, unknown customer)

Requests never see these as tracebacks: the web layer maps outcomes to problem+json bodies.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "NotFound",
    "StoreUnavailable",
    "StripeRejected",
    "StripeUnavailable",
    "TierConfigError",
    "TiergateError",
    "TooManyKeys",
]


class TiergateError(Exception):
    """Base class of the errors tiergate raises on purpose."""


class ConfigError(TiergateError):
    """The configuration cannot be used; the message says what to change."""


class TierConfigError(ConfigError):
    """The tiers document is malformed."""


class StoreUnavailable(TiergateError):
    """A store (Redis, the registry) failed or timed out."""


class NotFound(TiergateError):
    """A key or account named by an admin command does not exist."""


class TooManyKeys(TiergateError):
    """An account already has the most live keys it may have."""


class StripeUnavailable(TiergateError):
    """Stripe kept failing (or timing out) for the whole retry budget."""


class StripeRejected(TiergateError):
    """Stripe refused a call: the request or the configuration is wrong, retrying won't help."""
