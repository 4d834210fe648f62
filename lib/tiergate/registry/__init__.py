"""The registry: the durable source of truth for keys and accounts."""

from __future__ import annotations

from typing import Protocol

from .records import Account, KeyRecord

__all__ = ["Account", "KeyRecord", "Registry"]


class Registry(Protocol):
    """Implementations raise `StoreUnavailable` when they cannot answer."""

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        """A key and its account, in at most one read; None when the key was never issued."""
        ...

    async def put_key(self, record: KeyRecord) -> None: ...

    async def put_account(self, account: Account) -> None: ...

    async def get_account(self, account_id: str) -> Account | None: ...

    async def list_keys(self, account_id: str) -> list[KeyRecord]: ...
