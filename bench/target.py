"""tiergate's side: accounts written through the store, checks as the gate builds them, and
the exact EVALSHA that UpstashStore.check sends, for driving the script over raw RESP."""

from __future__ import annotations

import json
import secrets
from typing import cast

from upstash_redis.asyncio import Redis

from tiergate.decision import Check
from tiergate.hotstate import AccountState, KeyState
from tiergate.keys import generate_key, key_digest
from tiergate.store import HotStore
from tiergate.store.rest import RestClient
from tiergate.store.scripts import GATE
from tiergate.store.upstash import UpstashStore, gate_script_args

__all__ = [
    "IDEMPOTENCY_TTL_MS",
    "NOW",
    "account",
    "check_at",
    "gate_evalsha",
    "new_account_id",
    "new_digest",
    "seed",
    "verify_evalsha_layout",
]

NOW = 1_763_208_000_000  # 2025-11-15T12:00:00Z: a 30-day month, like the baseline's window
IDEMPOTENCY_TTL_MS = 86_400_000  # UpstashStore's default


def new_digest() -> str:
    return key_digest(generate_key("test"))


def new_account_id() -> str:
    # Shaped like a Stripe customer id, so key names have a realistic length.
    return "cus_" + secrets.token_hex(7)


def account(account_id: str, *, limit: int, burst: int) -> AccountState:
    return AccountState(account_id, tier="bench", rank=0, status="active", limit=limit, burst=burst)


async def seed(store: HotStore, digest: str, state: AccountState) -> None:
    await store.write(keys={digest: KeyState(state.account_id)}, accounts=[state])


def check_at(digest: str, now_ms: int, idempotency_key: str = "") -> Check:
    return Check(digest=digest, now_ms=now_ms, idempotency_key=idempotency_key)


def gate_evalsha(namespace: str, check: Check) -> list[str]:
    """The EVALSHA UpstashStore.check sends for `check`, as one RESP command."""
    keys, argv = gate_script_args(namespace, check)
    return ["EVALSHA", GATE.sha, str(len(keys)), *keys, *argv]


class _Recorder:
    """Stands in for the hot call's client and keeps the commands the store sent."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def call(self, body: bytes) -> bytes:
        self.calls.append([str(part) for part in json.loads(body)])
        return b"2"  # KEY_MISS: the shortest valid reply

    async def aclose(self) -> None:
        pass


async def verify_evalsha_layout(namespace: str, check: Check) -> None:
    """Fail loudly if the bulk load would drive the script differently from the store."""
    recorder = _Recorder()
    store = UpstashStore(
        _no_client,
        cast(RestClient, recorder),
        namespace=namespace,
        idempotency_ttl_ms=IDEMPOTENCY_TTL_MS,
    )
    await store.check(check)
    if recorder.calls != [gate_evalsha(namespace, check)]:
        raise RuntimeError(
            "UpstashStore.check no longer sends the EVALSHA bench/target.py builds:"
            f" {recorder.calls!r}"
        )


def _no_client() -> Redis:
    raise AssertionError("a check needs no upstash-redis client")
