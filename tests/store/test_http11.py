"""The response parser of the lean transport: whole, split, chunked, and refused input."""

from __future__ import annotations

import pytest

from tiergate.store.http11 import MAX_HEAD, ProtocolError, parse_response

OK = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"result":1}\n'
)


def test_content_length_response() -> None:
    reply = parse_response(OK, head=False, eof=False)

    assert reply is not None
    assert (reply.status, reply.reason, reply.body) == (200, b"OK", b'{"result":1}\n')
    assert reply.headers == [(b"Content-Type", b"application/json"), (b"Content-Length", b"13")]
    assert reply.keep_alive
    assert reply.consumed == len(OK)


def test_every_split_point_waits_then_parses() -> None:
    for cut in range(len(OK)):
        assert parse_response(OK[:cut], head=False, eof=False) is None
    assert parse_response(OK + b"HTTP/1.1 ...", head=False, eof=False) is not None


def test_two_pipelined_responses_are_taken_one_at_a_time() -> None:
    reply = parse_response(OK + OK, head=False, eof=False)

    assert reply is not None
    assert reply.consumed == len(OK)


def test_chunked_body_with_extension_and_trailer() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;ext=1\r\n{"re\r\n7\r\nsult":1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    for cut in range(len(data)):
        assert parse_response(data[:cut], head=False, eof=False) is None

    reply = parse_response(data, head=False, eof=False)

    assert reply is not None
    assert reply.body == b'{"result":1}'
    assert reply.consumed == len(data)


def test_interim_responses_are_skipped() -> None:
    reply = parse_response(b"HTTP/1.1 100 Continue\r\n\r\n" + OK, head=False, eof=False)

    assert reply is not None
    assert reply.status == 200


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_connection_close_and_http10_are_not_kept(data: bytes) -> None:
    reply = parse_response(data, head=False, eof=False)

    assert reply is not None
    assert not reply.keep_alive


def test_body_until_close() -> None:
    data = b"HTTP/1.1 200 OK\r\n\r\npartial"

    assert parse_response(data, head=False, eof=False) is None
    reply = parse_response(data, head=False, eof=True)
    assert reply is not None
    assert (reply.body, reply.keep_alive) == (b"partial", False)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_and_head(status: int) -> None:
    data = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status

    reply = parse_response(data, head=False, eof=False)
    head = parse_response(OK[: OK.index(b"\r\n\r\n") + 4], head=True, eof=False)

    assert reply is not None
    assert (reply.body, reply.consumed) == (b"", len(data))
    assert head is not None
    assert head.body == b""


def test_a_response_cut_by_the_server_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="closed the connection"):
        parse_response(OK[:-3], head=False, eof=True)


@pytest.mark.parametrize(
    "data",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad : spaced\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_responses_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(data, head=False, eof=False)


def test_an_endless_head_is_refused() -> None:
    with pytest.raises(ProtocolError, match="too large"):
        parse_response(b"HTTP/1.1 200 OK\r\nX: " + b"a" * MAX_HEAD, head=False, eof=False)


def test_repeated_equal_content_lengths_are_accepted() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"

    reply = parse_response(data, head=False, eof=False)

    assert reply is not None
    assert reply.body == b"ab"
