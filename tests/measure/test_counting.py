"""The Redis commands a gated request is charged with are the commands Redis ran: the example
app over the project's Upstash REST server and a real redis-server, counted against
redis-server's own INFO commandstats."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import SecretStr

from tiergate.config import Settings
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.background import UpstashEndpoint
from tiergate_tools.localredis.resp import RespPool

from ..observe.conftest import read_stdout
from .test_emf_costs import ROOMY


async def scripts_run(pool: RespPool) -> int:
    """EVALSHA and EVAL calls redis-server has run (each a command Upstash bills)."""
    info = await pool.execute("INFO", "commandstats")
    assert isinstance(info, bytes)
    total = 0
    for line in info.decode().splitlines():
        name, _, fields = line.partition(":")
        if name in ("cmdstat_evalsha", "cmdstat_eval"):
            total += int(dict(f.split("=") for f in fields.split(","))["calls"])
    return total


async def test_each_request_is_charged_the_scripts_redis_ran(
    upstash: UpstashEndpoint,
    redis_addr: tuple[str, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        tiers=ROOMY,
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=SecretStr(upstash.token),
        redis_namespace=f"m{uuid.uuid4().hex[:8]}",
        redis_timeout=10,
        measure_flush=0,
    )
    parts = build(settings)
    keys = await parts.demo_keys()
    pool = RespPool(*redis_addr)
    transport = httpx.ASGITransport(app=create_app(settings, parts=parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        headers = {"X-API-Key": keys["free"]}
        await client.get("/v1/hello", headers=headers)  # the miss
        # complete.lua's first use may be a NOSCRIPT and an EVAL: not the steady state
        await client.get("/v1/hello", headers={**headers, "Idempotency-Key": "warm"})
        capsys.readouterr()
        before = await scripts_run(pool)
        for n in range(6):
            extra = {"Idempotency-Key": f"k{n}"} if n % 2 else {}
            assert (await client.get("/v1/hello", headers={**headers, **extra})).status_code == 200
        ran = await scripts_run(pool) - before
    await pool.close()
    await parts.aclose()
    documents = read_stdout(capsys).costs
    charged = [d["RedisCommands"][0] for d in documents]
    assert charged == [1, 2, 1, 2, 1, 2]  # 2: the decision, then the kept response
    assert sum(charged) == ran
    assert {d["tier"] for d in documents} == {"free"}
