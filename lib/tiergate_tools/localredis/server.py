"""The Upstash REST protocol as an ASGI app in front of a real redis-server.

Endpoints, as Upstash serves them:

* ``POST /`` with ``["SET", "k", "v"]`` -> ``{"result": "OK"}``
* ``POST /pipeline`` with ``[[...], [...]]`` -> ``[{"result": ...}, {"error": ...}]``
* ``POST /multi-exec`` -> the same shape, run inside MULTI/EXEC on one redis connection
* ``GET|HEAD|POST|PUT /set/k/v?EX=100`` -> the path form; a POST body is the last argument
  (HEAD runs the command as GET would; the HTTP server sends the answer's headers alone)

Auth is ``Authorization: Bearer <token>`` (or ``?_token=``). With ``Upstash-Encoding: base64``
every string in a result is base64-encoded except the simple-string reply ``OK``, which is
what the upstash-redis clients expect when they decode.

A plain ASGI callable rather than a framework app: per call, a framework's routing, request
and response objects and middleware cost more CPU than the redis round trip, and this server
stands in for Upstash in every test and benchmark (`python -m bench` measures it).
"""

from __future__ import annotations

import hmac
import json
import logging
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope, Send

from .commands import (
    BadRequest,
    JSONValue,
    entry,
    one_command,
    path_command,
    refuse_connection_state,
    several_commands,
    to_json,
)
from .resp import Arg, RespError, RespPool, RespProtocolError, RespValue
from .scripts import ScriptShas

__all__ = ["UpstashRestApp", "create_app"]

_log = logging.getLogger(__name__)
_JSON_HEADERS = [(b"content-type", b"application/json")]
_Answer = tuple[int, "JSONValue | list[dict[str, JSONValue]] | dict[str, JSONValue]"]


def create_app(
    redis_host: str, redis_port: int, token: str, *, pool_size: int = 128
) -> UpstashRestApp:
    """The REST server for redis at `redis_host:redis_port`, accepting bearer `token`.

    The connection pool is opened in the app's lifespan and closed at shutdown, so the app
    must be served with lifespan enabled (uvicorn does so by default).
    """
    return UpstashRestApp(redis_host, redis_port, token, pool_size=pool_size)


class UpstashRestApp:
    def __init__(self, redis_host: str, redis_port: int, token: str, *, pool_size: int) -> None:
        if not token:
            raise ValueError("the REST token must not be empty")
        self.redis_host, self.redis_port = redis_host, redis_port
        self.pool: RespPool | None = None
        self._pool_size = pool_size
        self._token = token.encode()
        self._scripts = ScriptShas()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            body = await _read_body(receive)
            if body is None:
                # The client hung up before its request was whole (its own timeout, most
                # likely): there is nobody to answer, and nothing was sent to redis.
                _log.debug("client disconnected before its request body was read")
                return
            status, content = await self._answer(scope, body)
            payload = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
            data = payload.encode("utf-8", "replace")
            headers = [*_JSON_HEADERS, (b"content-length", b"%d" % len(data))]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": data})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = RespPool(self.redis_host, self.redis_port, max_size=self._pool_size)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                pool, self.pool = self.pool, None
                if pool is not None:
                    await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(self, scope: Scope, body: bytes) -> _Answer:
        """Auth, then the endpoint; client mistakes become 400 and redis outages 503."""
        headers = dict(scope["headers"])
        if not self._authorized(headers.get(b"authorization", b""), scope["query_string"]):
            return 401, {"error": "Unauthorized"}
        pool = self.pool
        if pool is None:
            return 503, {"error": "ERR the server is not started (serve it with lifespan on)"}
        b64 = headers.get(b"upstash-encoding", b"").strip().lower() == b"base64"
        path, method = scope["path"], scope["method"]
        try:
            if method == "POST" and path == "/":
                return await self._one(pool, one_command(body), b64)
            if method == "POST" and path == "/pipeline":
                return await self._pipeline(pool, several_commands(body), b64)
            if method == "POST" and path == "/multi-exec":
                return await self._multi_exec(pool, several_commands(body), b64)
            if method in ("GET", "HEAD", "POST", "PUT"):  # what Upstash's REST API allows
                raw_path = scope.get("raw_path") or path.encode()
                command = path_command(raw_path, scope["query_string"], body)
                return await self._one(pool, command, b64)
            return 405, {"error": "Method Not Allowed"}
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        except (OSError, EOFError, RespProtocolError) as exc:
            # OSError covers refused/reset connections and timeouts; EOFError a redis that
            # hung up mid-reply. Either way the client gets JSON, never a traceback.
            address = f"{self.redis_host}:{self.redis_port}"
            return 503, {"error": f"ERR redis at {address} is unavailable: {exc!r}"}

    async def _one(self, pool: RespPool, command: list[Arg], b64: bool) -> _Answer:
        refuse_connection_state(command)
        command, instead = self._scripts.rewrite(command)
        reply = _instead(await pool.execute(*command), instead)
        if isinstance(reply, RespError):
            return 400, {"error": reply.message}
        return 200, {"result": to_json(reply, b64)}

    async def _pipeline(self, pool: RespPool, commands: list[list[Arg]], b64: bool) -> _Answer:
        entries: list[dict[str, JSONValue]] = [{} for _ in commands]
        runnable: list[tuple[int, list[Arg], bytes | None]] = []
        for i, command in enumerate(commands):
            try:
                refuse_connection_state(command)
            except BadRequest as exc:
                entries[i] = {"error": str(exc)}  # that command fails, the others still run
            else:
                runnable.append((i, *self._scripts.rewrite(command)))
        if runnable:
            replies = await pool.execute_many([c for _, c, _ in runnable])
            for (i, _, instead), reply in zip(runnable, replies, strict=True):
                entries[i] = entry(_instead(reply, instead), b64)
        return 200, entries

    async def _multi_exec(self, pool: RespPool, commands: list[list[Arg]], b64: bool) -> _Answer:
        for command in commands:
            refuse_connection_state(command)
        if not commands:
            return 200, []
        rewritten = [self._scripts.rewrite(c) for c in commands]
        # One connection, one write: MULTI, the commands, EXEC. Redis queues them and runs
        # them with no other client's command in between.
        replies = await pool.execute_many([["MULTI"], *(c for c, _ in rewritten), ["EXEC"]])
        outcome = replies[-1]
        if isinstance(outcome, RespError):
            # EXECABORT: a command was rejected while queueing (arity, unknown command) and
            # nothing ran. Name that command's error, which EXECABORT's text does not.
            queued = [r for r in replies[1:-1] if isinstance(r, RespError)]
            detail = f" ({queued[0].message})" if queued else ""
            return 400, {"error": outcome.message + detail}
        if not isinstance(outcome, list):
            return 400, {"error": "EXECABORT transaction was not executed"}
        return 200, [
            entry(_instead(reply, instead), b64)
            for reply, (_, instead) in zip(outcome, rewritten, strict=True)
        ]

    def _authorized(self, header: bytes, query_string: bytes) -> bool:
        scheme, _, credential = header.partition(b" ")
        if scheme.lower() != b"bearer":
            query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
            credential = next((v for k, v in query if k == "_token"), "").encode()
        return hmac.compare_digest(credential.strip(), self._token)


def _instead(reply: RespValue, instead: bytes | None) -> RespValue:
    """Redis's reply, or the one to give instead (only ever for a reply that succeeded)."""
    return instead if instead is not None and isinstance(reply, bytes) else reply


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
