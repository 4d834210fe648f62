"""The in-process registry, for `tiergate serve` on a bare machine and for tests."""

from __future__ import annotations

from .records import Account, KeyRecord

__all__ = ["MemoryRegistry"]


class MemoryRegistry:
    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._accounts: dict[str, Account] = {}
        self.reads = 0  # hot-state reads served, so tests can see the steady state makes none

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        self.reads += 1
        record = self._keys.get(digest)
        if record is None:
            return None
        account = self._accounts.get(record.account_id)
        return None if account is None else (record, account)

    async def put_key(self, record: KeyRecord) -> None:
        self._keys[record.digest] = record

    async def put_account(self, account: Account) -> None:
        self._accounts[account.account_id] = account

    async def get_account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        return sorted(
            (r for r in self._keys.values() if r.account_id == account_id),
            key=lambda r: r.created_at_ms,
        )
