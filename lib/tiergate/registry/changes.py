"""What the registry's rules and its backends pass each other: what was read, what to write.

A backend reads an account with its version (`Snapshot`) and commits a `Change` only if
everything it was decided on still holds; it never decides anything itself. The rules that
decide (which keys are live, which event is newer) are in `rules` and `base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .records import Account, KeyRecord
from .subscriptions import EventRecord

__all__ = ["AccountWrite", "Change", "Committed", "KeyPut", "Snapshot", "StoredAccount"]


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """An account as the registry holds it: its version, and the keys its writes reach."""

    account: Account
    version: int  # bumped by every write of the account: the optimistic lock
    # digest -> expires_at_ms (0: never) of every key that was live when last written:
    # the keys that must follow the account's changes (and count against MAX_LIVE_KEYS).
    live_keys: Mapping[str, int] = field(default_factory=dict)
    all_keys: frozenset[str] = frozenset()  # every key ever issued to it, for `keys list`


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An account, and optionally a key and an event, as they were at one instant."""

    account: StoredAccount | None
    key: KeyRecord | None = None  # the key asked for, as stored (None: never issued)
    event_seen: bool = False  # whether the event asked for was recorded before


@dataclass(frozen=True, slots=True)
class AccountWrite:
    """Store the account at version `read_version + 1`, if it is still at `read_version`
    (None: if it does not exist yet; it is then stored at version 1)."""

    account: Account
    live_keys: Mapping[str, int]
    all_keys: frozenset[str]
    read_version: int | None
    # The account's own fields changed (not only its key sets): every live key's view of
    # the account, and the Stripe customer's link to it, must follow in the same commit.
    fields_changed: bool = True
    # An event's write: the stored watermark must be at most this, as well as the version
    # as read (which already implies it: the ordering was decided on that version; the
    # watermark condition says so in the write itself, as the design draws it).
    watermark_at_most: int | None = None

    @property
    def version(self) -> int:
        """The version the write stores."""
        return (self.read_version or 0) + 1


@dataclass(frozen=True, slots=True)
class KeyPut:
    """Store `record` (seeing `account`), if the key still belongs to `read_owner` (None: new)."""

    record: KeyRecord
    account: Account
    read_owner: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One atomic write: every part commits, or none does."""

    accounts: tuple[AccountWrite, ...]
    key: KeyPut | None = None
    event: EventRecord | None = None  # recorded, if not recorded before


# committed  every part was written
# conflict   something read has changed since (a version, a key's owner): read again, retry
# duplicate  the event was recorded before (a concurrent delivery won): nothing written
Committed = Literal["committed", "conflict", "duplicate"]
