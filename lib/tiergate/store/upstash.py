"""The hot store on Upstash Redis, over its REST API.

Each admission is one EVALSHA (EVAL only after a NOSCRIPT reply, i.e. once per script per
Redis). The upstash-redis client has no timeout and retries after 3 s by default: it is built
with no retries here, and every call is bounded by `timeout_s` of waiting (see deadline.py),
so a slow Redis turns into a fast 503 (or fail-open) rather than a hung function.

A decision whose answer is lost (a timeout, a dropped connection) may still have run and
charged. It is asked again with the same request id, within `retry_budget_s`: the script
recorded its verdict under that id, so the retry gets it back instead of a second charge.
When the budget runs out the gate refunds by the same id, which is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

from ..clock import Clock
from ..decision import Check, Code, Verdict
from ..errors import StoreUnavailable
from ..hotstate import AccountState, KeyState
from ..usage import MeteredPeriod
from . import Charge
from .deadline import answer_within
from .scripts import COMPLETE, GATE, REFUND, Script
from .transport import lean_client, ssl_context_of, use_client

__all__ = ["REQUEST_TTL_MS", "UpstashStore", "connect", "gate_script_args"]

T = TypeVar("T")

# How long a request id's record lives: past the retry budget, and past the latest a lost
# first call could still run behind a refund's tombstone (seconds, not the function's life).
REQUEST_TTL_MS = 30_000
_ATTEMPTS = 3  # per decision, within the retry budget
_RECORDED, _ABANDONED = 15, int(Code.ABANDONED)  # gate.lua's replies for a request id seen


class _AnswerLost(StoreUnavailable):
    """No answer came back, but the call may have run: asking again with its id is exact."""


def connect(url: str, token: str, *, timeout_s: float = 10.0) -> Redis:
    """A client for the hot path: no retries (the gate decides what failure means).

    Its calls go through the lean transport (store/transport.py), at a third of httpx's
    default transport's CPU per call; `timeout_s` bounds each phase of a call (connect,
    send, read), a backstop behind the store's own per-call bound. Build it once per
    container: the pool of keep-alive connections lives in it.
    """
    redis = Redis(url, token, rest_retries=0, allow_telemetry=False, read_your_writes=False)
    use_client(redis, lean_client(timeout_s, ssl_context=ssl_context_of(redis)))
    return redis


class UpstashStore:
    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "tg",
        timeout_s: float = 0.25,
        retry_budget_s: float = 1.0,
        idempotency_ttl_ms: int = 86_400_000,
        inflight_ttl_ms: int = 60_000,
        hot_state_ttl_ms: int = 300_000,
        idempotency_budget: int = 32 * 2**20,
        clock: Clock | None = None,
    ) -> None:
        """`clock`, for tests only: decide at its time instead of Redis's own."""
        self._redis = redis
        self._hot_state_ttl_ms = hot_state_ttl_ms
        self._clock = clock
        self._ns = namespace
        self._timeout_s = timeout_s
        self._budget_s = max(retry_budget_s, timeout_s)
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._inflight_ttl_ms = inflight_ttl_ms
        self._idempotency_budget = idempotency_budget

    async def check(self, check: Check) -> Verdict:
        if check.now_ms is None and self._clock is not None:
            check = replace(check, now_ms=self._clock.now_ms())

        async def attempt(again: bool, cap_s: float) -> Verdict:
            asked = replace(check, retry=True) if again and not check.retry else check
            keys, argv = gate_script_args(self._ns, asked, self._inflight_ttl_ms)
            return _verdict(await self._run(GATE, keys, argv, cap_s))

        # Without an id a second call could charge twice: it is asked once only.
        return await self._until_answered(attempt, exact=bool(check.request_id))

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        args = [self._ns, account_id, idempotency_key, request_id, response or ""]

        async def attempt(_: bool, cap_s: float) -> bool:
            ttl, budget = self._idempotency_ttl_ms, self._idempotency_budget
            return bool(await self._run(COMPLETE, [], [*args, ttl, budget], cap_s))

        return await self._until_answered(attempt, exact=True)  # the same write again

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        args: list[object] = [self._ns, request_id, REQUEST_TTL_MS]
        if charge is not None:
            args += [charge.account_id, charge.period_start_ms, charge.cost]
            args += [charge.idempotency_key, charge.overage, charge.route, charge.meter]

        async def attempt(_: bool, cap_s: float) -> None:
            await self._run(REFUND, [], args, cap_s)

        # Exact by its id: a refund that ran finds its tombstone when asked again.
        await self._until_answered(attempt, exact=bool(request_id))

    async def _until_answered(
        self, attempt: Callable[[bool, float], Awaitable[T]], *, exact: bool
    ) -> T:
        """attempt(asked_before, seconds_left), asked again after a lost answer when that is
        exact: at most _ATTEMPTS times, within the retry budget."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + self._budget_s
        for n in range(1, _ATTEMPTS + 1):
            try:
                return await attempt(n > 1, ends - loop.time())
            except _AnswerLost:
                if not exact or n == _ATTEMPTS or loop.time() >= ends:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        tx = self._redis.multi()
        for digest, state in (keys or {}).items():
            name = self._key(digest)
            tx.execute(["DEL", name])
            if state is None:
                tx.execute(["HSET", name, "a", ""])
                tx.execute(["PEXPIRE", name, unknown_key_ttl_ms])
            else:
                revoked = "1" if state.revoked else "0"
                tx.execute(
                    ["HSET", name, "a", state.account_id, "v", revoked, "x", state.expires_at_ms]
                )
                # Hot records expire, so that a write-through that was missed heals by itself.
                tx.execute(["PEXPIRE", name, self._hot_state_ttl_ms])
        for account in accounts:
            name = f"{self._ns}:a:{account.account_id}"
            tx.execute(["HSET", name, *_account_fields(account)])
            tx.execute(["PEXPIRE", name, self._hot_state_ttl_ms])
        await self._bounded(tx.exec)

    async def used(self, account_id: str, period_start_ms: int) -> int:
        reply = await self._bounded(
            lambda: self._redis.get(f"{self._ns}:a:{account_id}:q:{period_start_ms}")
        )
        return int(reply or 0)

    async def routes(self, account_id: str, period_start_ms: int) -> dict[str, int]:
        name = f"{self._ns}:a:{account_id}:u:{period_start_ms}"
        reply = await self._bounded(lambda: self._redis.hgetall(name))
        counts = {str(route): int(str(units)) for route, units in (reply or {}).items()}
        return {route: units for route, units in counts.items() if units}

    async def metered(self) -> list[MeteredPeriod]:
        entries = await self._bounded(lambda: self._redis.hgetall(f"{self._ns}:m"))
        periods = [_metered_entry(str(entry), str(end)) for entry, end in (entries or {}).items()]
        if not periods:
            return []
        pipe = self._redis.pipeline()
        for p in periods:
            pipe.execute(["GET", self._overage_key(p)])
        counts = await self._bounded(pipe.exec)
        return [replace(p, units=int(str(n or 0))) for p, n in zip(periods, counts, strict=True)]

    async def forget_metered(self, period: MeteredPeriod) -> None:
        entry = "\n".join([str(period.period_start_ms), period.meter, period.account_id])
        await self._bounded(lambda: self._redis.hdel(f"{self._ns}:m", entry))

    def _overage_key(self, p: MeteredPeriod) -> str:
        return f"{self._ns}:a:{p.account_id}:o:{p.period_start_ms}:{p.meter}"

    async def aclose(self) -> None:
        await self._redis.close()

    def _key(self, digest: str) -> str:
        return f"{self._ns}:k:{digest}"

    async def _run(
        self, script: Script, keys: list[str], args: Sequence[object], cap_s: float = 0.0
    ) -> Any:
        argv = [str(a) for a in args]  # the REST API takes strings
        try:
            return await self._bounded(lambda: self._redis.evalsha(script.sha, keys, argv), cap_s)
        except StoreUnavailable as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        return await self._bounded(lambda: self._redis.eval(script.source, keys, argv), cap_s)

    async def _bounded(self, call: Callable[[], Awaitable[T]], cap_s: float = 0.0) -> T:
        try:
            return await answer_within(call, self._timeout_s, cap_s or self._budget_s)
        except TimeoutError:
            raise _AnswerLost(f"Redis did not answer within {self._timeout_s}s") from None
        except UpstashError as exc:  # Redis answered: an error reply is not a lost answer
            raise StoreUnavailable(f"Redis error: {exc}") from None
        except Exception as exc:  # connection refused or dropped, bad gateway, non-JSON, ...
            raise _AnswerLost(f"Redis unreachable: {type(exc).__name__}") from None


def gate_script_args(
    namespace: str, check: Check, inflight_ttl_ms: int = 60_000
) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of gate.lua for one check (the layout its header documents)."""
    argv = [
        namespace,
        "" if check.now_ms is None else check.now_ms,
        check.min_rank,
        check.feature,
        check.cost,
        check.idempotency_key,
        check.fingerprint,
        check.request_id,
        "1" if check.retry else "0",
        inflight_ttl_ms,
        REQUEST_TTL_MS,
        check.route,
    ]
    return [f"{namespace}:k:{check.digest}"], [str(a) for a in argv]


def _account_fields(account: AccountState) -> list[object]:
    return [
        "t",
        account.tier,
        "r",
        account.rank,
        "s",
        account.status,
        "l",
        account.limit,
        "b",
        account.burst,
        "ps",
        account.period_start_ms,
        "pe",
        account.period_end_ms,
        "sa",
        account.suspend_at_ms,
        "f",
        "," + "".join(f + "," for f in sorted(account.features)),
        "oc",
        account.overage_cap,
        "m",
        account.meter,
        "al",
        ",".join(f"{units}:{label}" for units, label in account.alerts),
    ]


def _verdict(reply: Any) -> Verdict:
    try:
        code = int(reply[0])
        if code == _RECORDED:
            return _recorded(str(reply[1]))
        if len(reply) < 13:
            return Verdict(Code(code))  # the shortest reply: a code alone
        numbers = [int(v) for v in reply[4:13]] + [int(reply[14])]
        extra = {"response": str(reply[13]), "alerts": str(reply[15])}
        return _verdict_of(code, str(reply[1]), str(reply[2]), str(reply[3]), numbers, **extra)
    except (TypeError, ValueError, IndexError):
        raise StoreUnavailable(f"unexpected reply from the gate script: {reply!r}") from None


def _recorded(blob: str) -> Verdict:
    """A verdict as gate.lua records it: the numbers, then tier, status and (last, since it is
    the one free-form field) the account."""
    numbers, tier, status, account = blob.split("\n", 3)
    code, *n = (int(v) for v in numbers.split(" "))
    return _verdict_of(code, account, tier, status, n)


def _verdict_of(
    code: int,
    account: str,
    tier: str,
    status: str,
    n: list[int],
    response: str = "",
    alerts: str = "",
) -> Verdict:
    """A verdict from the script's fields; `n` holds its ten numbers in the script's order."""
    return Verdict(
        Code(code),
        account_id=account,
        tier=tier,
        status=status,
        burst=n[0],
        burst_remaining=n[1],
        burst_reset_ms=n[2],
        limit=n[3],
        used=n[4],
        period_start_ms=n[5],
        period_end_ms=n[6],
        retry_after_ms=n[7],
        now_ms=n[8],
        response=response,
        overage_cap=n[9],
        alerts=alerts,
    )


def _metered_entry(entry: str, end: str) -> MeteredPeriod:
    """A field of <ns>:m as gate.lua sets it (period start, meter, account) and its value, the
    period's latest end."""
    start, meter, account = entry.split("\n", 2)
    return MeteredPeriod(account, int(start), int(end), meter, 0)
