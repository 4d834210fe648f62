"""Cold start: importing each deployed handler in a fresh Python process, as Lambda does on a
cold start, next to a bare FastAPI + mangum handler measured in the same run; and the size
of the Lambda package.

Every process gets a production configuration (Upstash, a table, Stripe keys) pointing at
closed loopback ports: nothing is called at import, so only import and app building count.
Each runs on Python 3.12, Lambda's runtime, with `-S` on the Lambda package's own set of
modules (built for this machine's architecture by `dev.py lambda --here`): what Lambda would
import, not what this venv happens to hold (httpx, for one, pulls in its CLI's rich and
click when they are installed).

`python -m bench.coldstart [--runs N] [--against REV]` runs this table alone; `--against REV`
adds the API handler as of git revision REV (its `lib/tiergate` and `api/` over the same
dependencies), timed in the same interleaved rounds: a before/after of a change.

A third handler shows the floor the design sets: the bare one plus what every request needs
and `../shared/design.md` names, a pydantic-settings class and an `upstash-redis` client (so
httpx, httpcore and a TLS context loaded with certifi's bundle). The API handler's cost above
that floor is what tiergate itself adds.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.support.python312 import python312

from .report import Finding, Outcome, Table

__all__ = ["measure"]

ROOT = Path(__file__).resolve().parents[1]
_BARE = """
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/v1/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


handler = Mangum(app, lifespan="off")
"""
_FLOOR = """
from pydantic_settings import BaseSettings
from upstash_redis.asyncio import Redis

from bare_handler import handler


class Settings(BaseSettings):
    upstash_redis_rest_url: str
    upstash_redis_rest_token: str


settings = Settings()
redis = Redis(settings.upstash_redis_rest_url, settings.upstash_redis_rest_token, rest_retries=0)
"""
_TIMER = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)
_PRODUCTION = {
    "TIERGATE_ENV": "production",
    "UPSTASH_REDIS_REST_URL": "http://127.0.0.1:9",
    "UPSTASH_REDIS_REST_TOKEN": "bench",
    "TIERGATE_TABLE": "tiergate-bench",
    "AWS_REGION": "us-east-1",
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_WEBHOOK_SECRET": "whsec_bench",
}


AGAINST = "api.index@"  # the key of the API handler as of another revision


def measure(runs: int, *, against: str | None = None, package_size: bool = True) -> Outcome:
    package = _build_here()
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "bare_handler.py").write_text(_BARE)
        (Path(scratch) / "floor_handler.py").write_text(_FLOOR)
        env = {**os.environ, **_PRODUCTION, "PYTHONPATH": f"{scratch}{os.pathsep}{package}"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # Lambda runs from compiled bytecode too
        envs = dict.fromkeys(("bare_handler", "floor_handler", "api.index", "api.webhooks"), env)
        if against is not None:
            old = _revision(against, Path(scratch) / "against")
            # First on the path: its tiergate and api/ shadow the package's own.
            envs[AGAINST] = {**env, "PYTHONPATH": os.pathsep.join((scratch, old, str(package)))}
        for key, module_env in envs.items():  # compile once: no run pays for writing .pyc
            _import_ms(key.split("@")[0], module_env)
        times: dict[str, list[float]] = {key: [] for key in envs}
        for _ in range(runs):  # interleaved, so machine noise falls on all alike
            for key, module_env in envs.items():
                times[key].append(_import_ms(key.split("@")[0], module_env))
    median = {m: statistics.median(t) for m, t in times.items()}

    def ratio(module: str, to: str) -> float:
        """Median of each round's ratio: a slow spell of the machine cancels out."""
        return statistics.median(a / b for a, b in zip(times[module], times[to], strict=True))

    floor = ratio("floor_handler", "bare_handler")
    table = Table(f"Cold import of each handler, fresh process, median of {runs}")
    table.add("bare FastAPI + mangum (ms)", "-", f"{median['bare_handler']:.0f}", "-")
    table.add("floor: bare + settings + upstash-redis client (ms)", "-",
              f"{median['floor_handler']:.0f}", "-")  # fmt: skip
    table.add("floor: ratio to bare", "-", f"{floor:.2f}x", "-")
    findings: list[Finding] = []
    # Issue 9's target is against the floor (what the design's stack costs before any of
    # tiergate's code): the API handler at most 1.10x of it.
    for module, label, target in (("api.index", "API", 1.10), ("api.webhooks", "webhook", None)):
        to_floor = ratio(module, "floor_handler")
        goal = f"<= {target}x" if target else "-"
        table.add(f"{label} handler, {module} (ms)", f"{median[module]:.0f}", "-", "-")
        table.add(f"{label} handler: ratio to bare", f"{ratio(module, 'bare_handler'):.2f}x",
                  "1.00x", "-")  # fmt: skip
        table.add(f"{label} handler: ratio to floor", f"{to_floor:.2f}x", "1.00x", goal)
        findings.append(
            Finding(
                f"cold import, {label} handler / floor", f"{to_floor:.2f}x", "floor 1.00x", goal,
                to_floor <= target if target else None,
            )
        )  # fmt: skip
    if against is not None:
        to_floor = ratio(AGAINST, "floor_handler")
        table.add(f"API handler as of {against} (ms)", "-", f"{median[AGAINST]:.0f}", "-")
        table.add(f"API handler as of {against}: ratio to floor", "-", f"{to_floor:.2f}x", "-")
        findings.append(
            Finding(f"cold import, API handler / floor, as of {against}", f"{to_floor:.2f}x",
                    "floor 1.00x", "-", None)
        )  # fmt: skip
    findings.append(
        Finding("cold import, the design's floor", f"{floor:.2f}x", "bare 1.00x", "-", None)
    )
    table.notes.append(
        "production settings, stores and Stripe configured; boto3 and stripe load on first use;"
        " Python 3.12 `-S` on the Lambda package's modules (built for this machine), bytecode"
        " compiled"
    )
    table.notes.append(
        "the floor is what design.md's stack costs before any tiergate code: when it is over"
        " the API target, no handler on that stack can meet it"
    )
    if not package_size:
        return Outcome(tables=[table], findings=findings)
    size = _package_mib()
    sizes = Table("Lambda package (python3.12, arm64)")
    sizes.add("unzipped (MiB)", f"{size:.1f}", "-", "< 30")
    sizes.notes.append("built by `python3 dev.py lambda`; boto3 comes with the runtime")
    findings.append(Finding("Lambda package, unzipped", f"{size:.1f} MiB", "-", "< 30 MB",
                            size * 2**20 < 30e6))  # fmt: skip
    return Outcome(tables=[table, sizes], findings=findings)


def _revision(rev: str, into: Path) -> str:
    """`lib/tiergate` and `api/` as of git revision `rev`, as the Lambda package lays them out."""
    archive = subprocess.run(
        ["git", "archive", rev, "lib/tiergate", "api"], cwd=ROOT, capture_output=True,
        check=True, timeout=60,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "lib" / "tiergate").rename(into / "tiergate")
    return str(into)


def _import_ms(module: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [_python312(), "-S", "-c", _TIMER.format(module=module)],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def _python312() -> str:
    try:
        return python312()
    except LookupError as missing:
        sys.exit(f"bench: timing Lambda's cold start needs a Python 3.12: {missing}")


def _build_here() -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "lambda", "--here"], check=True,
        capture_output=True, timeout=600,
    )  # fmt: skip
    return ROOT / ".build" / "lambda-here"


def _package_mib() -> float:
    subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "lambda"], check=True, capture_output=True,
        timeout=600,
    )  # fmt: skip
    folder = ROOT / ".build" / "lambda"
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    from .report import render

    parser = argparse.ArgumentParser(prog="python -m bench.coldstart")
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--against", metavar="REV", help="also the API handler as of git REV")
    args = parser.parse_args(argv)
    outcome = measure(args.runs, against=args.against, package_size=False)
    for table in outcome.tables:
        print(render(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
