"""The in-process hot store: the same decisions as Redis, for `tiergate serve` and tests.

Every method runs without awaiting anything in between its reads and writes, so on one event
loop each call is as atomic as the Lua script. State lives in this process only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..decision import Check, Verdict, billing_period, decide
from ..hotstate import UNKNOWN_KEY, AccountState, KeyState

__all__ = ["MemoryStore"]

_SWEEP_EVERY = 1024  # writes between sweeps of expired entries


@dataclass(slots=True)
class _Quota:
    period_start_ms: int
    used: int


class MemoryStore:
    def __init__(self, clock: Clock, *, idempotency_ttl_ms: int = 86_400_000) -> None:
        self._clock = clock
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._keys: dict[str, tuple[KeyState, int]] = {}  # digest -> (state, expiry or 0)
        self._accounts: dict[str, AccountState] = {}
        self._tat_us: dict[str, int] = {}
        self._quota: dict[str, _Quota] = {}  # only the current period: O(1) per account
        self._marks: dict[tuple[str, str], int] = {}  # (account, key) -> expiry
        self._writes = 0

    async def check(self, check: Check) -> Verdict:
        key = self._key(check.digest, check.now_ms)
        account = self._accounts.get(key.account_id) if key else None
        tat_us = self._tat_us.get(key.account_id, 0) if key else 0
        used = 0
        replay = False
        if account is not None:
            start, _ = billing_period(account, check)
            quota = self._quota.get(account.account_id)
            used = quota.used if quota and quota.period_start_ms == start else 0
            mark = (account.account_id, check.idempotency_key)
            replay = bool(check.idempotency_key) and self._marks.get(mark, 0) > check.now_ms
        verdict, effects = decide(check, key, account, tat_us, used, replay)
        if effects is not None:
            self._tat_us[verdict.account_id] = effects.tat_us
            self._quota[verdict.account_id] = _Quota(verdict.period_start_ms, effects.used)
            if effects.mark_idempotency:
                mark = (verdict.account_id, check.idempotency_key)
                self._marks[mark] = check.now_ms + self._idempotency_ttl_ms
            self._count_write()
        return verdict

    async def refund(
        self, account_id: str, period_start_ms: int, cost: int, idempotency_key: str
    ) -> None:
        quota = self._quota.get(account_id)
        if quota is not None and quota.period_start_ms == period_start_ms:
            quota.used = max(0, quota.used - cost)
        self._marks.pop((account_id, idempotency_key), None)

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        now = self._clock.now_ms()
        for digest, state in (keys or {}).items():
            self._keys[digest] = (state, 0) if state else (UNKNOWN_KEY, now + unknown_key_ttl_ms)
        for account in accounts:
            self._accounts[account.account_id] = account

    async def used(self, account_id: str, period_start_ms: int) -> int:
        quota = self._quota.get(account_id)
        return quota.used if quota and quota.period_start_ms == period_start_ms else 0

    async def aclose(self) -> None:
        return None

    def _key(self, digest: str, now_ms: int) -> KeyState | None:
        entry = self._keys.get(digest)
        if entry is None:
            return None
        state, expiry = entry
        if expiry and now_ms >= expiry:
            del self._keys[digest]
            return None
        return state

    def _count_write(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock.now_ms()
            for mark in [m for m, expiry in self._marks.items() if expiry <= now]:
                del self._marks[mark]
