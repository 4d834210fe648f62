"""The decision maths, pure: no I/O, no clock of its own.

The in-process store runs these functions; ``store/gate.lua`` is the same algorithm for Redis,
and one contract suite holds both to the same answers.

Burst uses GCRA (the generic cell rate algorithm): one stored number per account, the
theoretical arrival time (TAT), so its memory does not grow with traffic. Times inside GCRA
are integer microseconds so that Lua's doubles and Python's ints agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .hotstate import SUSPENDED_STATUSES, AccountState, KeyState
from .periods import calendar_month, current_period

__all__ = [
    "IN_FLIGHT",
    "KEPT",
    "NOT_KEPT",
    "Check",
    "Code",
    "Effects",
    "IdempotencyRecord",
    "Verdict",
    "billing_period",
    "crossed",
    "decide",
    "gcra",
    "gcra_peek",
    "must_record",
]


class Code(IntEnum):
    """Outcome codes; the Lua script returns the same numbers."""

    ADMIT = 0
    REPLAY = 1  # an Idempotency-Key's first response, served again: not charged
    KEY_MISS = 2  # no hot state for the key: load it from the registry
    ACCOUNT_MISS = 3  # no hot state for the key's account
    UNKNOWN_KEY = 4  # the registry has no such key (cached briefly)
    REVOKED = 5
    SUSPENDED = 6  # billing: unpaid, canceled, past_due beyond grace, ...
    TIER = 7  # the route needs a higher tier
    FEATURE = 8  # the route needs a feature the tier lacks
    BURST = 9
    QUOTA = 10
    KEY_REUSED = 11  # the Idempotency-Key named a different request
    IN_FLIGHT = 12  # the Idempotency-Key's first request is still being served
    NOT_KEPT = 13  # the Idempotency-Key's first response was too large to keep for replays
    ABANDONED = 14  # the gate gave up on this request id (and refunded it): nothing happens


# States of an Idempotency-Key's record (the store writes the same letters).
IN_FLIGHT = "p"  # charged, the endpoint has not answered yet
KEPT = "d"  # answered; the response is kept for replays
NOT_KEPT = "n"  # answered and charged; the response was too large to keep


@dataclass(slots=True)
class Check:
    """One request's question to the store. Built per request: slotted, and not frozen (a
    frozen dataclass's __init__ costs twice as much); nothing changes one once it is asked,
    and copies are made with dataclasses.replace."""

    digest: str
    # None: the store's own clock decides (Redis TIME), so callers' clocks, however skewed or
    # delayed, cannot matter; tests pass their fake clock's time instead.
    now_ms: int | None = None
    min_rank: int = 0
    feature: str = ""
    cost: int = 1
    idempotency_key: str = ""  # its hash (idempotency.key_hash); "" without the header
    fingerprint: str = ""  # of the request the key names
    # The gate's, per request: recorded with a charging verdict, so that a retry of a call
    # whose answer was lost gets that verdict again and a refund is exact. It also owns the
    # Idempotency-Key's record while in flight. "" : neither.
    request_id: str = ""
    retry: bool = False  # an earlier call with this request id may have run
    route: str = ""  # the route template its units are counted under, for `usage`


@dataclass(slots=True)
class Verdict:
    """The store's answer to one Check. Built per request: slotted and not frozen, since a
    frozen dataclass's __init__ sets each of its 16 fields through object.__setattr__ (twice
    the cost). Nothing changes a verdict once made; copies go through dataclasses.replace."""

    code: Code
    account_id: str = ""
    tier: str = ""
    status: str = ""
    burst: int = 0
    burst_remaining: int = 0
    burst_reset_ms: int = 0  # until the burst allowance is full again
    limit: int = 0
    used: int = 0  # billable units used this period, after this request
    period_start_ms: int = 0
    period_end_ms: int = 0
    retry_after_ms: int = 0  # the real wait: next burst token, or the period's end
    now_ms: int = 0  # the instant it was decided at, on the store's clock
    response: str = ""  # REPLAY: the kept response (idempotency.encode_response)
    overage_cap: int = 0  # units admitted past `limit` per period (0: the tier has no overage)
    alerts: str = ""  # the usage alerts this request crossed ("80,100"), fired once per period

    @property
    def admitted(self) -> bool:
        return self.code in _ADMITTED


_ADMITTED = (Code.ADMIT, Code.REPLAY)


class Effects:
    """What the store must write for a decision: an admission's charges, and the usage alerts
    a request fired (a denial at the ceiling fires too, and changes nothing else). Built per
    request: a plain slotted class."""

    __slots__ = ("alert_mark", "burst_ttl_ms", "charge", "hold", "keep", "overage", "remaining",
                 "tat_us", "used")  # fmt: skip

    def __init__(
        self,
        tat_us: int | None,  # the bucket's new TAT; None: the bucket is not touched
        burst_ttl_ms: int,
        charge: int,  # quota units this request adds
        used: int,
        hold: bool,  # create the Idempotency-Key's record, in flight, owned by the request id
        overage: int = 0,  # of `charge`, the units past `limit`: counted for the meter
        alert_mark: int = 0,  # the highest alert threshold fired this period, when it moved
        *,
        remaining: int = 0,  # burst tokens left after this request (when tat_us is set)
        keep: bool = True,  # False: nothing to write (decide() then returns None)
    ) -> None:
        self.tat_us = tat_us
        self.burst_ttl_ms = burst_ttl_ms
        self.charge = charge
        self.used = used
        self.hold = hold
        self.overage = overage
        self.alert_mark = alert_mark
        self.remaining = remaining
        self.keep = keep


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The record an Idempotency-Key already has, as the store found it."""

    fingerprint: str
    state: str  # IN_FLIGHT, KEPT or NOT_KEPT
    response: str = ""


class GcraStep:
    """One step of the burst bucket. Built per request: a plain slotted class (a frozen
    dataclass's __init__ cost four times as much)."""

    __slots__ = ("allowed", "remaining", "reset_ms", "retry_after_ms", "tat_us")

    def __init__(
        self, allowed: bool, tat_us: int, remaining: int, reset_ms: int, retry_after_ms: int
    ) -> None:
        self.allowed = allowed
        self.tat_us = tat_us  # the new TAT when allowed
        self.remaining = remaining
        self.reset_ms = reset_ms
        self.retry_after_ms = retry_after_ms


def gcra(stored_tat_us: int, now_ms: int, burst: int) -> GcraStep:
    """One request against a bucket of `burst` tokens refilled at `burst` per second."""
    now = now_ms * 1000
    interval = 1_000_000 // burst
    capacity = interval * burst
    tat = max(stored_tat_us, now) + interval
    wait = tat - now - capacity
    if wait > 0:
        return GcraStep(False, stored_tat_us, 0, _ceil_ms(tat - interval - now), _ceil_ms(wait))
    return GcraStep(True, tat, (capacity - (tat - now)) // interval, _ceil_ms(tat - now), 0)


def gcra_peek(stored_tat_us: int, now_ms: int, burst: int) -> tuple[int, int]:
    """Tokens left and ms until the bucket is full, without spending one: what a denial
    reports, since it consumes nothing."""
    now = now_ms * 1000
    interval = 1_000_000 // burst
    capacity = interval * burst
    full_at = max(stored_tat_us, now)
    return max(0, (capacity - (full_at - now)) // interval), _ceil_ms(full_at - now)


def billing_period(account: AccountState, now_ms: int) -> tuple[int, int]:
    """The period the quota counts in (see `periods.current_period`)."""
    start, end = account.period_start_ms, account.period_end_ms
    if start <= 0 or end <= start:  # the calendar month: the same all day long
        day = now_ms // _DAY_MS
        if _MONTH[0] != day:
            _MONTH[:] = [day, calendar_month(now_ms)]
        month: tuple[int, int] = _MONTH[1]  # type: ignore[assignment]
        return month
    return current_period(start, end, now_ms)


_DAY_MS = 86_400_000
_MONTH: list[object] = [None, (0, 0)]  # the day last asked, and its calendar month


def decide(
    check: Check,
    now_ms: int,
    key: KeyState | None,
    account: AccountState | None,
    stored_tat_us: int,
    used: int,
    held: IdempotencyRecord | None,
    fired: int = 0,
) -> tuple[Verdict, Effects | None]:
    """The whole admission decision at `now_ms` (the store's clock); `used` is the quota count
    of the period it returns, `held` the record of the request's Idempotency-Key, if any, and
    `fired` the highest usage-alert threshold (in units) fired this period."""
    if key is None:
        return Verdict(Code.KEY_MISS, now_ms=now_ms), None
    if not key.account_id:
        return Verdict(Code.UNKNOWN_KEY, now_ms=now_ms), None
    if key.revoked or (key.expires_at_ms and now_ms >= key.expires_at_ms):
        return Verdict(Code.REVOKED, account_id=key.account_id, now_ms=now_ms), None
    if account is None:
        return Verdict(Code.ACCOUNT_MISS, account_id=key.account_id, now_ms=now_ms), None
    start, end = billing_period(account, now_ms)
    code, effects, retry_after, response, labels = _judge(
        check, now_ms, account, stored_tat_us, used, held, fired, end
    )
    if effects is not None and effects.tat_us is not None:  # a burst token spent
        left, full_in = effects.remaining, effects.burst_ttl_ms
        used = effects.used
    else:
        left, full_in = gcra_peek(stored_tat_us, now_ms, account.burst)
    # The one Verdict of the request: every exit says the same about the account, and its
    # code, what it spent and what it waits for (a dict per exit merged into a Verdict cost
    # more than the decision).
    verdict = Verdict(
        code,
        account.account_id,
        account.tier,
        account.status,
        account.burst,
        left,
        full_in,
        account.limit,
        used,
        start,
        end,
        retry_after,
        now_ms,
        response,
        account.overage_cap,
        labels,
    )
    return verdict, (effects if effects is None or effects.keep else None)


def _judge(
    check: Check,
    now_ms: int,
    account: AccountState,
    stored_tat_us: int,
    used: int,
    held: IdempotencyRecord | None,
    fired: int,
    end: int,
) -> tuple[Code, Effects | None, int, str, str]:
    """decide()'s checks in their order: the code, the effects (`keep` False: only the burst
    step to report, nothing to write), the wait, a replay's response, the alerts crossed."""
    if account.status in SUSPENDED_STATUSES or (
        account.suspend_at_ms and now_ms >= account.suspend_at_ms
    ):
        return Code.SUSPENDED, None, 0, "", ""
    if account.rank < check.min_rank:
        return Code.TIER, None, 0, "", ""
    if check.feature and check.feature not in account.features:
        return Code.FEATURE, None, 0, "", ""
    if held is not None:
        if held.fingerprint != check.fingerprint:
            return Code.KEY_REUSED, None, 0, "", ""
        if held.state == IN_FLIGHT:
            return Code.IN_FLIGHT, None, 0, "", ""
        if held.state != KEPT:
            return Code.NOT_KEPT, None, 0, "", ""
    step = gcra(stored_tat_us, now_ms, account.burst)
    if not step.allowed:
        return Code.BURST, None, step.retry_after_ms, "", ""
    if held is not None:  # a replay spends a burst token (a retry storm is a storm) and no quota
        spent = Effects(step.tat_us, step.reset_ms, 0, used, hold=False, remaining=step.remaining)
        return Code.REPLAY, spent, 0, held.response, ""
    ceiling = account.ceiling
    if used + check.cost > ceiling:
        # Blocked until the period ends. The ceiling's own alert ("100" on a flat tier, "cap"
        # with overage) is due if usage has passed every lower one: a request too large for
        # what is left is then as good as the last one; a huge request early on is not. At the
        # ceiling itself the request that reached it fired it: nothing to read on a 429 flood.
        below = [units for units, _ in account.alerts if units < ceiling]
        near = max(below, default=ceiling) <= used < ceiling
        labels, mark = crossed(account.alerts, ceiling - 1, ceiling, fired) if near else ("", 0)
        effects = Effects(None, 0, 0, used, False, alert_mark=mark, keep=bool(mark))
        return Code.QUOTA, effects, end - now_ms, "", labels
    before, used = used, used + check.cost
    labels, mark = crossed(account.alerts, before, used, fired)
    overage = max(0, min(check.cost, used - account.limit))
    hold = bool(check.idempotency_key)
    admitted = Effects(step.tat_us, step.reset_ms, check.cost, used, hold, overage=overage,
                       alert_mark=mark, remaining=step.remaining)  # fmt: skip
    return Code.ADMIT, admitted, 0, "", labels


def crossed(
    alerts: tuple[tuple[int, str], ...], before: int, after: int, fired: int
) -> tuple[str, int]:
    """The alerts a move from `before` to `after` units crosses that have not fired yet
    (threshold above `fired`), as "80,100", and the new mark (0: none crossed). Only
    thresholds in (before, after] are candidates, so the store reads `fired` only on the rare
    request that crosses one; `fired` keeps a refund and a re-crossing from firing twice."""
    due = [(units, label) for units, label in alerts if before < units <= after and units > fired]
    if not due:
        return "", 0
    return ",".join(label for _, label in due), max(units for units, _ in due)


def must_record(check: Check, verdict: Verdict, effects: Effects | None) -> bool:
    """Whether the store keeps the verdict under the request id (for a short while): when it
    charged or holds an Idempotency-Key, and when it settles a retry, so that a late copy of
    the first call finds it and changes nothing. Misses are not decisions yet."""
    if not check.request_id:
        return False
    if effects is not None and (effects.charge > 0 or effects.hold):
        return True
    return check.retry and verdict.code >= Code.UNKNOWN_KEY


def _ceil_ms(us: int) -> int:
    return -(-us // 1000)
