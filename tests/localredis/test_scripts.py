"""Scripts with Upstash-only shebang flags: upstash-ratelimit against the local server."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from upstash_ratelimit.asyncio import FixedWindow, Ratelimit, SlidingWindow, TokenBucket
from upstash_ratelimit.limiter import Limiter
from upstash_redis.asyncio import Redis

from tiergate_tools.localredis.scripts import strip_upstash_flags

FLAGGED = "#!lua flags=allow-key-locking\nreturn ARGV[1] .. ':' .. KEYS[1]"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - the name redis uses


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"#!lua flags=allow-key-locking\nreturn 1", b"#!lua\nreturn 1"),
        (b"#!lua flags=no-writes,allow-key-locking\nreturn 1", b"#!lua flags=no-writes\nreturn 1"),
        (
            b"#!lua flags=allow-key-locking,no-writes\r\nreturn 1",
            b"#!lua flags=no-writes\r\nreturn 1",
        ),
        (b"#!lua name=x flags=allow-key-locking", b"#!lua name=x"),
    ],
)
def test_strips_only_the_upstash_flag(script: bytes, expected: bytes) -> None:
    assert strip_upstash_flags(script) == expected


@pytest.mark.parametrize(
    "script", [b"return 1", b"#!lua\nreturn 1", b"#!lua flags=no-writes\nreturn 1", b""]
)
def test_leaves_other_scripts_alone(script: bytes) -> None:
    assert strip_upstash_flags(script) is None


@pytest.mark.parametrize(
    "limiter",
    [
        FixedWindow(max_requests=3, window=60),
        SlidingWindow(max_requests=3, window=60),
        TokenBucket(max_tokens=3, refill_rate=1, interval=60),
    ],
    ids=["fixed-window", "sliding-window", "token-bucket"],
)
async def test_upstash_ratelimit_runs_against_the_local_server(
    upstash_client: Redis, key: str, limiter: Limiter
) -> None:
    ratelimit = Ratelimit(upstash_client, limiter, prefix=key)

    answers = [await ratelimit.limit("user") for _ in range(5)]

    assert [a.allowed for a in answers] == [True, True, True, False, False]
    assert [a.remaining for a in answers] == [2, 1, 0, 0, 0]


async def test_the_client_sha_names_a_rewritten_script(upstash_client: Redis, key: str) -> None:
    """SCRIPT LOAD answers the SHA the client computed; EVALSHA and SCRIPT EXISTS find it."""
    script = FLAGGED + f" -- {key}"

    assert await upstash_client.script_exists(sha1(script)) == [0]
    assert await upstash_client.script_load(script) == sha1(script)
    assert await upstash_client.script_exists(sha1(script)) == [1]
    assert await upstash_client.evalsha(sha1(script), [key], ["a"]) == f"a:{key}"


async def test_eval_of_a_rewritten_script_is_then_found_by_its_sha(
    upstash_client: Redis, key: str
) -> None:
    script = FLAGGED + f" -- eval {key}"

    assert await upstash_client.eval(script, [key], ["b"]) == f"b:{key}"
    assert await upstash_client.evalsha(sha1(script), [key], ["c"]) == f"c:{key}"


async def test_pipeline_and_transaction_translate_too(upstash_client: Redis, key: str) -> None:
    script = FLAGGED + f" -- pipeline {key}"
    pipeline = upstash_client.pipeline()
    pipeline.script_load(script)
    pipeline.evalsha(sha1(script), [key], ["d"])
    transaction = upstash_client.multi()
    transaction.script_exists(sha1(script))
    transaction.evalsha(sha1(script), [key], ["e"])

    assert await pipeline.exec() == [sha1(script), f"d:{key}"]
    assert await transaction.exec() == [[1], f"e:{key}"]


async def test_a_broken_flagged_script_is_redis_s_error(http: httpx.AsyncClient) -> None:
    reply = await http.post("/", json=["SCRIPT", "LOAD", "#!lua flags=allow-key-locking\nreturn ("])

    assert reply.status_code == 400
    assert "Error compiling script" in reply.json()["error"]
