"""A key sent in the query string is refused with a 401 that says keys go in X-API-Key, and
neither the key nor the query string is ever written to the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tiergate.keys import generate_key, parse_key
from tiergate.web.querykey import key_in_query

from .conftest import read_stdout
from .test_request_id import Api, make_api


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    made, client = await make_api()
    async with client:
        yield made


def assert_key_in_query(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["type"] == "urn:tiergate:problem:key-in-query"
    assert "X-API-Key header" in body["detail"]
    assert "access logs" in body["detail"]


@pytest.mark.parametrize("name", ["api_key", "apikey", "api-key", "x-api-key", "key", "API_KEY"])
async def test_a_key_named_parameter_on_a_gated_route_is_refused(api: Api, name: str) -> None:
    key = await api.key()
    assert_key_in_query(await api.client.get("/v1/hello", params={name: key}))
    # whatever its value: without X-API-Key it can only be the key, sent the wrong way
    assert_key_in_query(await api.client.get("/v1/hello", params={name: "not-a-key"}))


async def test_a_tiergate_key_under_any_name_on_any_route_is_refused(api: Api) -> None:
    key = await api.key()
    assert_key_in_query(await api.client.get("/healthz", params={"token": key}))
    # the header does not make it right: the key is in the URL, so it is in the logs
    response = await api.client.get("/v1/hello", params={"q": key}, headers={"X-API-Key": key})
    assert_key_in_query(response)
    mistyped = key[:-1] + ("a" if key[-1] != "a" else "b")  # still a leaked key
    assert_key_in_query(await api.client.get("/v1/hello", params={"q": mistyped}))


async def test_a_route_parameter_called_key_is_the_routes_own_when_the_header_is_sent(
    api: Api,
) -> None:
    key = await api.key()
    response = await api.client.get(
        "/v1/hello", params={"key": "colour"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 200
    assert (await api.client.get("/healthz", params={"key": "colour"})).status_code == 200


async def test_the_refusal_is_counted_and_logged_without_the_key_or_the_query(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    key = await api.key()
    capsys.readouterr()
    response = await api.client.get("/v1/hello", params={"api_key": key, "page": "qs-sentinel"})
    assert_key_in_query(response)
    out = read_stdout(capsys)
    assert key not in out.text
    assert "qs-sentinel" not in out.text
    [access] = out.access()
    assert access["outcome"] == "key-in-query"
    assert access["path"] == "/v1/hello"
    [metric] = out.emf
    assert (metric["reason"], metric["Denied"]) == ("key-in-query", 1)


async def test_no_line_ever_holds_a_key_even_where_the_code_would_write_one(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key in the path (a client's mistake) and in a message: written as its key_id."""
    key = await api.key()
    parsed = parse_key(key)
    assert parsed is not None
    capsys.readouterr()
    assert (await api.get(f"/v1/{key}", key)).status_code == 404
    logging.getLogger("tiergate").warning("careless %s", key, extra={"sent": key})
    out = read_stdout(capsys)
    assert key not in out.text
    assert f"[key {parsed.key_id}]" in out.text
    assert out.logs[-1]["request_id"] is None  # logged outside a request
    assert out.logs[-1]["sent"] == f"[key {parsed.key_id}]"


@pytest.mark.parametrize(
    ("query", "gated", "header", "found"),
    [
        pytest.param(b"", True, False, False, id="none"),
        pytest.param(b"page=2&sort=name", True, False, False, id="unrelated"),
        pytest.param(b"key=colour", True, True, False, id="key-with-header"),
        pytest.param(b"key=colour", False, False, False, id="key-off-the-gated-prefix"),
        pytest.param(b"key=", True, False, True, id="key-empty"),
        pytest.param(b"q=tg_live_abc", False, True, True, id="live-prefix"),
        pytest.param(b"q=tg%5Ftest%5Fabc", False, True, True, id="percent-encoded"),
        pytest.param(b"q=%ff%fe", True, False, False, id="not-utf8"),
    ],
)
def test_key_in_query(query: bytes, gated: bool, header: bool, found: bool) -> None:
    assert key_in_query(query, gated=gated, has_header=header) is found


def test_a_generated_key_is_recognised() -> None:
    query = f"x={generate_key('live')}".encode()
    assert key_in_query(query, gated=False, has_header=True)
