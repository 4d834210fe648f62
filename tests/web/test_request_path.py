"""docs/design.md's request path names every file of tiergate a gated request runs through.

The block is the map a reader follows to the hot path, so it must not go stale: an admitted
request in the steady state (on the Upstash store, its key record warm) is traced, and each
tiergate module whose code it runs must be named in the block.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tiergate import Settings
from tiergate.web.example import create_app
from tiergate_tools.localredis.background import UpstashEndpoint

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lib" / "tiergate"
_NAMED = re.compile(r"[\w/]+\.py\b")


def documented() -> set[str]:
    """The .py files named in design.md's first code block, relative to lib/tiergate/."""
    text = (ROOT / "docs" / "design.md").read_text()
    block = text.split("```", 2)[1]
    return set(_NAMED.findall(block))


async def traced_request(settings: Settings) -> set[str]:
    app = create_app(settings)
    parts = app.state.tiergate
    key = (await parts.admin().create_key("path-account", "free", label="path")).key
    ran: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(PACKAGE):
                ran.add(path.relative_to(PACKAGE).as_posix())

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://path") as client:
        for _ in range(2):  # the first takes the key's miss and fills the hot state
            assert (await client.get("/v1/hello", headers={"X-API-Key": key})).status_code == 200
        sys.setprofile(profile)
        try:
            answer = await client.get("/v1/hello", headers={"X-API-Key": key})
        finally:
            sys.setprofile(None)
    await parts.aclose()
    assert answer.status_code == 200
    return ran - {"web/example.py"}  # the endpoint: the owner's code


async def test_the_request_path_names_every_file_a_request_runs_through(
    upstash: UpstashEndpoint,
) -> None:
    settings = Settings(
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=SecretStr(upstash.token),
        redis_namespace="requestpath",
        redis_timeout=5,
    )
    ran = await traced_request(settings)
    assert {"gate.py", "store/upstash.py"} <= ran  # the trace saw the hot path
    missing = sorted(ran - documented())
    assert not missing, f"design.md's request path does not name {missing}"


@pytest.mark.parametrize("name", sorted(documented()))
def test_each_file_the_request_path_names_exists(name: str) -> None:
    assert (PACKAGE / name).is_file(), name
