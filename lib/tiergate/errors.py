"""Exceptions raised by tiergate.

The tree::

    TiergateError                   base of everything tiergate raises on purpose
    ├── ConfigError                 settings or tiers are invalid; start-up stops with its message
    │   └── TierConfigError         the tiers document is malformed
    ├── StoreUnavailable            a store did not answer in time or answered garbage;
    │                               the gate turns it into 503 or fail-open per tier
    ├── NotWrittenThrough           an admin change reached the registry but not Redis; rerun
    ├── NotFound                    a key or account named by an admin command does not exist
    ├── TooManyKeys                 an account already has the most live keys it may have
    ├── StripeUnavailable           Stripe kept failing within the retry budget; 503
    ├── StripeRejected              Stripe refused a call (bad price, unknown customer)
    ├── InvalidSignature            a webhook not provably from Stripe, or not now; 400
    ├── InvalidJSON (ValueError)    a JSON document tiergate was given is not JSON, or is
    │                               past a bound of the one reader (jsontext.py); each
    │                               caller says it in its words (a ConfigError line, a 400)
    ├── UnknownPrice                a subscription's price no tier sells; 503 until added
    └── BodyTooLarge                a request body over the route's bound; 413

    GateNotInstalled (RuntimeError) a route declares requires() in an app never install()ed:
                                    a programming error, raised on the first such request
    ManyTiersWarning (UserWarning)  more tiers than buyers compare at a glance

Requests never see these as tracebacks: the web layer maps outcomes to problem+json bodies,
and the CLI prints one line and exits 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "BodyTooLarge",
    "ConfigError",
    "GateNotInstalled",
    "InvalidJSON",
    "InvalidSignature",
    "ManyTiersWarning",
    "NotFound",
    "NotWrittenThrough",
    "StoreUnavailable",
    "StripeRejected",
    "StripeUnavailable",
    "TierConfigError",
    "TiergateError",
    "TooManyKeys",
    "UnknownPrice",
    "validation_problems",
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


class NotWrittenThrough(TiergateError):
    """The registry has the change but the hot store could not be told; rerun the command."""


class InvalidSignature(TiergateError):
    """The webhook is not provably from Stripe, or not now: one type for every reason."""


class InvalidJSON(TiergateError, ValueError):
    """A JSON document is malformed, or past a bound: a name twice in one object, nesting,
    a number (NaN, Infinity, out of range, too many digits), the size, or not UTF-8."""


class UnknownPrice(TiergateError):
    """A subscription's price is sold by no configured tier: the operator must add it."""


class BodyTooLarge(TiergateError):
    """The request's body is, or says it is, larger than the route accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class GateNotInstalled(RuntimeError):
    """A route uses requires() but the app was never passed to tiergate.install()."""


class ManyTiersWarning(UserWarning):
    """More tiers than buyers can compare at a glance."""


def validation_problems(exc: ValidationError, where: tuple[str, ...] = (), whole: str = "") -> str:
    """A pydantic error as one line: each problem's dotted place after `where`, or `whole`
    when the problem is the document itself, and its message, "; " between them."""
    return "; ".join(
        f"{'.'.join((*where, *(str(p) for p in err['loc']))) or whole}: {err['msg']}"
        for err in exc.errors()
    )
