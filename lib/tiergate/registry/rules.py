"""The registry's rules, as pure functions: which keys are live, and which event is newer.

Every backend goes through these (by way of `base.RegistryBase`), so no two can disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ..errors import TooManyKeys
from .records import KeyRecord, expired

__all__ = [
    "MAX_LIVE_KEYS",
    "Order",
    "keys_after_put",
    "live_keys",
    "order_of",
    "watermark_bound",
]

# A key's account travels with it (one read per hot-state miss), so an account update
# rewrites every live key of the account in the same transaction; this bounds how many
# (DynamoDB takes 100 items a transaction).
MAX_LIVE_KEYS = 50

# newer        the event is after the account's watermark (or the account is new): apply it
# same-second  of the watermark's very second: it cannot be proven newer or older
# older        the account already holds a newer event's state
Order = Literal["newer", "same-second", "older"]


def live_keys(keys: Mapping[str, int], now_ms: int) -> dict[str, int]:
    """The keys of a live set (digest -> expires_at_ms) still live at `now_ms`.

    Live means not revoked and not expired at `now_ms`, the registry's clock: revoked keys
    leave the set when they are written, expired ones (a rotation's grace ran out) here.
    """
    return {digest: expires for digest, expires in keys.items() if not expired(expires, now_ms)}


def keys_after_put(keys: Mapping[str, int], record: KeyRecord, now_ms: int) -> dict[str, int]:
    """The account's live set once `record` is stored; TooManyKeys past MAX_LIVE_KEYS.

    A key that becomes live (new, moved here, or put back) needs room; one that is no
    longer live leaves, so the account's writes stop reaching its copy of the account.
    """
    live = live_keys(keys, now_ms)
    if not record.usable(now_ms):
        live.pop(record.digest, None)
        return live
    if record.digest not in live and len(live) >= MAX_LIVE_KEYS:
        raise TooManyKeys(
            f"account {record.account_id!r} already has {len(live)} live keys; revoke one first"
        )
    live[record.digest] = record.expires_at_ms
    return live


def order_of(created_s: int, watermark: int | None) -> Order:
    """Where an event of `created_s` stands against the account's watermark (None: no
    account yet). Stripe's `created` has one-second resolution, hence the tie."""
    if watermark is None or created_s > watermark:
        return "newer"
    return "same-second" if created_s == watermark else "older"


def watermark_bound(created_s: int, *, same_second_ok: bool) -> int:
    """The newest watermark the account may hold at commit for the event to apply: older
    than the event; or of its very second, for state re-read from Stripe."""
    return created_s if same_second_ok else created_s - 1
