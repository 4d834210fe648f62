"""Request bodies read with a bound, so a large or endless POST costs at most the bound.

The declared Content-Length is refused before a byte is read; a body streamed without one
(chunked) is counted as it arrives and abandoned at the first chunk past the bound. A body
FastAPI would read as JSON is read by the strict reader first (jsontext.py): json.loads takes
a name twice (the last wins), NaN and Infinity, which no client of ours means.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from ..errors import BodyTooLarge, InvalidJSON
from ..jsontext import parse_json
from .problems import blank_problem, problem

__all__ = ["BodyTooLarge", "bounded_route", "read_body", "read_stream", "too_large"]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed `limit` bytes."""
    return await read_stream(request.receive, limit, request.headers.get("content-length", ""))


async def read_stream(receive: Receive, limit: int, content_length: str = "") -> bytes:
    """The body as the ASGI stream delivers it, stopping at the first chunk past `limit`
    (BodyTooLarge), or before any when Content-Length says it is over; ClientDisconnect when
    the client goes away first."""
    # A length of more digits than the limit's is over it: no int() of a huge string.
    if content_length.isdigit() and (
        len(content_length) > len(str(limit)) or int(content_length) > limit
    ):
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def too_large(exc: BodyTooLarge) -> Response:
    return problem("payload-too-large", limit_bytes=exc.limit)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def bounded_route(limit: int) -> type[APIRoute]:
    """An APIRoute class whose routes read at most `limit` bytes of body (413 past it).

    FastAPI reads a route's whole body before any dependency runs, so the bound has to sit
    in the route's handler: it reads the body with the bound, then hands FastAPI a request
    that replays those bytes.
    """

    class BoundedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()
            takes_body = self.body_field is not None  # else FastAPI never parses the body

            async def bounded(request: Request) -> Response:
                try:
                    body = await read_body(request, limit)
                except BodyTooLarge as exc:
                    return too_large(exc)
                except ClientDisconnect:  # nobody is left to read an answer
                    return Response(status_code=400)
                content_type = request.headers.get("content-type", "")
                if takes_body and body and _read_as_json(content_type):
                    try:
                        parse_json(body)
                    except InvalidJSON as exc:
                        return blank_problem(400, f"The body is not JSON tiergate accepts: {exc}.")
                return await handler(Request(request.scope, _replay(body, request.receive)))

            return bounded

    return BoundedRoute


def _read_as_json(content_type: str) -> bool:
    """Whether FastAPI parses a body of this type as JSON: none given, */json or */*+json."""
    media = content_type.partition(";")[0].strip().lower()
    return not media or media.endswith(("/json", "+json"))


def _replay(body: bytes, then: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the body was read whole; what follows is the server's own news
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
