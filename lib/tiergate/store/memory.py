"""The in-process hot store: the same decisions as Redis, for `tiergate serve` and tests.

Every method runs without awaiting anything in between its reads and writes, so on one event
loop each call is as atomic as the Lua script. State lives in this process only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any

from ..clock import Clock
from ..decision import (
    IN_FLIGHT,
    KEPT,
    NOT_KEPT,
    Check,
    Code,
    Effects,
    IdempotencyRecord,
    Verdict,
    billing_period,
    decide,
    must_record,
)
from ..hotstate import UNKNOWN_KEY, AccountState, KeyState
from ..usage import AlertCrossing, MeteredPeriod, MeterMark
from . import Charge

__all__ = ["MemoryStore"]

# Expired entries (unknown keys above all: anyone can send well-formed keys never issued)
# are swept every this many calls, or on the first call this long after the last sweep.
_SWEEP_EVERY = 1024
_SWEEP_AFTER_MS = 10_000
_ABANDONED = Verdict(Code.ABANDONED)


@dataclass(slots=True)
class _Quota:
    """An account's counts in its current period (earlier ones are not kept)."""

    period_start_ms: int
    used: int
    routes: dict[str, int]
    fired: int = 0  # the highest usage-alert threshold fired, in units


@dataclass(frozen=True, slots=True)
class _Held:
    """An Idempotency-Key's record: what gate.lua keeps in <ns>:a:<account>:i:<key hash>."""

    record: IdempotencyRecord
    request_id: str  # the request that owns it while in flight
    expires_ms: int


# A request id's record: what gate.lua keeps in <ns>:r:<request id>, as (expiry, the verdict's
# Code or _TOMBSTONE, the verdict's other fields, Charge's fields). One lives per admitted
# request for `request_ttl_ms`, thousands at a time under load, so it is a plain tuple of
# numbers and strings: the garbage collector stops tracking such a tuple (not a subclass, not
# an object), where a Verdict and a Charge per request would be walked by every full
# collection, and would make full collections more frequent too.
_Request = tuple[int, int, tuple[Any, ...], tuple[Any, ...]]
_TOMBSTONE = -1
_verdict_fields = attrgetter(*[f.name for f in fields(Verdict) if f.name != "code"])


class MemoryStore:
    def __init__(
        self,
        clock: Clock,
        *,
        idempotency_ttl_ms: int = 86_400_000,
        inflight_ttl_ms: int = 60_000,
        request_ttl_ms: int = 30_000,
        hot_state_ttl_ms: int = 300_000,
        idempotency_budget: int = 32 * 2**20,
    ) -> None:
        self._clock = clock
        self._idempotency_budget = idempotency_budget
        # account -> (bytes of responses kept in its window, the window's end): complete.lua's
        # budget, the same way
        self._kept_bytes: dict[str, tuple[int, int]] = {}
        self._hot_state_ttl_ms = hot_state_ttl_ms
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._inflight_ttl_ms = inflight_ttl_ms
        self._request_ttl_ms = request_ttl_ms
        self._keys: dict[str, tuple[KeyState, int]] = {}  # digest -> (state, expiry)
        self._accounts: dict[str, tuple[AccountState, int]] = {}  # id -> (state, expiry)
        self._tat_us: dict[str, int] = {}
        self._quota: dict[str, _Quota] = {}  # only the current period: O(1) per account
        self._held: dict[tuple[str, str], _Held] = {}  # (account, key hash) -> record
        self._requests: dict[str, _Request] = {}
        # Overage counted by (account, period start, meter): kept past the period's end, until
        # the meter push forgets it (the units are still due then). The meter room's index
        # lists and forgets these (meter/index_memory.py), as the push does gate.lua's <ns>:m.
        self.metered: dict[MeterMark, MeteredPeriod] = {}
        self._metered = self.metered
        # Alerts fired, not yet delivered: the alert room's queue reads and trims this list
        # (alerts/queue_memory.py), as the delivery does gate.lua's <ns>:al.
        self.fired: list[AlertCrossing] = []
        self._alerts = self.fired
        self._calls = 0
        self._swept_ms = clock.now_ms()

    def __len__(self) -> int:
        """Entries that expire (keys, accounts, Idempotency-Key and request records) held."""
        return len(self._keys) + len(self._accounts) + len(self._held) + len(self._requests)

    async def check(self, check: Check) -> Verdict:
        now = self._clock.now_ms() if check.now_ms is None else check.now_ms
        self._sweep_now_and_then(now)
        if check.request_id:
            seen = self._live_request(check.request_id, now)
            if seen is not None:
                _, code, fields_, _ = seen
                return Verdict(Code(code), *fields_) if code != _TOMBSTONE else _ABANDONED
        key = self._key(check.digest, now)
        account = self._account(key.account_id, now) if key else None
        tat_us = self._tat_us.get(key.account_id, 0) if key else 0
        quota = None
        held = None
        if account is not None:
            start, _ = billing_period(account, now)
            quota = self._quota.get(account.account_id)
            if quota is None or quota.period_start_ms != start:
                quota = _Quota(start, 0, {})
            if check.idempotency_key:
                held = self._live_hold(account.account_id, check.idempotency_key, now)
        record = held.record if held else None
        used, fired = (quota.used, quota.fired) if quota else (0, 0)
        verdict, effects = decide(check, now, key, account, tat_us, used, record, fired)
        if effects is not None and quota is not None and account is not None:
            self._quota[verdict.account_id] = quota
            self._apply(check, verdict, effects, quota, account)
            if effects.hold:
                record = IdempotencyRecord(check.fingerprint, IN_FLIGHT)
                expires = now + self._inflight_ttl_ms
                hold = _Held(record, check.request_id, expires)
                self._held[(verdict.account_id, check.idempotency_key)] = hold
        if must_record(check, verdict, effects):
            held_key = check.idempotency_key if effects and effects.hold else ""
            charged, over = (effects.charge, effects.overage) if effects else (0, 0)
            meter = account.meter if account else ""
            charge = (verdict.account_id, verdict.period_start_ms, charged, held_key, over,
                      check.route, meter)  # fmt: skip
            expires = now + self._request_ttl_ms
            # As gate.lua records it: without the alerts, which were queued by this call.
            recorded = replace(verdict, alerts="") if verdict.alerts else verdict
            entry = (expires, int(verdict.code), _verdict_fields(recorded), charge)
            self._requests[check.request_id] = entry
        return verdict

    def _apply(
        self, check: Check, verdict: Verdict, effects: Effects, quota: _Quota, account: AccountState
    ) -> None:
        """What gate.lua writes for a decision with effects, the same way."""
        if effects.tat_us is not None:
            self._tat_us[verdict.account_id] = effects.tat_us
        quota.used = effects.used
        if effects.charge and check.route:
            quota.routes[check.route] = quota.routes.get(check.route, 0) + effects.charge
        if effects.overage:
            mark = (verdict.account_id, verdict.period_start_ms, account.meter)
            counted = self._metered.get(mark)
            units = (counted.units if counted else 0) + effects.overage
            self._metered[mark] = MeteredPeriod(
                verdict.account_id, verdict.period_start_ms, verdict.period_end_ms,
                account.meter, units,
            )  # fmt: skip
        if effects.alert_mark:
            quota.fired = effects.alert_mark
            for label in verdict.alerts.split(","):
                self._alerts.append(
                    AlertCrossing(
                        verdict.account_id, verdict.tier, label, verdict.used, verdict.limit,
                        verdict.period_start_ms, verdict.period_end_ms, verdict.now_ms,
                    )
                )  # fmt: skip

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        now = self._clock.now_ms()
        held = self._live_hold(account_id, idempotency_key, now)
        if held is None or held.request_id != request_id:
            return False
        if response is not None and held.record.state == IN_FLIGHT:  # a repeat counts once
            spent, window_end = self._kept_bytes.get(account_id, (0, 0))
            if now >= window_end:
                spent, window_end = 0, now + self._idempotency_ttl_ms
            if spent + len(response) > self._idempotency_budget:
                response = None  # over the account's budget: served, billed, not kept
            else:
                self._kept_bytes[account_id] = (spent + len(response), window_end)
        if held.record.state == NOT_KEPT:
            response = None  # a repeat of one not kept
        state = KEPT if response is not None else NOT_KEPT
        record = IdempotencyRecord(held.record.fingerprint, state, response or "")
        expires = now + self._idempotency_ttl_ms
        self._held[(account_id, idempotency_key)] = _Held(record, request_id, expires)
        return True

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        now = self._clock.now_ms()
        if request_id:
            seen = self._live_request(request_id, now)
            if seen is not None:
                if seen[1] == _TOMBSTONE:
                    return  # refunded, or given up on, already
                charge = Charge(*seen[3])
        if charge is not None and charge.account_id:
            quota = self._quota.get(charge.account_id)
            if quota is not None and quota.period_start_ms == charge.period_start_ms:
                quota.used = max(0, quota.used - charge.cost)
                if charge.route in quota.routes:
                    quota.routes[charge.route] = max(0, quota.routes[charge.route] - charge.cost)
            meter = charge.meter
            if not meter and charge.overage:  # the verdict does not name it; the account does
                entry = self._accounts.get(charge.account_id)
                meter = entry[0].meter if entry else ""
            metered = (charge.account_id, charge.period_start_ms, meter)
            counted = self._metered.get(metered)
            if charge.overage and counted is not None:
                units = max(0, counted.units - charge.overage)
                self._metered[metered] = replace(counted, units=units)
            mark = (charge.account_id, charge.idempotency_key)
            held = self._held.get(mark)
            if held is not None and held.request_id == request_id:
                del self._held[mark]
        if request_id:  # a tombstone: a late copy of the first call finds it, does nothing
            self._requests[request_id] = (now + self._request_ttl_ms, _TOMBSTONE, (), ())

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        now = self._clock.now_ms()
        self._sweep_now_and_then(now)
        # Hot records expire, so that a write-through that was missed heals by itself.
        expires = now + self._hot_state_ttl_ms
        for digest, state in (keys or {}).items():
            entry = (state, expires) if state else (UNKNOWN_KEY, now + unknown_key_ttl_ms)
            self._keys[digest] = entry
        for account in accounts:
            self._accounts[account.account_id] = (account, expires)

    async def used(self, account_id: str, period_start_ms: int) -> int:
        quota = self._quota.get(account_id)
        return quota.used if quota and quota.period_start_ms == period_start_ms else 0

    async def routes(self, account_id: str, period_start_ms: int) -> dict[str, int]:
        quota = self._quota.get(account_id)
        if quota is None or quota.period_start_ms != period_start_ms:
            return {}
        return {route: units for route, units in quota.routes.items() if units}

    async def aclose(self) -> None:
        return None

    def _key(self, digest: str, now_ms: int) -> KeyState | None:
        entry = self._keys.get(digest)
        if entry is None:
            return None
        state, expiry = entry
        if now_ms >= expiry:
            del self._keys[digest]
            return None
        return state

    def _account(self, account_id: str, now_ms: int) -> AccountState | None:
        entry = self._accounts.get(account_id)
        if entry is None:
            return None
        state, expiry = entry
        if now_ms >= expiry:
            del self._accounts[account_id]
            return None
        return state

    def _live_hold(self, account_id: str, idempotency_key: str, now_ms: int) -> _Held | None:
        held = self._held.get((account_id, idempotency_key))
        return held if held is not None and held.expires_ms > now_ms else None

    def _live_request(self, request_id: str, now_ms: int) -> _Request | None:
        seen = self._requests.get(request_id)
        return seen if seen is not None and seen[0] > now_ms else None

    def _sweep_now_and_then(self, now_ms: int) -> None:
        self._calls += 1
        if self._calls < _SWEEP_EVERY and now_ms - self._swept_ms < _SWEEP_AFTER_MS:
            return
        self._calls, self._swept_ms = 0, now_ms
        for digest in [d for d, (_, expiry) in self._keys.items() if expiry <= now_ms]:
            del self._keys[digest]
        for account in [a for a, (_, expiry) in self._accounts.items() if expiry <= now_ms]:
            del self._accounts[account]
        for mark in [m for m, held in self._held.items() if held.expires_ms <= now_ms]:
            del self._held[mark]
        # Request records come in the order they expire (each lives request_ttl_ms from its
        # check), so the sweep stops at the first live one instead of reading them all: one
        # per admitted request, they are most of what is held. (A record rewritten in place,
        # a refund's tombstone, may stop it early: what is left is swept next time, and
        # expired records are never read as live.)
        done = []
        for rid, seen in self._requests.items():
            if seen[0] > now_ms:
                break
            done.append(rid)
        for rid in done:
            del self._requests[rid]
        for account in [a for a, (_, end) in self._kept_bytes.items() if end <= now_ms]:
            del self._kept_bytes[account]
