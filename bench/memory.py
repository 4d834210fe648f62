"""Redis memory per key for its limit state, after 1,000 / 50,000 / 500,000 requests.

HTTP is far too slow for 500,000 requests, so both limiters send the commands they send over
REST straight to redis, pipelined over raw RESP: tiergate's EVALSHA with the exact KEYS/ARGV
of UpstashStore.check (checked against the store first), and the baseline's four commands.
Timestamps are spread over one 30-day month, far wider apart than the burst interval, so
every request is admitted and each limiter keeps all that it would keep in production.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tiergate.decision import Check
from tiergate.periods import calendar_month
from tiergate.store.scripts import GATE
from tiergate_tools.localredis.resp import RespPool, RespValue

from .baseline import WINDOW_MS, member, record, sweep_and_count
from .report import Finding, Outcome, Table, fmt_bytes
from .stack import Stack
from .target import (
    NOW,
    account,
    check_at,
    gate_evalsha,
    new_account_id,
    new_digest,
    seed,
    verify_evalsha_layout,
)

__all__ = ["measure"]

NS = "tg"
BATCH = 1000  # requests per pipelined write: large enough to amortise, small enough to stream
BURST = 1000  # per second: far above the load's rate, so only the volume varies
LIMIT_STATE_TARGET = 256
_MONTH = calendar_month(NOW)


@dataclass(frozen=True)
class _Sizes:
    """MEMORY USAGE of each key tiergate keeps for one account, at one volume."""

    tat: int
    quota: int
    account: int
    key: int

    @property
    def limit_state(self) -> int:
        return self.tat + self.quota


async def measure(stack: Stack, checkpoints: Sequence[int], markers: int) -> Outcome:
    pool = RespPool(stack.redis_host, stack.redis_port)
    try:
        return await _measure(pool, stack, sorted(checkpoints), markers)
    finally:
        await pool.close()


async def _measure(pool: RespPool, stack: Stack, checkpoints: list[int], markers: int) -> Outcome:
    if await pool.execute("SCRIPT", "LOAD", GATE.source) != GATE.sha.encode():
        raise RuntimeError("SCRIPT LOAD did not return the SHA the package computed")
    times = _spread(checkpoints[-1])
    store = stack.store(NS)
    digest = new_digest()
    state = account(new_account_id(), limit=2 * checkpoints[-1], burst=BURST)
    await seed(store, digest, state)  # written through the REST API, as the webhook does
    await verify_evalsha_layout(NS, check_at(digest, times[0]))

    await pool.execute("CONFIG", "RESETSTAT")
    zkey = f"rl:{digest}"
    # The two loads overlap: redis runs one while Python parses the other's replies.
    ours, theirs = await asyncio.gather(
        _load_tiergate(pool, digest, state.account_id, times, checkpoints),
        _load_baseline(pool, zkey, times, checkpoints),
    )
    cpu_ours, cpu_theirs = await _redis_cpu_us(pool, len(times))
    marker_sizes = await _markers(pool, stack, markers)
    await pool.execute("UNLINK", zkey)  # tens of MiB at full volume: give it back at once
    await store.aclose()
    return _outcome(checkpoints, ours, theirs, marker_sizes, (cpu_ours, cpu_theirs))


def _outcome(
    checkpoints: list[int],
    ours: dict[int, _Sizes],
    theirs: dict[int, int],
    markers: list[int],
    cpu_us: tuple[float, float],
) -> Outcome:
    table = Table("2. Redis memory per key for its limit state (MEMORY USAGE, bytes)")
    for mark in checkpoints:
        s = ours[mark]
        table.add(
            f"limit state after {mark:,} requests",
            f"{fmt_bytes(s.limit_state)} (TAT {s.tat} + quota {s.quota})",
            fmt_bytes(theirs[mark]),
            f"<= {LIMIT_STATE_TARGET} B",
        )
    last = ours[checkpoints[-1]]
    table.add("account state hash (one per account)", fmt_bytes(last.account), "none", "O(1)")
    table.add("key record hash (one per API key)", fmt_bytes(last.key), "none", "O(1)")
    table.add("Idempotency-Key marker, one", fmt_bytes(markers[0]), "none", "-")
    table.add(f"Idempotency-Key markers, {len(markers):,}", fmt_bytes(sum(markers)), "none", "-")
    table.add("Redis CPU per decision (commandstats)", *(f"{us:.1f} us" for us in cpu_us), "-")
    seen = {"account": {s.account for s in ours.values()}, "key": {s.key for s in ours.values()}}
    table.notes += [
        "MEMORY USAGE counts key, value and dict entry, not the TTL entry (true of both);"
        " the baseline's sorted set is measured with SAMPLES 0, every member counted",
        "sizes of the hashes across the volumes: "
        + "; ".join(f"{name} {sorted(sizes)} B" for name, sizes in seen.items())
        + ": they are the hot copy of registry data, not traffic state",
        "baseline members are f'{now_ms}-{uuid4}' (50 bytes); its size scales with member"
        " length, so shorter members give less than this, never O(1)",
        "markers are kept only for requests that send Idempotency-Key (here a UUID), and"
        " expire after the idempotency TTL (24 h): they scale with such requests per day",
        "Redis CPU: usec of EVALSHA (script included) vs the baseline's four commands,"
        " per request, from INFO commandstats over the bulk load; noisy on a busy machine",
    ]
    worst = max(s.limit_state for s in ours.values())
    finding = Finding(
        f"limit-state bytes, worst of {len(checkpoints)} volumes (to {checkpoints[-1]:,})",
        fmt_bytes(worst),
        fmt_bytes(theirs[checkpoints[-1]]),
        f"<= {LIMIT_STATE_TARGET} B",
        worst <= LIMIT_STATE_TARGET,
    )
    return Outcome([table], [finding])


def _spread(count: int) -> list[int]:
    start, end = _MONTH
    step = (end - start) // count
    if step * 1000 < 2 * 1_000_000 // BURST:  # spaced at least two burst intervals apart
        raise ValueError(f"{count:,} requests do not fit one month at burst {BURST}/s")
    if end - start > WINDOW_MS:
        raise ValueError("the month is longer than the baseline's window: it would sweep")
    return [start + i * step for i in range(count)]


def _evalsha(digest: str, now_ms: int, idempotency_key: str = "") -> list[str]:
    return gate_evalsha(NS, Check(digest, now_ms, idempotency_key=idempotency_key))


def _admitted(reply: RespValue) -> bool:
    # gate.lua's one-string verdict starts with its code
    return isinstance(reply, bytes) and reply.startswith(b"0 ")


async def _load_tiergate(
    pool: RespPool, digest: str, account_id: str, times: list[int], checkpoints: list[int]
) -> dict[int, _Sizes]:
    akey = f"{NS}:a:{account_id}"
    names = [f"{akey}:b", f"{akey}:q:{_MONTH[0]}", akey, f"{NS}:k:{digest}"]
    sizes: dict[int, _Sizes] = {}
    done = admitted = 0
    for mark in checkpoints:
        for lo in range(done, mark - 1, BATCH):
            batch = times[lo : min(lo + BATCH, mark - 1)]
            replies = await pool.execute_many([_evalsha(digest, t) for t in batch])
            admitted += sum(map(_admitted, replies))
        # The checkpoint's last request runs in MULTI/EXEC with the measurements: the TAT
        # key's TTL is one burst interval (1 ms) of real time, and EXEC reads it at the
        # instant the script wrote it.
        replies = await pool.execute_many(
            [
                ["MULTI"],
                _evalsha(digest, times[mark - 1]),
                *(["MEMORY", "USAGE", name] for name in names),
                ["EXEC"],
            ]
        )
        result = replies[-1]
        measured = [n for n in result[1:] if isinstance(n, int)] if isinstance(result, list) else []
        if not isinstance(result, list) or len(measured) != len(names):
            raise RuntimeError(f"a tiergate key was missing after {mark:,} requests: {result!r}")
        admitted += _admitted(result[0])
        sizes[mark] = _Sizes(*measured)
        done = mark
    if admitted != done:
        raise RuntimeError(f"tiergate admitted {admitted:,} of {done:,}: the load is invalid")
    return sizes


async def _load_baseline(
    pool: RespPool, zkey: str, times: list[int], checkpoints: list[int]
) -> dict[int, int]:
    limit = 2 * checkpoints[-1]
    sizes: dict[int, int] = {}
    done = 0
    for mark in checkpoints:
        for lo in range(done, mark, BATCH):
            commands: list[list[str]] = []
            for t in times[lo : min(lo + BATCH, mark)]:
                commands += sweep_and_count(zkey, t) + record(zkey, t, member(t))
            replies = await pool.execute_many(commands)
            # Round trip 2 is sent without waiting for ZCARD: check it would have been.
            if any(not isinstance(n, int) or n >= limit for n in replies[1::4]):
                raise RuntimeError("the baseline would have denied a request: the load is invalid")
        usage, count = await pool.execute_many(
            [["MEMORY", "USAGE", zkey, "SAMPLES", "0"], ["ZCARD", zkey]]
        )
        if count != mark or not isinstance(usage, int):
            raise RuntimeError(f"the baseline logged {count!r} of {mark:,} requests")
        sizes[mark] = usage
        done = mark
    return sizes


async def _redis_cpu_us(pool: RespPool, requests: int) -> tuple[float, float]:
    info = await pool.execute("INFO", "commandstats")
    assert isinstance(info, bytes)
    usec: dict[str, int] = {}
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line.removeprefix("cmdstat_").partition(":")
            stats = dict(f.split("=", 1) for f in fields.split(","))
            usec[name] = int(stats["usec"])
    theirs = sum(usec.get(c, 0) for c in ("zremrangebyscore", "zcard", "zadd", "expire"))
    return usec.get("evalsha", 0) / requests, theirs / requests


async def _markers(pool: RespPool, stack: Stack, count: int) -> list[int]:
    """MEMORY USAGE of each Idempotency-Key marker left by `count` admitted requests."""
    store = stack.store(NS)
    digest = new_digest()
    state = account(new_account_id(), limit=2 * count, burst=BURST)
    await seed(store, digest, state)
    await store.aclose()
    keys = [str(uuid.uuid4()) for _ in range(count)]
    times = _spread(count)
    admitted = 0
    commands = [_evalsha(digest, t, k) for t, k in zip(times, keys, strict=True)]
    for lo in range(0, count, BATCH):
        admitted += sum(map(_admitted, await pool.execute_many(commands[lo : lo + BATCH])))
    if admitted != count:
        raise RuntimeError(f"tiergate admitted {admitted:,} of {count:,} marked requests")
    names = [f"{NS}:a:{state.account_id}:i:{k}" for k in keys]
    sizes = [n for n in await pool.execute_many([["MEMORY", "USAGE", n] for n in names])
             if isinstance(n, int)]  # fmt: skip
    if len(sizes) != count:
        raise RuntimeError("an Idempotency-Key marker was missing")
    await pool.execute_many([["UNLINK", *names[i : i + BATCH]] for i in range(0, count, BATCH)])
    return sizes
