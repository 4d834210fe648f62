"""The Upstash call's CPU: the client's per call, by transport, and the local server's.

The REST server (`tiergate local-redis`) and each client run in processes of their own, so
each one's CPU is its own: a client's from `time.process_time` around its calls, the
server's from /proc between the phases; redis-server is a third. Every client makes the same
upstash-redis call (a GET of a short value), sequentially and from 32 concurrent tasks:

* httpx's default transport without `sniffio`, as before it was a dependency: the client
  runs on a copy of this venv's site-packages without that one package, so each request's
  four failed imports cost what they cost there;
* the same with `sniffio`;
* httpx on aiohttp (`httpx-aiohttp`), the faster transport on PyPI;
* tiergate's lean transport, as `store.upstash.connect` builds it.

The server table puts `tiergate local-redis` next to the same REST app under uvicorn
(which served it before it had its own HTTP/1.1 server), for the same client and calls.

The import table shows what each transport costs a cold start: the time to import its
stack and build one client in a fresh interpreter (best of a few, the files in the page
cache), and the size of the distributions it adds to the package (byte code not counted).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tiergate_tools.localredis.binary import spawn_redis_server

from .client_imports import ADDED_DISTRIBUTIONS, dist_bytes, import_ms, installed
from .report import Finding, Outcome, Table, fmt_int
from .upstash_calls import CONCURRENCY

__all__ = ["announced_url", "cpu_seconds", "measure"]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = secrets.token_urlsafe(24)  # the parent's; children are handed it
VARIANTS = {
    "httpx, no sniffio": "httpx",
    "httpx + sniffio": "httpx",
    "httpx on aiohttp": "aiohttp",
    "lean (tiergate)": "lean",
}


@dataclass(frozen=True)
class ClientRun:
    seq_cpu_us: float
    seq_wall_us: float
    con_cpu_us: float
    con_rate: float
    server_cpu_us: float  # the server's CPU per call over both phases


def measure(calls: int, import_runs: int) -> Outcome:
    runs: dict[str, ClientRun | None] = {}
    with spawn_redis_server() as redis, _site_without("sniffio") as no_sniffio:
        with _server("lean", redis) as (url, server_pid):
            for name, kind in VARIANTS.items():
                if kind == "aiohttp" and not installed("httpx-aiohttp"):
                    runs[name] = None
                    continue
                site = no_sniffio if name == "httpx, no sniffio" else None
                runs[name] = _client_run(kind, url, calls, server_pid, site)
        with _server("uvicorn", redis) as (url, server_pid):
            on_uvicorn = _client_run("lean", url, calls, server_pid, None)
    imports = {
        name: import_ms(kind, import_runs)
        for name, kind in VARIANTS.items()
        if runs[name] is not None
    }
    outcome = _outcome(runs, imports, calls)
    lean = runs["lean (tiergate)"]
    assert lean is not None
    servers = Table(
        "Local Upstash server CPU per call (lean client, same calls)",
        columns=("server", "CPU/call", "x"),
    )
    servers.add("the REST app under uvicorn (h11)", f"{on_uvicorn.server_cpu_us:,.0f} us", "1.00")
    servers.add(
        "tiergate local-redis (its own HTTP/1.1 server)",
        f"{lean.server_cpu_us:,.0f} us",
        f"{lean.server_cpu_us / on_uvicorn.server_cpu_us:.2f}",
    )
    servers.notes.append("both over the same redis-server; redis's own CPU not counted")
    outcome.tables.append(servers)
    return outcome


def _outcome(runs: dict[str, ClientRun | None], imports: dict[str, float], calls: int) -> Outcome:
    base = runs["httpx, no sniffio"]
    lean = runs["lean (tiergate)"]
    assert base is not None
    assert lean is not None
    cpu = Table(
        f"Upstash call CPU: one upstash-redis GET, {calls:,} calls each way",
        columns=("client transport", "client CPU/call seq", "x", f"at {CONCURRENCY} concurrent",
                 "x", f"calls/s at {CONCURRENCY}", "server CPU/call"),
    )  # fmt: skip
    for name, run in runs.items():
        if run is None:
            cpu.add(name, "not installed", "", "", "", "", "")
            continue
        cpu.add(
            name,
            f"{run.seq_cpu_us:,.0f} us",
            f"{run.seq_cpu_us / base.seq_cpu_us:.2f}",
            f"{run.con_cpu_us:,.0f} us",
            f"{run.con_cpu_us / base.con_cpu_us:.2f}",
            fmt_int(run.con_rate),
            f"{run.server_cpu_us:,.0f} us",
        )
    cpu.notes.append("client and server in separate processes; x: against httpx without sniffio")
    cold = Table(
        "Upstash client stack: cold import and size",
        columns=("client transport", "import + client built", "added to the package"),
    )
    for name, ms in imports.items():
        added = ADDED_DISTRIBUTIONS.get(name, [])
        size = sum(dist_bytes(d) for d in added)
        cold.add(name, f"{ms:,.0f} ms", f"{size / 1e6:,.2f} MB ({len(added)} dists)")
    cold.notes.append(
        "best of a few fresh interpreters; lean: upstash-redis, httpx and tiergate's transport"
    )
    return Outcome(
        tables=[cpu, cold],
        findings=[
            Finding(
                "Upstash call client CPU, sequential",
                f"{lean.seq_cpu_us:,.0f} us",
                f"{base.seq_cpu_us:,.0f} us (httpx default)",
                "-",
                None,
            ),
            Finding(
                f"Upstash call client CPU, {CONCURRENCY} concurrent",
                f"{lean.con_cpu_us:,.0f} us",
                f"{base.con_cpu_us:,.0f} us (httpx default)",
                "-",
                None,
            ),
            Finding(
                "local Upstash server CPU per call",
                f"{lean.server_cpu_us:,.0f} us",
                "-",
                "-",
                None,
            ),
        ],
    )


# -- the parent's side ------------------------------------------------------------------


# The same REST app under uvicorn, announcing its URL as `tiergate local-redis` does.
_ON_UVICORN = """
import socket, sys, uvicorn
from tiergate_tools.localredis.server import create_app
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
print(f"UPSTASH_REDIS_REST_URL=http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(create_app(host, port, token), log_level="warning")).run(
    sockets=[sock]
)
"""


@contextmanager
def _server(kind: str, redis: tuple[str, int]) -> Iterator[tuple[str, int]]:
    """The REST server over `redis` on a free port: `tiergate local-redis` ("lean") or the
    app under uvicorn; yields its URL and pid. Its output goes to a file, never a pipe."""
    host, port = redis
    if kind == "lean":
        command = ["-m", "tiergate", "local-redis", "--port", "0", "--token", TOKEN,
                   "--redis", f"{host}:{port}"]  # fmt: skip
    else:
        command = ["-c", _ON_UVICORN, host, str(port), TOKEN]
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, text=True,
        )  # fmt: skip
        try:
            yield announced_url(process, out), process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def announced_url(process: subprocess.Popen[str], out: IO[str]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # bounded start-up polling
        out.seek(0)
        for line in out.read().splitlines():
            if line.startswith("UPSTASH_REDIS_REST_URL="):
                return line.split()[0].split("=", 1)[1]
        if process.poll() is not None:
            break
        time.sleep(0.05)
    out.seek(0)
    raise RuntimeError(f"the REST server did not start: {out.read()[-2000:]}")


def cpu_seconds(pid: int) -> float:
    # utime and stime, fields 14 and 15 of /proc/PID/stat, after the parenthesised name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_run(kind: str, url: str, calls: int, server_pid: int, site: str | None) -> ClientRun:
    server_before = cpu_seconds(server_pid)
    command = [sys.executable, "-m", "bench.upstash_calls", kind, url, TOKEN, str(calls)]
    if site is not None:
        command = [sys.executable, "-S", "-c", _ON_SITE.format(site=site), *command[3:]]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} client failed:\n{done.stderr[-3000:]}")
    server_cpu = cpu_seconds(server_pid) - server_before
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # warm-up calls count too: the server served them
    served = calls * 2 + result["warmup"]
    return ClientRun(
        result["seq_cpu_us"],
        result["seq_wall_us"],
        result["con_cpu_us"],
        result["con_rate"],
        server_cpu / served * 1e6,
    )


# A child on a given site directory instead of the venv's (-S: no site-packages of its own).
_ON_SITE = (
    "import runpy, site, sys; site.addsitedir({site!r}); sys.path.insert(0, '.');"
    " sys.argv = ['bench.upstash_calls', *sys.argv[1:]];"
    " runpy.run_module('bench.upstash_calls', run_name='__main__', alter_sys=True)"
)


@contextmanager
def _site_without(package: str) -> Iterator[str]:
    """A directory of links to this venv's site-packages, less `package` and its metadata."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        for entry in purelib.iterdir():
            name = entry.name.lower()
            if name == package or name.startswith(f"{package}-") or name == f"{package}.py":
                continue
            (Path(tmp) / entry.name).symlink_to(entry)
        yield tmp
