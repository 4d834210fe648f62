"""Find and run a throwaway redis-server on a loopback port.

The server keeps nothing on disk (no RDB snapshots, no AOF) and stops when the context
manager exits, so tests and `tiergate local-redis` leave no state behind. On Linux it also
dies with the process that started it, even one killed with SIGKILL (which runs no cleanup):
the kernel sends it SIGTERM when its parent goes (prctl PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import IO

from tiergate.errors import TiergateError

__all__ = [
    "LocalRedisError",
    "RedisServerNotFound",
    "RedisStartError",
    "find_redis_server",
    "free_port",
    "ping",
    "spawn_redis_server",
]

HOST = "127.0.0.1"
_INSTALL_HINT = (
    "install it (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: "
    "`brew install redis`) or point at a running one with --redis HOST:PORT"
)


class LocalRedisError(TiergateError, RuntimeError):
    """The local redis could not be found, started or reached; the message says why."""


class RedisServerNotFound(LocalRedisError):
    """No redis-server executable."""


class RedisStartError(LocalRedisError):
    """redis-server was found but did not start answering PING."""


def find_redis_server(override: str | None = None) -> str:
    """The path of redis-server: `override` (a path or a name on PATH) if given, else PATH."""
    if override:
        found = shutil.which(override)
        if found is None:
            raise RedisServerNotFound(f"redis-server {override!r} is not an executable file")
        return found
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerNotFound(f"redis-server was not found on PATH; {_INSTALL_HINT}")
    return found


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago (the OS picks it when binding port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a redis at host:port answers PING with PONG (not, say, -LOADING)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def spawn_redis_server(
    port: int | None = None,
    *,
    binary: str | None = None,
    startup_timeout: float = 10.0,
) -> Iterator[tuple[str, int]]:
    """Run redis-server on 127.0.0.1:`port` (None or 0: a free port); yield (host, port).

    Raises RedisServerNotFound without the binary, and RedisStartError (with the server's
    output) if it does not answer PING within `startup_timeout` seconds.
    """
    executable = find_redis_server(binary)
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="tiergate-redis-"))
        # Another process can grab a picked port before redis binds it; picking again is
        # cheap, a fixed port that is taken is the caller's problem.
        attempts = 1 if port else 3
        for attempt in range(1, attempts + 1):
            chosen = port or free_port()
            log = stack.enter_context(tempfile.TemporaryFile())
            process = _start(executable, chosen, workdir, log)
            stack.callback(_stop, process)
            try:
                _wait_until_ready(process, chosen, log, startup_timeout)
                break
            except RedisStartError:
                _stop(process)
                if attempt == attempts:
                    raise
        yield HOST, chosen


def _start(executable: str, port: int, workdir: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [
        executable,
        "--port", str(port),
        "--bind", HOST,
        "--save", "",  # no RDB snapshots
        "--appendonly", "no",
        "--dir", workdir,  # in case anything is written anyway, it lands in a temp dir
        "--daemonize", "no",
    ]  # fmt: skip
    # The executable is an absolute path from find_redis_server; no shell is involved.
    return subprocess.Popen(  # noqa: S603
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        preexec_fn=_die_with_parent(),
    )


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGTERM the child when this process dies (Linux).

    The death signal follows the *thread* that forked, so it is armed only from the main
    thread, whose end is the process's; elsewhere (and off Linux) there is none, and the
    context manager's own stop is all there is.
    """
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        # Runs in the child between fork and exec: a foreign call and a system call, no
        # imports and no locks, so the threads this process may have cannot deadlock it.
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def _wait_until_ready(
    process: subprocess.Popen[bytes], port: int, log: IO[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not ping(HOST, port, timeout=0.5):
        if process.poll() is not None:
            raise RedisStartError(
                f"redis-server exited with code {process.returncode} before answering PING "
                f"on port {port}:\n{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise RedisStartError(
                f"redis-server did not answer PING on port {port} within {timeout:g}s:\n"
                f"{_tail(log)}"
            )
        time.sleep(0.02)  # bounded start-up polling


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", "replace").strip()
    return text[-limit:] or "(no output)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
