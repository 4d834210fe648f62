"""The hot store on Upstash Redis, over its REST API.

Two clients of one database: the gate's own calls (the three scripts, one EVALSHA per
admission) go as prepared bytes over the lean keep-alive connection (`rest.py`), and
everything else (write-through, usage reads, scripts loaded by the CLI) through stock
upstash-redis, made on first use (the rooms' own Redis storage, the alert queue and the
meter index, share that client). EVALSHA first, EVAL only after a NOSCRIPT reply, i.e. once
per script per Redis. Neither client retries: every call is bounded by `timeout_s` of
waiting (see deadline.py), so a slow Redis turns into a fast 503 (or fail-open) rather than
a hung function.

A decision whose answer is lost (a timeout, a dropped connection) may still have run and
charged. It is asked again with the same request id, within `retry_budget_s`: the script
recorded its verdict under that id, so the retry gets it back instead of a second charge.
When the budget runs out the gate refunds by the same id, which is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..clock import Clock
from ..decision import Check, Code, Verdict
from ..errors import StoreUnavailable
from ..hotstate import AccountState, KeyState
from ..lazy import Lazy
from . import Charge
from .deadline import answer_within
from .rest import Command, RestClient, Result, ScriptError, json_args, json_str
from .scripts import COMPLETE, GATE, REFUND

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

__all__ = ["REQUEST_TTL_MS", "UpstashStore", "connect", "gate_script_args"]

T = TypeVar("T")

# How long a request id's record lives: past the retry budget, and past the latest a lost
# first call could still run behind a refund's tombstone (seconds, not the function's life).
REQUEST_TTL_MS = 30_000
_ATTEMPTS = 3  # per decision, within the retry budget
_GATE, _COMPLETE, _REFUND = Command(GATE, 1), Command(COMPLETE, 0), Command(REFUND, 0)


class _AnswerLost(StoreUnavailable):
    """No answer came back, but the call may have run: asking again with its id is exact."""


def connect(url: str, token: str) -> Redis:
    """An upstash-redis client for the cold paths and the CLI: no retries (the caller
    decides what failure means), no telemetry. Its calls go through its own httpx client."""
    from upstash_redis.asyncio import Redis

    return Redis(url, token, rest_retries=0, allow_telemetry=False, read_your_writes=False)


class UpstashStore:
    def __init__(
        self,
        redis: Redis | Callable[[], Redis],
        rest: RestClient,
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
        """`redis`: the upstash-redis client, or a function that makes it on first use (a
        request in the steady state never needs it); `rest`: the hot path's client of the
        same database. `clock`, for tests only: decide at its time instead of Redis's own."""
        self._client = Lazy.of(redis)
        self._rest = rest
        self._hot_state_ttl_ms = hot_state_ttl_ms
        self._clock = clock
        self._ns = namespace
        self._timeout_s = timeout_s
        self._budget_s = max(retry_budget_s, timeout_s)
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._inflight_ttl_ms = inflight_ttl_ms
        self._idempotency_budget = idempotency_budget
        # gate.lua's KEYS and ARGV with the per-store parts in place (gate_script_args' layout).
        ns = json_str(namespace)[1:-1].replace("%", "%%")  # a template: % is doubled
        self._gate_args = (
            f'"{ns}:k:%s","{ns}",%s,"%d",%s,"%d",%s,%s,%s,"%s","{inflight_ttl_ms}",'
            f'"{REQUEST_TTL_MS}",%s]'
        )

    @classmethod
    def at(cls, url: str, token: str, **options: Any) -> UpstashStore:
        """The store over the database at `url`: both clients built here (upstash-redis on
        first use); `options` are the constructor's."""
        return cls(lambda: connect(url, token), RestClient(url, token), **options)

    @property
    def _redis(self) -> Redis:
        """The upstash-redis client (made now if it was not yet)."""
        return self._client.get()

    async def check(self, check: Check) -> Verdict:
        if check.now_ms is None and self._clock is not None:
            check = replace(check, now_ms=self._clock.now_ms())

        async def attempt(again: bool, cap_s: float) -> Verdict:
            asked = replace(check, retry=True) if again and not check.retry else check
            return _verdict(await self._run(_GATE, self._gate_tail(asked), cap_s))

        # Without an id a second call could charge twice: it is asked once only.
        return await self._until_answered(attempt, exact=bool(check.request_id))

    def _gate_tail(self, c: Check) -> bytes:
        """gate.lua's KEYS and ARGV for `c` as JSON, byte for byte what gate_script_args'
        list encodes to: the free-form fields quoted, the rest formatted in place."""
        now = "" if c.now_ms is None else str(c.now_ms)
        text = self._gate_args % (
            _quote(c.digest)[1:-1], _quote(now), c.min_rank, _quote(c.feature), c.cost,
            _quote(c.idempotency_key), _quote(c.fingerprint), _quote(c.request_id),
            "1" if c.retry else "0", _quote(c.route),
        )  # fmt: skip
        return text.encode("utf-8")

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        args = [self._ns, account_id, idempotency_key, request_id, response or ""]
        tail = _tail([*args, str(self._idempotency_ttl_ms), str(self._idempotency_budget)])

        async def attempt(_: bool, cap_s: float) -> bool:
            return bool(await self._run(_COMPLETE, tail, cap_s))

        return await self._until_answered(attempt, exact=True)  # the same write again

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        args: list[object] = [self._ns, request_id, REQUEST_TTL_MS]
        if charge is not None:
            args += [charge.account_id, charge.period_start_ms, charge.cost]
            args += [charge.idempotency_key, charge.overage, charge.route, charge.meter]
        tail = _tail([str(a) for a in args])  # the REST API takes strings

        async def attempt(_: bool, cap_s: float) -> None:
            await self._run(_REFUND, tail, cap_s)

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

    async def aclose(self) -> None:
        await self._rest.aclose()
        if self._client.made:
            await self._client.get().close()

    def _key(self, digest: str) -> str:
        return f"{self._ns}:k:{digest}"

    async def _run(self, script: Command, tail: bytes, cap_s: float = 0.0) -> Result:
        """One script call on the lean connection: EVALSHA, and EVAL after a NOSCRIPT."""
        try:
            return await self._bounded(lambda: self._rest.call(script.evalsha + tail), cap_s)
        except StoreUnavailable as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        return await self._bounded(lambda: self._rest.call(script.eval + tail), cap_s)

    async def _bounded(self, call: Callable[[], Awaitable[T]], cap_s: float = 0.0) -> T:
        try:
            return await answer_within(call, self._timeout_s, cap_s or self._budget_s)
        except TimeoutError:
            raise _AnswerLost(f"Redis did not answer within {self._timeout_s}s") from None
        except ScriptError as exc:  # Redis answered: an error reply is not a lost answer
            raise StoreUnavailable(f"Redis error: {exc}") from None
        except Exception as exc:  # connection refused or dropped, bad gateway, non-JSON, ...
            if _is_upstash_error(exc):  # the same, from upstash-redis on a cold path
                raise StoreUnavailable(f"Redis error: {exc}") from None
            raise _AnswerLost(f"Redis unreachable: {type(exc).__name__}") from None


def _is_upstash_error(exc: Exception) -> bool:
    from upstash_redis.errors import UpstashError  # loaded with upstash-redis already

    return isinstance(exc, UpstashError)


def _quote(text: str) -> str:
    """`text` as a JSON string as httpx writes it; most fields need no escaping at all."""
    if '"' in text or "\\" in text or not text.isprintable():
        return json_str(text)
    return f'"{text}"'


def _tail(args: list[str]) -> bytes:
    """A script's ARGV (no KEYS) as the end of its command's JSON array."""
    return json_args(args) + b"]" if args else b"]"


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


def _verdict(reply: Result) -> Verdict:
    """gate.lua's one string (its header describes it), read in one pass."""
    try:
        if not isinstance(reply, bytes):
            raise TypeError
        if b"\n" not in reply:
            return Verdict(Code(int(reply)))  # the shortest reply: a code alone
        head, tier, status, rest = reply.split(b"\n", 3)
        numbers = head.split(b" ")
        code, n = int(numbers[0]), [int(v) for v in numbers[1:11]]
        if len(numbers) == 11:
            return _verdict_of(code, rest.decode(), tier.decode(), status.decode(), n)
        kept = int(numbers[11])
        response, account = rest[:kept].decode(), rest[kept:].decode()
        alerts = numbers[12].decode()
        extra = {"response": response, "alerts": alerts}
        return _verdict_of(code, account, tier.decode(), status.decode(), n, **extra)
    except (TypeError, ValueError, IndexError):
        raise StoreUnavailable(f"unexpected reply from the gate script: {reply!r}") from None


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
