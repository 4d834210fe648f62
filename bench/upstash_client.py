"""The Upstash call's CPU: the client's per call, by client, and the local server's.

The REST server (`tiergate local-redis`) and each client run in processes of their own, so
each one's CPU is its own: a client's from `time.process_time` around its calls, the
server's from /proc between the phases; redis-server is a third. Each client makes its calls
sequentially and from 32 concurrent tasks (`upstash_calls.py`):

* one upstash-redis GET on httpx's default transport without `sniffio`, as before it was a
  dependency: the client runs on a copy of this venv's site-packages without that one
  package, so each request's four failed imports cost what they cost there;
* the same with `sniffio`: the stock client, the bare call the gate is measured against;
* the same GET as bytes on the lean connection (tiergate's hot call, no script);
* `Gate.admit` in the steady state: key check, one EVALSHA of gate.lua on the lean
  connection, the verdict read.

The gate and the bare call run in paired rounds (alternating order), and the ratio is the
median of the rounds' ratios, so a neighbour's load on the machine hits both alike.

The server table puts `tiergate local-redis` next to the same REST app under uvicorn
(which served it before it had its own HTTP/1.1 server), for the same client and calls.

The import table shows what each client costs a cold start: the time to import its stack
and build one client in a fresh interpreter (best of a few, the files in the page cache),
and the size of the distributions it adds to the package (byte code not counted).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
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

from .client_imports import ADDED_DISTRIBUTIONS, dist_bytes, import_ms
from .report import Finding, Outcome, Table, fmt_int
from .upstash_calls import CONCURRENCY

__all__ = ["announced_url", "cpu_seconds", "measure"]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = secrets.token_urlsafe(24)  # the parent's; children are handed it
BARE = "upstash-redis GET (httpx + sniffio)"
GATE = "Gate.admit (EVALSHA, lean connection)"
VARIANTS = {
    "upstash-redis GET (httpx, no sniffio)": "httpx",
    BARE: "httpx",
    "GET on the lean connection": "lean",
    GATE: "gate",
}
ROUNDS = 3  # paired rounds of the gate and the bare call


@dataclass(frozen=True)
class ClientRun:
    seq_cpu_us: float
    seq_wall_us: float
    con_cpu_us: float
    con_rate: float
    server_cpu_us: float  # the server's CPU per call over both phases


def measure(calls: int, import_runs: int) -> Outcome:
    runs: dict[str, list[ClientRun]] = {name: [] for name in VARIANTS}
    with spawn_redis_server() as redis, _site_without("sniffio") as no_sniffio:
        with _server("lean", redis) as (url, server_pid):
            for r in range(ROUNDS):
                names = list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]
                for name in names:
                    site = no_sniffio if name == "upstash-redis GET (httpx, no sniffio)" else None
                    runs[name].append(_client_run(VARIANTS[name], url, calls, server_pid, site))
        with _server("uvicorn", redis) as (url, server_pid):
            on_uvicorn = _client_run("lean", url, calls, server_pid, None)
    imports = {name: import_ms(VARIANTS[name], import_runs) for name in list(VARIANTS)[1:3]}
    outcome = _outcome(runs, imports, calls)
    lean = _median_run(runs["GET on the lean connection"])
    servers = Table(
        "Local Upstash server CPU per call (a GET on the lean connection, same calls)",
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


def _median_run(runs: list[ClientRun]) -> ClientRun:
    return ClientRun(*(statistics.median(getattr(r, f) for r in runs) for f in _FIELDS))


_FIELDS = ("seq_cpu_us", "seq_wall_us", "con_cpu_us", "con_rate", "server_cpu_us")


def _outcome(runs: dict[str, list[ClientRun]], imports: dict[str, float], calls: int) -> Outcome:
    medians = {name: _median_run(r) for name, r in runs.items()}
    base = medians[BARE]
    cpu = Table(
        f"Upstash call CPU: one call, {calls:,} calls each way, median of {ROUNDS} rounds",
        columns=("client, one call", "client CPU/call seq", "x", f"at {CONCURRENCY} concurrent",
                 "x", f"calls/s at {CONCURRENCY}", "server CPU/call"),
    )  # fmt: skip
    for name, run in medians.items():
        cpu.add(
            name,
            f"{run.seq_cpu_us:,.0f} us",
            f"{run.seq_cpu_us / base.seq_cpu_us:.2f}",
            f"{run.con_cpu_us:,.0f} us",
            f"{run.con_cpu_us / base.con_cpu_us:.2f}",
            fmt_int(run.con_rate),
            f"{run.server_cpu_us:,.0f} us",
        )
    # The ratio of each round's pair, then their median.
    paired = [g.seq_cpu_us / b.seq_cpu_us for g, b in zip(runs[GATE], runs[BARE], strict=True)]
    ratio = statistics.median(paired)
    cpu.notes += [
        "client and server in separate processes; x: against the stock upstash-redis GET",
        f"Gate.admit / bare GET, client CPU, per round: {', '.join(f'{p:.2f}' for p in paired)}",
    ]
    cold = Table(
        "Upstash client stack: cold import and size",
        columns=("client", "import + client built", "added to the package"),
    )
    for name, ms in imports.items():
        added = ADDED_DISTRIBUTIONS.get(name, [])
        size = sum(dist_bytes(d) for d in added)
        cold.add(name, f"{ms:,.0f} ms", f"{size / 1e6:,.2f} MB ({len(added)} dists)")
    cold.notes.append(
        "best of a few fresh interpreters; lean: tiergate's REST client alone (stdlib; certifi"
        " is loaded on the first https connection)"
    )
    lean = medians["GET on the lean connection"]
    return Outcome(
        tables=[cpu, cold],
        findings=[
            Finding(
                "Gate.admit over Upstash / one bare upstash-redis GET, client CPU",
                f"{ratio:.2f}x",
                "1.00x",
                "<= 1.05x",
                ratio <= 1.05,
            ),
            Finding(
                "Upstash call client CPU, sequential (a GET)",
                f"{lean.seq_cpu_us:,.0f} us",
                f"{base.seq_cpu_us:,.0f} us (upstash-redis)",
                "-",
                None,
            ),
            Finding(
                f"Upstash call client CPU, {CONCURRENCY} concurrent (a GET)",
                f"{lean.con_cpu_us:,.0f} us",
                f"{base.con_cpu_us:,.0f} us (upstash-redis)",
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
