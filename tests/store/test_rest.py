"""The hot call's bytes, without a server: the gate's arguments formatted in place are what a
JSON encoder writes for gate_script_args (httpx's, as upstash-redis uses it), and Upstash's
answers are read as upstash-redis reads them."""

from __future__ import annotations

import json
from base64 import b64encode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiergate.decision import Check
from tiergate.store.connection import RemoteProtocolError
from tiergate.store.rest import Command, RestClient, ScriptError, _result
from tiergate.store.scripts import GATE
from tiergate.store.upstash import UpstashStore, gate_script_args


def httpx_json(value: object) -> bytes:
    # httpx's encode_json, which upstash-redis's post(json=...) goes through
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


text = st.text(max_size=40)


@given(
    namespace=st.text(min_size=1, max_size=10),
    digest=text,
    now_ms=st.none() | st.integers(min_value=0, max_value=2**53),
    min_rank=st.integers(min_value=0, max_value=10**6),
    feature=text,
    cost=st.integers(min_value=0, max_value=10**9),
    idempotency_key=text,
    fingerprint=text,
    request_id=text,
    retry=st.booleans(),
    route=text,
)
def test_the_gate_call_formatted_in_place_is_the_json_of_its_arguments(
    namespace: str, digest: str, **fields: object
) -> None:
    check = Check(digest, **fields)  # type: ignore[arg-type]
    store = UpstashStore(lambda: None, RestClient("http://127.0.0.1:1", "t"), namespace=namespace)  # type: ignore[arg-type, return-value]
    keys, argv = gate_script_args(namespace, check)

    sent = Command(GATE, 1).evalsha + store._gate_tail(check)

    assert sent == httpx_json(["EVALSHA", GATE.sha, 1, *keys, *argv])


def encoded(text: str) -> str:
    return b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (httpx_json({"result": encoded("0 5\ncafé")}), "0 5\ncafé".encode()),
        (b'{ "result" : "%s" }' % encoded("spaced").encode(), b"spaced"),
        (b'{"result":"a\\/b="}', b"k\xf6"),  # an escaped slash: read as JSON, then base64
        (b'{"result":"OK"}', b"OK"),  # the simple-string reply is not encoded
        (b'{"result":1}', 1),
        (b'{"result":null}', None),
    ],
)
def test_answers_are_read_as_upstash_redis_reads_them(body: bytes, result: object) -> None:
    assert _result(body, 200) == result


def test_an_error_answer_is_a_script_error() -> None:
    with pytest.raises(ScriptError, match="NOSCRIPT"):
        _result(b'{"error":"NOSCRIPT No matching script. Please use EVAL."}', 400)


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b"[1]", b'{"result":[1]}', b'{"result":"***"}']
)
def test_anything_else_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        _result(body, 502)


@pytest.mark.parametrize(
    "url",
    [
        "https://eu1-example-12345.upstash.io",
        "https://eu1-example-12345.upstash.io/",
        "http://127.0.0.1:8079",
        "http://localhost:80/prefix",
        "http://[::1]:8079",
    ],
)
def test_the_request_line_and_host_are_what_httpx_sends(url: str) -> None:
    import httpx

    built = httpx.Request("POST", url)  # what upstash-redis posts to: the URL itself
    expected = b"POST %s HTTP/1.1\r\nHost: %s\r\n" % (
        built.url.raw_path,
        built.headers["host"].encode(),
    )

    assert RestClient(url, "t")._head.startswith(expected)
