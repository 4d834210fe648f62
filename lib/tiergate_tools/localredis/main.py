"""`tiergate local-redis`: serve the Upstash REST protocol on this machine.

Starts a private redis-server unless one is given with ``--redis HOST:PORT``, prints the
two environment variables to point an Upstash client at, and serves until interrupted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType

from starlette.types import ASGIApp

from tiergate.errors import ConfigError

from .binary import LocalRedisError, ping, spawn_redis_server
from .http import serve
from .server import create_app

__all__ = ["DEFAULT_TOKEN", "parse_redis_address", "run"]

# The token `tiergate local-redis` has when none is given: fine on loopback, where only this
# machine can reach the server, and refused on any other address, since whoever knows it
# (it is printed in the docs) could then run every redis command, EVAL included.
DEFAULT_TOKEN = "local-dev-token"  # noqa: S105 - public by design, hence the refusal


def run(host: str, port: int, token: str, redis: str | None) -> None:
    """Serve on host:port with bearer `token`, over redis at `redis` ("HOST:PORT") or a new one.

    Blocks until the server is stopped (Ctrl-C). The spawned redis-server, if any, stops
    with it.
    """
    if not token:
        raise ConfigError("the token must not be empty")
    if token == DEFAULT_TOKEN and not _is_loopback(host):
        raise ConfigError(
            f"--host {host} serves every redis command to the network: "
            "give a token of your own with --token"
        )
    with ExitStack() as stack:
        stack.enter_context(_termination_unwinds())
        if redis is None:
            redis_host, redis_port = stack.enter_context(spawn_redis_server())
        else:
            redis_host, redis_port = parse_redis_address(redis)
            if not ping(redis_host, redis_port):
                raise LocalRedisError(f"no redis answered PING at {redis_host}:{redis_port}")
        # Bind before announcing, so the printed URL is one that works (and port 0 works).
        listener = stack.enter_context(_listen(host, port))
        bound_port = listener.getsockname()[1]
        print(
            f"UPSTASH_REDIS_REST_URL=http://{_url_host(host)}:{bound_port} "
            f"UPSTASH_REDIS_REST_TOKEN={token}",
            flush=True,
        )
        # Ctrl-C (KeyboardInterrupt) and SIGTERM/SIGHUP (the stop event) end the serving,
        # which runs the app's shutdown; then the ExitStack stops redis-server.
        asyncio.run(_serve_until_signalled(create_app(redis_host, redis_port, token), listener))


def parse_redis_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:6379"`` for IPv6) -> (host, port)."""
    host, sep, port_text = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"--redis must be HOST:PORT, e.g. 127.0.0.1:6379; got {address!r}")
    return host, int(port_text)


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise LocalRedisError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


async def _serve_until_signalled(app: ASGIApp, listener: socket.socket) -> None:
    """Serve until SIGTERM/SIGHUP, which the event loop turns into a stop.

    Raised from a plain signal handler, SystemExit can land inside the loop's own
    bookkeeping (between a future finishing and its task being woken), and that task then
    never finishes: the process hung on exit about one run in thirty.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signums = (
        _termination_signals() if threading.current_thread() is threading.main_thread() else []
    )
    outside = {signum: signal.getsignal(signum) for signum in signums}
    for signum in signums:
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve(app, listener, stop=stop)
    finally:
        for signum, handler in outside.items():
            loop.remove_signal_handler(signum)  # which leaves SIG_DFL: put back the one before
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _termination_signals() -> list[signal.Signals]:
    return [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])


@contextmanager
def _termination_unwinds() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit outside the event loop, so `finally` blocks run.

    Under the default handlers they kill the process at once, before the spawned
    redis-server is stopped (on Linux the kernel then stops it; elsewhere it is orphaned).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    signums = _termination_signals()
    previous = {signum: signal.getsignal(signum) for signum in signums}

    def exit_cleanly(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for signum in signums:
        signal.signal(signum, exit_cleanly)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (a name must be "localhost" to count)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False  # another name, or "" (every interface)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - recognising a wildcard, not binding one
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
