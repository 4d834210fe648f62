"""What the gate leaves alone: never gated, never counted, never even looked up."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Harness, MakeHarness, assert_problem


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("OPTIONS", "/v1/hello", 405),
        ("GET", "/docs", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/v1/no-such-route", 404),
        ("POST", "/v1/hello", 405),
    ],
)
@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
async def test_not_gated_nor_counted(
    h: Harness, method: str, path: str, status: int, with_key: bool
) -> None:
    key = await h.add_account("free")
    response = await h.call(path, key if with_key else None, method=method)
    assert response.status_code == status
    assert "RateLimit" not in response.headers
    assert h.registry.reads == 0  # the key was not even looked up
    assert await h.used(key) == 0


async def test_healthz_body(h: Harness) -> None:
    assert (await h.call("/healthz")).json() == {"status": "ok"}


@pytest.fixture
async def hw(make_harness: MakeHarness) -> Harness:
    return await make_harness(warmup_secret="s3cret")


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
async def test_warmup_ping_is_204_and_free(hw: Harness, with_key: bool) -> None:
    key = await hw.add_account("free")
    headers = {"X-Tiergate-Warmup": "s3cret"}
    response = await hw.call("/v1/hello", key if with_key else None, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert hw.registry.reads == 0
    assert await hw.used(key) == 0


async def test_wrong_warmup_secret_is_gated_as_usual(hw: Harness) -> None:
    key = await hw.add_account("free")
    headers = {"X-Tiergate-Warmup": "guess"}
    assert_problem(await hw.call("/v1/hello", headers=headers), 401, "missing-key")
    assert (await hw.call("/v1/hello", key, headers=headers)).status_code == 200
    assert await hw.used(key) == 1


async def test_warmup_header_without_a_configured_secret_is_gated(h: Harness) -> None:
    headers = {"X-Tiergate-Warmup": ""}
    assert_problem(await h.call("/v1/hello", headers=headers), 401, "missing-key")


@pytest.mark.parametrize(
    ("settings", "bearer", "status"),
    [
        ({"warmup_secret": "s3cret"}, "s3cret", 204),
        ({"cron_secret": "from-vercel-cron"}, "from-vercel-cron", 204),  # what a Vercel cron sends
        ({"warmup_secret": "s3cret"}, "guess", 401),
        ({}, "", 401),  # no secret configured: nothing is accepted
    ],
)
async def test_the_warmup_route_takes_a_bearer_secret(
    make_harness: MakeHarness, settings: dict[str, Any], bearer: str, status: int
) -> None:
    h = await make_harness(**settings)
    headers = {"Authorization": f"Bearer {bearer}"}
    response = await h.call("/internal/warmup", headers=headers)
    if status == 204:
        assert response.status_code == 204
    else:
        assert_problem(response, 401, "invalid-warmup-secret")
    assert h.registry.reads == 0
