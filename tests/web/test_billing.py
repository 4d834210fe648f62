"""Settling the bill: non-billable answers are refunded; Idempotency-Key retries are free."""

from __future__ import annotations

import pytest

from .conftest import ROOMY_TIERS, Harness, MakeHarness, assert_problem, extra_app


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/v1/status/500", 500, id="HTTPException-500"),
        pytest.param("/v1/status/503", 503, id="HTTPException-503"),
        pytest.param("/v1/crash", 500, id="unhandled-exception"),
    ],
)
async def test_server_errors_are_refunded(hx: Harness, path: str, status: int) -> None:
    key = await hx.add_account("free")
    assert (await hx.call(path, key)).status_code == status
    assert await hx.used(key) == 0


async def test_success_is_billed(hx: Harness) -> None:
    key = await hx.add_account("free")
    assert (await hx.call("/v1/status/200", key)).status_code == 200
    assert await hx.used(key) == 1


@pytest.mark.parametrize(
    ("refund_client_errors", "used"),
    [pytest.param(False, 2, id="billable-by-default"), pytest.param(True, 0, id="refunded")],
)
async def test_client_errors(
    make_harness: MakeHarness, refund_client_errors: bool, used: int
) -> None:
    h = await make_harness(
        app_factory=extra_app, tiers=ROOMY_TIERS, refund_client_errors=refund_client_errors
    )
    key = await h.add_account("free")
    assert (await h.call("/v1/status/400", key)).status_code == 400
    assert (await h.call("/v1/status/404", key)).status_code == 404
    assert await h.used(key) == used


async def test_refunded_5xx_still_carries_the_limit_headers(hx: Harness) -> None:
    key = await hx.add_account("free")
    response = await hx.call("/v1/status/503", key)
    assert response.status_code == 503
    assert "RateLimit" in response.headers


def _idem(value: str | bytes) -> dict[str, str | bytes]:
    return {"Idempotency-Key": value}


async def test_same_idempotency_key_is_admitted_once_and_charged_once(hx: Harness) -> None:
    key = await hx.add_account("free")
    first = await hx.call("/v1/hello", key, headers=_idem("order-1"))
    second = await hx.call("/v1/hello", key, headers=_idem("order-1"))
    assert first.status_code == second.status_code == 200
    quota_left = '"quota";r=999;t=1339200'  # the replay did not move the quota
    assert first.headers["RateLimit"].endswith(quota_left)
    assert second.headers["RateLimit"].endswith(quota_left)
    assert await hx.used(key) == 1

    assert (await hx.call("/v1/hello", key, headers=_idem("order-2"))).status_code == 200
    assert await hx.used(key) == 2


async def test_idempotency_keys_are_per_account(hx: Harness) -> None:
    first = await hx.add_account("free")
    second = await hx.add_account("free")
    await hx.call("/v1/hello", first, headers=_idem("order-1"))
    await hx.call("/v1/hello", second, headers=_idem("order-1"))
    assert await hx.used(first) == 1
    assert await hx.used(second) == 1


async def test_retry_after_a_5xx_is_charged(hx: Harness) -> None:
    key = await hx.add_account("free")  # /v1/flaky fails once, then works
    assert (await hx.call("/v1/flaky", key, headers=_idem("job-7"))).status_code == 500
    assert await hx.used(key) == 0

    assert (await hx.call("/v1/flaky", key, headers=_idem("job-7"))).status_code == 200
    assert await hx.used(key) == 1

    assert (await hx.call("/v1/flaky", key, headers=_idem("job-7"))).status_code == 200
    assert await hx.used(key) == 1  # now a replay


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("k" * 256, id="256-chars"),
        pytest.param("caf\xe9".encode(), id="non-ascii"),
    ],
)
async def test_invalid_idempotency_key_is_400(hx: Harness, value: str | bytes) -> None:
    key = await hx.add_account("free")
    assert_problem(
        await hx.call("/v1/hello", key, headers=_idem(value)), 400, "invalid-idempotency-key"
    )
    assert await hx.used(key) == 0


async def test_longest_idempotency_key_is_accepted(hx: Harness) -> None:
    key = await hx.add_account("free")
    assert (await hx.call("/v1/hello", key, headers=_idem("k" * 255))).status_code == 200
