"""The local Upstash server's CPU per request, by the HTTP/1.1 server under the same app.

`python -m bench.localserver [--calls N] [--rounds R] [--before REV ...]`, on its own (the
full `python -m bench` already puts `tiergate local-redis` beside uvicorn in its client
table).

The REST app (server.py, as it is now) is served three ways, each in a process of its own:

* before: localredis/http.py as it was at each REV (default: the commit before issue 18's
  fix), read out of git into a temporary file for this run only (a self-contained http.py,
  as it was until then);
* now: localredis/http.py and wire.py as they are, what `tiergate local-redis` serves on;
* uvicorn: the same app under uvicorn (on h11, plus its own per-request machinery).

The load is `bench.upstash_calls`' (GETs on tiergate's lean connection, the hot call's,
one at a time, then from 32 concurrent tasks) in another process; the server's CPU comes
from /proc around it, per request served. The servers take turns for R rounds, so noise
from other processes lands on all of them alike; the table gives each one's median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tiergate_tools.localredis.binary import spawn_redis_server

from .report import Finding, Outcome, Table, render
from .upstash_client import ROOT, TOKEN, announced_url, cpu_seconds

__all__ = ["measure"]

# The last commit whose http.py parsed HTTP by hand (HEAD with a body, no chunked bodies, no
# 100-continue): what issue 18 calls "today's server".
BEFORE = "6cc6be69fa0f20844b7759dbdaa8e8f49bfda473"
HTTP_PY = "lib/tiergate_tools/localredis/http.py"

# One server process: `kind` is "uvicorn", "now", or the path of an old http.py to serve on.
_SERVER = """
import asyncio, importlib.util, socket, sys
from tiergate_tools.localredis.server import create_app
kind, host, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
app = create_app(host, port, token)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
url = f"UPSTASH_REDIS_REST_URL=http://127.0.0.1:{sock.getsockname()[1]}"
if kind == "uvicorn":
    import uvicorn
    print(url, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
else:
    if kind == "now":
        from tiergate_tools.localredis.http import serve
    else:
        spec = importlib.util.spec_from_file_location("served_http", kind)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        serve = module.serve
    sock.listen(128)
    asyncio.run(serve(app, sock, asyncio.Event(), lambda: print(url, flush=True)))
"""


def measure(calls: int, rounds: int, before: tuple[str, ...] = (BEFORE,)) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bench-localserver-") as tmp:
        servers: dict[str, str] = {}
        missing = []
        for i, rev in enumerate(before):
            old = _from_git(rev, Path(tmp) / f"http_{i}.py")
            if old is None:
                missing.append(rev)
            else:
                servers[f"http.py at {rev[:10]}"] = str(old)
        servers |= {"now (tiergate local-redis)": "now", "uvicorn": "uvicorn"}
        samples: dict[str, list[float]] = {name: [] for name in servers}
        with spawn_redis_server() as redis:
            for _ in range(rounds):
                for name, kind in servers.items():
                    samples[name].append(_server_cpu_per_request(kind, redis, calls))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    first = next(iter(medians.values()))
    table = Table(
        f"Local Upstash server CPU per request ({calls:,} GETs x2 per round, {rounds} rounds)",
        columns=("HTTP/1.1 server", "CPU/request (median)", "x", "rounds"),
    )
    for name, median in medians.items():
        spread = ", ".join(f"{v:,.0f}" for v in samples[name])
        table.add(name, f"{median:,.0f} us", f"{median / first:.2f}", spread)
    table.notes.append("the same REST app and redis-server; redis's own CPU not counted")
    for rev in missing:
        table.notes.append(f"{HTTP_PY} at {rev} is not in this checkout's git: not measured")
    table.notes.append("x: against the first row")
    now = medians["now (tiergate local-redis)"]
    return Outcome(
        tables=[table],
        findings=[Finding("local Upstash server CPU per request", f"{now:,.0f} us",
                          f"{first:,.0f} us", "-", None)],
    )  # fmt: skip


def _from_git(rev: str, into: Path) -> Path | None:
    """`HTTP_PY` as it was at `rev`, written to `into`; None without that history."""
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{HTTP_PY}"], capture_output=True, check=False
    )
    if shown.returncode != 0:
        return None
    into.write_bytes(shown.stdout)
    return into


def _server_cpu_per_request(kind: str, redis: tuple[str, int], calls: int) -> float:
    with _server(kind, redis) as (url, pid):
        cpu_before = cpu_seconds(pid)
        command = [sys.executable, "-m", "bench.upstash_calls", "lean", url, TOKEN, str(calls)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"the client failed against {kind}:\n{done.stderr[-3000:]}")
        cpu = cpu_seconds(pid) - cpu_before
    served = calls * 2 + json.loads(done.stdout.strip().splitlines()[-1])["warmup"]
    return float(cpu / served * 1e6)


@contextmanager
def _server(kind: str, redis: tuple[str, int]) -> Iterator[tuple[str, int]]:
    host, port = redis
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, kind, host, str(port), TOKEN],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, text=True,
        )  # fmt: skip
        try:
            yield announced_url(process, out), process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.localserver", description=__doc__)
    parser.add_argument("--calls", type=int, default=2_000, help="GETs each way, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--before",
        nargs="*",
        default=[BEFORE],
        help="commits whose http.py to measure too (default: issue 18's base)",
    )
    args = parser.parse_args(argv)
    for table in measure(args.calls, args.rounds, tuple(args.before)).tables:
        print(render(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
