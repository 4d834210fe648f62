"""The Upstash REST protocol as a Starlette app in front of a real redis-server.

Endpoints, as Upstash serves them:

* ``POST /`` with ``["SET", "k", "v"]`` -> ``{"result": "OK"}``
* ``POST /pipeline`` with ``[[...], [...]]`` -> ``[{"result": ...}, {"error": ...}]``
* ``POST /multi-exec`` -> the same shape, run inside MULTI/EXEC on one redis connection
* ``GET|POST|PUT /set/k/v?EX=100`` -> the path form; a POST body is the last argument

Auth is ``Authorization: Bearer <token>`` (or ``?_token=``). With ``Upstash-Encoding: base64``
every string in a result is base64-encoded except the simple-string reply ``OK``, which is
what the upstash-redis clients expect when they decode.
"""

from __future__ import annotations

import hmac
import json
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .resp import Arg, RespError, RespPool, RespProtocolError, RespValue

__all__ = ["create_app"]

JSONValue: TypeAlias = "str | int | list[JSONValue] | None"
# An endpoint's body once auth passed: (pool, request, base64 results?) -> response.
_Handler: TypeAlias = Callable[[RespPool, Request, bool], Awaitable[Response]]

# Commands that change the state of a pooled connection (which later requests reuse) or
# never return a normal reply. Transactions go through /multi-exec instead of MULTI/EXEC.
_REFUSED = frozenset(
    {
        "HELLO", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT", "CLIENT", "RESET",
        "QUIT", "AUTH", "MONITOR", "SYNC", "PSYNC", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
        "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "SHUTDOWN",
    }
)  # fmt: skip


class _BadRequest(Exception):
    """The request cannot be turned into redis commands; answered with 400."""


def create_app(redis_host: str, redis_port: int, token: str, *, pool_size: int = 128) -> Starlette:
    """The REST server for redis at `redis_host:redis_port`, accepting bearer `token`.

    The connection pool is opened in the app's lifespan and closed at shutdown, so the app
    must be served with lifespan enabled (uvicorn does so by default).
    """
    if not token:
        raise ValueError("the REST token must not be empty")
    api = _Api(redis_host, redis_port, token)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api.pool = RespPool(redis_host, redis_port, max_size=pool_size)
        try:
            yield
        finally:
            pool, api.pool = api.pool, None
            await pool.close()

    routes = [
        Route("/", api.single, methods=["POST"]),
        Route("/pipeline", api.pipeline, methods=["POST"]),
        Route("/multi-exec", api.multi_exec, methods=["POST"]),
        Route("/{path:path}", api.path_form, methods=["GET", "POST", "PUT"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception},  # e.g. 405 as JSON, like the rest
    )


class _Api:
    def __init__(self, redis_host: str, redis_port: int, token: str) -> None:
        self.redis_address = f"{redis_host}:{redis_port}"
        self.pool: RespPool | None = None
        self._token = token.encode()

    # -- endpoints ---------------------------------------------------------------------

    async def single(self, request: Request) -> Response:
        return await self._guarded(request, self._single)

    async def pipeline(self, request: Request) -> Response:
        return await self._guarded(request, self._pipeline)

    async def multi_exec(self, request: Request) -> Response:
        return await self._guarded(request, self._multi_exec)

    async def path_form(self, request: Request) -> Response:
        return await self._guarded(request, self._path_form)

    async def _single(self, pool: RespPool, request: Request, b64: bool) -> Response:
        command = _command(await _json_body(request))
        return await self._one(pool, command, b64)

    async def _path_form(self, pool: RespPool, request: Request, b64: bool) -> Response:
        return await self._one(pool, await _path_command(request), b64)

    async def _one(self, pool: RespPool, command: list[Arg], b64: bool) -> Response:
        _refuse_connection_state(command)
        reply = await pool.execute(*command)
        if isinstance(reply, RespError):
            return _error(400, reply.message)
        return JSONResponse({"result": _to_json(reply, b64)})

    async def _pipeline(self, pool: RespPool, request: Request, b64: bool) -> Response:
        commands = _commands(await _json_body(request))
        entries: list[dict[str, JSONValue]] = [{} for _ in commands]
        runnable: list[tuple[int, list[Arg]]] = []
        for i, command in enumerate(commands):
            try:
                _refuse_connection_state(command)
            except _BadRequest as exc:
                entries[i] = {"error": str(exc)}  # that command fails, the others still run
            else:
                runnable.append((i, command))
        if runnable:
            replies = await pool.execute_many([c for _, c in runnable])
            for (i, _), reply in zip(runnable, replies, strict=True):
                entries[i] = _entry(reply, b64)
        return JSONResponse(entries)

    async def _multi_exec(self, pool: RespPool, request: Request, b64: bool) -> Response:
        commands = _commands(await _json_body(request))
        for command in commands:
            _refuse_connection_state(command)
        if not commands:
            return JSONResponse([])
        # One connection, one write: MULTI, the commands, EXEC. Redis queues them and runs
        # them with no other client's command in between.
        replies = await pool.execute_many([["MULTI"], *commands, ["EXEC"]])
        outcome = replies[-1]
        if isinstance(outcome, RespError):
            # EXECABORT: a command was rejected while queueing (arity, unknown command) and
            # nothing ran. Name that command's error, which EXECABORT's text does not.
            queued = [r for r in replies[1:-1] if isinstance(r, RespError)]
            detail = f" ({queued[0].message})" if queued else ""
            return _error(400, outcome.message + detail)
        if not isinstance(outcome, list):
            return _error(400, "EXECABORT transaction was not executed")
        return JSONResponse([_entry(reply, b64) for reply in outcome])

    # -- shared plumbing ---------------------------------------------------------------

    async def _guarded(self, request: Request, handler: _Handler) -> Response:
        """Auth, then the handler; client mistakes become 400 and redis outages 503."""
        if not self._authorized(request):
            return _error(401, "Unauthorized")
        pool = self.pool
        if pool is None:
            return _error(503, "ERR the server is not started (serve it with lifespan on)")
        b64 = request.headers.get("upstash-encoding", "").strip().lower() == "base64"
        try:
            return await handler(pool, request, b64)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except (OSError, EOFError, RespProtocolError) as exc:
            # OSError covers refused/reset connections and timeouts; EOFError a redis that
            # hung up mid-reply. Either way the client gets JSON, never a traceback.
            return _error(503, f"ERR redis at {self.redis_address} is unavailable: {exc!r}")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer":
            credential = request.query_params.get("_token", "")
        return hmac.compare_digest(credential.strip().encode(), self._token)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise _BadRequest('ERR empty request body; send a JSON array such as ["PING"]')
    try:
        # Numbers keep the exact text the client sent ("10", "1.5", "1e3"), which is the
        # string form redis receives. Non-standard NaN/Infinity are passed on the same way.
        return json.loads(raw, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(f"ERR request body is not valid JSON: {exc}") from None


def _commands(body: Any) -> list[list[Arg]]:
    if not isinstance(body, list):
        raise _BadRequest('ERR expected a JSON array of commands, e.g. [["GET","k"]]')
    return [_command(c) for c in body]


def _command(body: Any) -> list[Arg]:
    if not isinstance(body, list) or not body:
        raise _BadRequest('ERR a command is a non-empty JSON array, e.g. ["GET","k"]')
    args: list[Arg] = []
    for item in body:
        if isinstance(item, bool):  # before str: JSON true/false go as their JSON text
            args.append("true" if item else "false")
        elif isinstance(item, str):  # numbers are already strings (see _json_body)
            args.append(item)
        else:
            raise _BadRequest(
                f"ERR command arguments must be strings or numbers, got {json.dumps(item)}"
            )
    return args


async def _path_command(request: Request) -> list[Arg]:
    # raw_path keeps %2F inside an argument distinct from the / between arguments.
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    raw = raw.split(b"?", 1)[0]
    args: list[Arg] = [unquote_to_bytes(part) for part in raw.split(b"/") if part]
    if not args:
        raise _BadRequest("ERR no command in the path, e.g. /get/key")
    body = await request.body()
    if body:
        args.append(body)
    for key, value in request.query_params.multi_items():
        if key != "_token":
            args += [key, value] if value else [key]
    return args


def _refuse_connection_state(command: Sequence[Arg]) -> None:
    name = command[0]
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    if text.upper() in _REFUSED:
        raise _BadRequest(
            f"ERR command '{text}' is not supported over REST"
            + (" (use the /multi-exec endpoint)" if text.upper() in {"MULTI", "EXEC"} else "")
        )


def _entry(reply: RespValue, b64: bool) -> dict[str, JSONValue]:
    if isinstance(reply, RespError):
        return {"error": reply.message}
    return {"result": _to_json(reply, b64)}


def _to_json(value: RespValue, b64: bool) -> JSONValue:
    """RESP2 -> JSON: integers as numbers, nil as null, arrays nested, strings maybe base64."""
    if isinstance(value, list):
        return [_to_json(v, b64) for v in value]
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
