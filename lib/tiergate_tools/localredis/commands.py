"""Upstash REST requests to redis commands, and redis replies to Upstash's JSON.

Pure functions over bytes and values, no I/O: the server (`server.py`) reads the request,
calls these, and sends what they return.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Sequence
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, unquote_to_bytes

from .resp import Arg, RespError, RespValue

__all__ = [
    "BadRequest",
    "JSONValue",
    "entry",
    "one_command",
    "path_command",
    "refuse_connection_state",
    "several_commands",
    "to_json",
]

JSONValue: TypeAlias = "str | int | list[JSONValue] | None"

# Commands that change the state of a pooled connection (which later requests reuse) or
# never return a normal reply. Transactions go through /multi-exec instead of MULTI/EXEC.
_REFUSED = frozenset(
    {
        "HELLO", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT", "CLIENT", "RESET",
        "QUIT", "AUTH", "MONITOR", "SYNC", "PSYNC", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
        "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "SHUTDOWN",
    }
)  # fmt: skip


class BadRequest(Exception):
    """The request cannot be turned into redis commands; answered with 400."""


def one_command(body: bytes) -> list[Arg]:
    """``POST /``: a JSON array such as ``["SET", "k", "v"]``."""
    return _command(_json(body))


def several_commands(body: bytes) -> list[list[Arg]]:
    """``POST /pipeline`` and ``/multi-exec``: a JSON array of commands."""
    parsed = _json(body)
    if not isinstance(parsed, list):
        raise BadRequest('ERR expected a JSON array of commands, e.g. [["GET","k"]]')
    return [_command(c) for c in parsed]


def path_command(raw_path: bytes, query_string: bytes, body: bytes) -> list[Arg]:
    """The path form: ``/set/k/v?EX=100``; a body is the last argument, then the query."""
    # raw_path keeps %2F inside an argument distinct from the / between arguments.
    args: list[Arg] = [unquote_to_bytes(part) for part in raw_path.split(b"/") if part]
    if not args:
        raise BadRequest("ERR no command in the path, e.g. /get/key")
    if body:
        args.append(body)
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key != "_token":
            args += [key, value] if value else [key]
    return args


def refuse_connection_state(command: Sequence[Arg]) -> None:
    name = command[0]
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    if text.upper() in _REFUSED:
        raise BadRequest(
            f"ERR command '{text}' is not supported over REST"
            + (" (use the /multi-exec endpoint)" if text.upper() in {"MULTI", "EXEC"} else "")
        )


def entry(reply: RespValue, b64: bool) -> dict[str, JSONValue]:
    """One command's part of a pipeline or transaction answer."""
    if isinstance(reply, RespError):
        return {"error": reply.message}
    return {"result": to_json(reply, b64)}


def to_json(value: RespValue, b64: bool) -> JSONValue:
    """RESP2 -> JSON: integers as numbers, nil as null, arrays nested, strings maybe base64."""
    if isinstance(value, list):
        return [to_json(v, b64) for v in value]
    if isinstance(value, bytes):
        return b64encode(value).decode("ascii") if b64 else value.decode("utf-8", "replace")
    if isinstance(value, RespError):
        # Only reachable nested inside an array (e.g. a Lua table holding an error); JSON
        # results cannot carry an error object there, so it travels as its message.
        value = value.message
    if isinstance(value, str):
        if not b64 or value == "OK":
            return value
        return b64encode(value.encode()).decode("ascii")
    return value


def _json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest('ERR empty request body; send a JSON array such as ["PING"]')
    try:
        # Numbers keep the exact text the client sent ("10", "1.5", "1e3"), which is the
        # string form redis receives. Non-standard NaN/Infinity are passed on the same way.
        return json.loads(raw, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"ERR request body is not valid JSON: {exc}") from None


def _command(body: Any) -> list[Arg]:
    if not isinstance(body, list) or not body:
        raise BadRequest('ERR a command is a non-empty JSON array, e.g. ["GET","k"]')
    args: list[Arg] = []
    for item in body:
        if isinstance(item, bool):  # before str: JSON true/false go as their JSON text
            args.append("true" if item else "false")
        elif isinstance(item, str):  # numbers are already strings (see _json)
            args.append(item)
        else:
            raise BadRequest(
                f"ERR command arguments must be strings or numbers, got {json.dumps(item)}"
            )
    return args
