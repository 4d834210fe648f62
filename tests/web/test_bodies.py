"""Checkout reads at most CHECKOUT_BODY_LIMIT bytes of body, and none before the gate admits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tiergate.web.billing import CHECKOUT_BODY_LIMIT

from ..support.streams import Chunks
from .conftest import Harness, assert_problem

CHUNK = b" " * 1024
PATH = "/v1/billing/checkout"


async def checkout(
    h: Harness, body: bytes | AsyncIterator[bytes], key: str | None, **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if key is not None:
        sent["X-API-Key"] = key
    return await h.client.post(PATH, content=body, headers=sent)


def padded(size: int) -> bytes:
    """A valid checkout body of exactly `size` bytes."""
    body = b'{"tier": "pro"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_a_body_at_the_bound_is_read_and_one_byte_more_is_a_413(h: Harness) -> None:
    key = await h.add_account()
    # Read, parsed and validated: then this deployment, which has no Stripe key, says so.
    at_bound = await checkout(h, padded(CHECKOUT_BODY_LIMIT), key)
    assert_problem(at_bound, 503, "billing-not-configured")
    over = await checkout(h, padded(CHECKOUT_BODY_LIMIT + 1), key)
    body = assert_problem(over, 413, "payload-too-large")
    assert str(CHECKOUT_BODY_LIMIT) in body["detail"]


async def test_a_declared_length_over_the_bound_is_refused_unread(h: Harness) -> None:
    key = await h.add_account()
    body = Chunks(1024, CHUNK)
    response = await checkout(h, body.stream(), key, **{"Content-Length": str(1024 * 1024)})
    assert_problem(response, 413, "payload-too-large")
    assert body.pulled == 0


async def test_a_chunked_body_is_abandoned_at_the_bound(h: Harness) -> None:
    key = await h.add_account()
    body = Chunks(1024, CHUNK)  # 1 MiB, no Content-Length
    response = await checkout(h, body.stream(), key)
    assert_problem(response, 413, "payload-too-large")
    assert body.pulled == CHECKOUT_BODY_LIMIT // len(CHUNK) + 1


async def test_without_a_key_no_byte_of_the_body_is_read(h: Harness) -> None:
    body = Chunks(1024, CHUNK)
    response = await checkout(h, body.stream(), None)
    assert_problem(response, 401, "missing-key")
    assert body.pulled == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # json.loads keeps the last "tier": the body checked would not be the body applied.
        pytest.param(
            b'{"tier": "free", "tier": "pro"}', "the name 'tier' appears twice", id="twice"
        ),
        pytest.param(b'{"tier": "pro", "n": NaN}', "NaN is not a number JSON allows", id="nan"),
        pytest.param(b'{"tier": "pro", "n": ' + b"[" * 2000, "nests deeper than 64", id="deep"),
    ],
)
async def test_a_json_body_is_read_by_the_strict_reader(
    h: Harness, body: bytes, detail: str
) -> None:
    key = await h.add_account()
    response = await checkout(h, body, key)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "about:blank"  # as FastAPI's own parse errors are
    assert detail in response.json()["detail"]
    # A body sent as another type is FastAPI's to refuse, as before (it reads only JSON).
    other = await checkout(
        h, b'{"tier": "free", "tier": "pro"}', key, **{"Content-Type": "text/plain"}
    )
    assert other.status_code == 422
