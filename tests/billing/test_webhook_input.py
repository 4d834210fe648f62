"""What an unauthenticated POST to /webhooks/stripe can cost: a 400 or 413, bounded, unechoed.

The webhook alone, on the in-process registry: nothing here reaches a store.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tiergate.billing.signature import MAX_HEADER
from tiergate.clock import FakeClock
from tiergate.jsontext import MAX_DEPTH
from tiergate.web.webhooks import WEBHOOK_BODY_LIMIT, create_webhook_app
from tiergate.wiring import build

from ..support.streams import Chunks
from .conftest import NOW_MS, billing_settings
from .events import NOW_S, event, signed

CHUNK = b"x" * 65_536
WELL_FORMED = f"t={NOW_S},v1={'0' * 64}"  # the right shape, signed by nobody


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = billing_settings("http://127.0.0.1:9")  # Stripe is never called here
    app = create_webhook_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as client:
        yield client


async def post(
    client: httpx.AsyncClient,
    body: bytes | AsyncIterator[bytes],
    signature: str | None,
    **headers: str,
) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if signature is not None:
        sent["Stripe-Signature"] = signature
    return await client.post("/webhooks/stripe", content=body, headers=sent)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json"
    slug: str = response.json()["type"].removeprefix("urn:tiergate:problem:")
    return slug


@pytest.mark.parametrize("digits", [4_300, 5_000, 100_000])
async def test_a_timestamp_of_thousands_of_digits_is_a_400_that_repeats_none_of_them(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, digits: int
) -> None:
    # 5,000 digits are past int()'s limit (a 500 before); 4,300 were echoed into the log
    # and the detail as the timestamp's distance from now.
    payload, _ = signed(event("x", {}, created=NOW_S), at_s=NOW_S)
    header = f"t={'4' * digits},v1={'0' * 64}"
    response = await post(client, payload, header)
    assert response.status_code == 400
    assert problem_type(response) == "invalid-signature"
    assert "4444444444" not in response.text
    assert "4444444444" not in caplog.text


async def test_an_overlong_header_is_refused_unread(client: httpx.AsyncClient) -> None:
    header = WELL_FORMED + ",v1=" + "a" * MAX_HEADER
    body = Chunks(1, CHUNK)
    response = await post(client, body.stream(), header)
    assert response.status_code == 400
    assert "aaaaaaaaaa" not in response.text
    assert body.pulled == 0


async def test_without_a_signature_no_byte_of_the_body_is_read(client: httpx.AsyncClient) -> None:
    body = Chunks(320, CHUNK)  # 20 MiB
    response = await post(client, body.stream(), None)
    assert response.status_code == 400
    assert problem_type(response) == "invalid-signature"
    assert body.pulled == 0


async def test_a_declared_length_over_the_bound_is_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    body = Chunks(320, CHUNK)
    length = str(320 * len(CHUNK))
    response = await post(client, body.stream(), WELL_FORMED, **{"Content-Length": length})
    assert response.status_code == 413
    assert problem_type(response) == "payload-too-large"
    assert str(WEBHOOK_BODY_LIMIT) in response.json()["detail"]
    assert body.pulled == 0


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


@pytest.mark.usefixtures("traced")
async def test_a_chunked_body_over_the_bound_stops_at_the_bound(
    client: httpx.AsyncClient,
) -> None:
    body = Chunks(320, CHUNK)  # 20 MiB with no Content-Length: counted as it arrives
    tracemalloc.reset_peak()
    response = await post(client, body.stream(), WELL_FORMED)
    _, peak = tracemalloc.get_traced_memory()
    assert response.status_code == 413
    assert problem_type(response) == "payload-too-large"
    assert body.pulled == WEBHOOK_BODY_LIMIT // len(CHUNK) + 1  # the first chunk past it
    assert peak < 2 * 1024 * 1024  # reading it all took more than 20 MiB


async def test_a_signed_event_as_large_as_the_bound_is_applied(client: httpx.AsyncClient) -> None:
    evt = event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"}, created=NOW_S)
    compact = json.dumps(evt).encode()
    padded = compact[:-1] + b" " * (WEBHOOK_BODY_LIMIT - len(compact)) + b"}"
    assert len(padded) == WEBHOOK_BODY_LIMIT
    response = await post(client, *signed(padded, at_s=NOW_S))
    assert response.status_code == 200
    assert response.json()["outcome"] == "recorded"
    over = await post(client, *signed(padded + b" ", at_s=NOW_S))
    assert over.status_code == 413


def nested(depth: int, *, inside: bytes = b"1") -> bytes:
    """A signed-able Stripe event whose object holds `depth` levels of arrays and objects."""
    opening = b'{"a":[' * (depth // 2) + b"[" * (depth % 2)
    closing = b"]" * (depth % 2) + b"]}" * (depth // 2)
    head = json.dumps(event("x.y", {"id": "o"}, created=NOW_S, event_id="evt_nested"))
    return head.encode()[: -len(b"}}}")] + b', "deep": ' + opening + inside + closing + b"}}}"


async def test_a_signed_body_nested_100000_deep_is_a_400(client: httpx.AsyncClient) -> None:
    payload = b'{"id": "evt_deep", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await post(client, *signed(payload, at_s=NOW_S))  # was a RecursionError
    assert response.status_code == 400
    assert problem_type(response) == "invalid-signature"
    assert "nests deeper" in response.json()["detail"]


@pytest.mark.parametrize(
    ("depth", "status"),
    [
        pytest.param(MAX_DEPTH - 3, 200, id="within"),  # event, data, object: 3 levels
        pytest.param(MAX_DEPTH - 2, 400, id="one-past"),
    ],
)
async def test_the_depth_bound_is_exact(client: httpx.AsyncClient, depth: int, status: int) -> None:
    payload = nested(depth)
    json.loads(payload)  # valid JSON either way
    response = await post(client, *signed(payload, at_s=NOW_S))
    assert response.status_code == status, response.text


async def test_brackets_inside_strings_are_not_nesting(client: httpx.AsyncClient) -> None:
    payload = nested(4, inside=json.dumps('[{"\\"[' * 10_000).encode())
    response = await post(client, *signed(payload, at_s=NOW_S))
    assert response.status_code == 200, response.text


async def test_unbalanced_brackets_are_refused_before_parsing(client: httpx.AsyncClient) -> None:
    # Mismatched at the bottom, 100,000 deep: json.loads would recurse before it saw that.
    payload = b'{"id": "evt_bad", "data": ' + b"[" * 100_000 + b"{]" + b"]" * 100_000 + b"}"
    response = await post(client, *signed(payload, at_s=NOW_S))
    assert response.status_code == 400


# 60,000 escaped quotes, 120 KB, in a string the body never closes: the old pre-check's
# pattern failed there and was tried again from every later quote, 45 s of one CPU with the
# event loop blocked. thread_time counts this thread's CPU only, so other load does not.
QUOTES = 60_000
_HEAD = json.dumps(event("x.y", {"id": "o"}, created=NOW_S, event_id="evt_quotes")).encode()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_HEAD[:-3] + b', "note": "' + b'\\"' * QUOTES, id="in-a-string-left-open"),
        pytest.param(b'\\"' * QUOTES, id="bare"),
    ],
)
async def test_a_signed_body_of_escaped_quotes_is_a_400_at_once(
    client: httpx.AsyncClient, payload: bytes
) -> None:
    assert len(payload) >= 120_000
    body, header = signed(payload, at_s=NOW_S)
    started = time.thread_time()
    response = await post(client, body, header)
    spent = time.thread_time() - started
    assert spent < 1.0  # a few milliseconds; tens of seconds before
    assert response.status_code == 400
    assert problem_type(response) == "invalid-signature"
    assert "not valid JSON" in response.json()["detail"]


async def test_a_signed_event_whose_string_holds_escaped_quotes_is_applied_at_once(
    client: httpx.AsyncClient,
) -> None:
    payload = nested(2, inside=json.dumps('"' * QUOTES).encode())
    started = time.thread_time()
    response = await post(client, *signed(payload, at_s=NOW_S))
    assert time.thread_time() - started < 1.0
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("member", "detail"),
    [
        # json keeps the last "type", another reader of the same bytes the first.
        pytest.param(b', "type": "customer.subscription.deleted"', "appears twice", id="twice"),
        pytest.param(b', "amount": NaN', "NaN is not a number", id="nan"),
        pytest.param(b', "amount": 1e400', "out of range", id="huge"),
    ],
)
async def test_a_signed_body_the_strict_reader_refuses_is_a_400(
    client: httpx.AsyncClient, member: bytes, detail: str
) -> None:
    payload = _HEAD[:-1] + member + b"}"
    response = await post(client, *signed(payload, at_s=NOW_S))
    assert response.status_code == 400
    assert problem_type(response) == "invalid-signature"
    assert detail in response.json()["detail"]
