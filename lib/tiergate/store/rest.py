"""The hot path's calls in Upstash's REST protocol, as bytes on the lean pool (`transport.py`).

A command is `POST <url's path>` with the command as a JSON array for its body,
`Authorization: Bearer <token>`, and `Upstash-Encoding: base64` (strings in the result come
back base64-encoded, so any bytes survive JSON); the answer is `{"result": ...}` or
`{"error": "..."}`. This is what upstash-redis sends for the same command, byte for byte in
the body and the headers that carry meaning (tests/contract/test_rest_protocol.py holds the
two to it): upstash-redis stays the client for everything else.

Per call only the varying part is formatted. The request line and headers are built once per
client, each script's `["EVALSHA","<sha>",<numkeys>,` once per script (`Command`), and the
caller formats its arguments as a JSON fragment (`json_args`, or a template of its own).
"""

from __future__ import annotations

import json
from base64 import b64decode
from binascii import Error as Base64Error
from collections.abc import Sequence
from urllib.parse import urlsplit

from .connection import RemoteProtocolError
from .scripts import Script
from .transport import Pool

__all__ = ["Command", "RestClient", "ScriptError", "json_args", "json_str"]

Result = bytes | int | None  # a string result as its bytes

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_RESULT, _END = b'{"result":"', b'"}'


class ScriptError(Exception):
    """Upstash answered with an error (NOSCRIPT, a script's error, a wrong token): the command
    was refused or failed, so its answer is not lost."""


def json_str(text: str) -> str:
    """`text` as a JSON string, exactly as httpx's encoder writes it (UTF-8 kept)."""
    return _encode(text)


def json_args(args: Sequence[str]) -> bytes:
    """`args` as the elements of a JSON array (no brackets), as httpx writes them."""
    return _encode(list(args))[1:-1].encode("utf-8")


class Command:
    """A script's two forms, built once: EVALSHA by its SHA-1, and EVAL with its source for
    when Redis does not have it cached (NOSCRIPT)."""

    __slots__ = ("eval", "evalsha")

    def __init__(self, script: Script, numkeys: int) -> None:
        self.evalsha = b'["EVALSHA","%s",%d,' % (script.sha.encode("ascii"), numkeys)
        self.eval = b'["EVAL",%s,%d,' % (json_str(script.source).encode("utf-8"), numkeys)


class RestClient:
    """POSTs of prepared command bodies to one Upstash database, over keep-alive connections.

    `timeout_s` bounds connecting and waiting for a free connection; the wait for a reply is
    the caller's to bound (the store's `answer_within`), or `read_timeout_s`'s. Build it once
    per container: its pool lives in it.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        read_timeout_s: float | None = None,
        pool: Pool | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
        host = name if port == default else f"{name}:{port}"
        if any(c in token for c in "\r\n") or any(c in url for c in "\r\n "):
            raise ValueError("a line break or space in the URL or token")
        self._pool = pool or Pool(
            parts.scheme, parts.hostname, port, timeout_s=timeout_s, read_timeout_s=read_timeout_s
        )
        self._head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nUpstash-Encoding: base64\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()

    async def call(self, body: bytes) -> Result:
        """Run the command whose JSON body is `body`; its result (a string as its bytes).

        ScriptError when Upstash answers with an error; TransportError when no answer came.
        """
        reply = await self._pool.exchange(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        return _result(reply.body, reply.status)

    async def aclose(self) -> None:
        await self._pool.aclose()


def _result(body: bytes, status: int) -> Result:
    if body.startswith(_RESULT) and body.endswith(_END) and b"\\" not in body:
        encoded = body[len(_RESULT) : -len(_END)]  # the common case: one string, no JSON work
    else:
        try:
            answer = json.loads(body)
        except ValueError:
            raise RemoteProtocolError(f"not JSON (HTTP {status}): {body[:80]!r}") from None
        if not isinstance(answer, dict):
            raise RemoteProtocolError(f"not an Upstash answer: {body[:80]!r}")
        if "error" in answer:
            raise ScriptError(str(answer["error"]))
        result = answer.get("result")
        if result is None or isinstance(result, int):
            return result
        if not isinstance(result, str):
            raise RemoteProtocolError(f"not a string or integer result: {body[:80]!r}")
        encoded = result.encode("ascii", "replace")
    if encoded == b"OK":  # the simple-string reply is not encoded
        return encoded
    try:
        return b64decode(encoded, validate=True)
    except Base64Error:
        raise RemoteProtocolError(f"not base64: {encoded[:80]!r}") from None
