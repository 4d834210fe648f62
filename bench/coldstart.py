"""Cold start: importing each deployed handler in a fresh Python process, as Lambda does on a
cold start, next to a bare FastAPI + mangum handler measured in the same run; and the size
of the Lambda package.

Every process gets a production configuration (Upstash, a table, Stripe keys) pointing at
closed loopback ports: nothing is called at import, so only import and app building count.
Each runs with `python -S` on the Lambda package's own set of modules (built for this
machine by `dev.py lambda --here`): what Lambda would import, not what this venv happens to
hold (httpx, for one, pulls in its CLI's rich and click when they are installed).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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


def measure(runs: int) -> Outcome:
    package = _build_here()
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "bare_handler.py").write_text(_BARE)
        env = {**os.environ, **_PRODUCTION, "PYTHONPATH": f"{scratch}{os.pathsep}{package}"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # Lambda runs from compiled bytecode too
        modules = ("bare_handler", "api.index", "api.webhooks")
        for module in modules:  # compile once, so no run pays for writing .pyc files
            _import_ms(module, env)
        times: dict[str, list[float]] = {m: [] for m in modules}
        for _ in range(runs):  # interleaved, so machine noise falls on all alike
            for module in modules:
                times[module].append(_import_ms(module, env))
    bare = statistics.median(times["bare_handler"])
    table = Table(f"Cold import of each handler, fresh process, median of {runs}")
    table.add("bare FastAPI + mangum (ms)", "-", f"{bare:.0f}", "-")
    findings: list[Finding] = []
    for module, label, target in (("api.index", "API", 1.3), ("api.webhooks", "webhook", None)):
        median = statistics.median(times[module])
        ratio = median / bare
        table.add(f"{label} handler, {module} (ms)", f"{median:.0f}", f"{bare:.0f}", "-")
        table.add(
            f"{label} handler: ratio to bare", f"{ratio:.2f}x", "1.00x",
            f"<= {target}x" if target else "-",
        )  # fmt: skip
        findings.append(
            Finding(
                f"cold import, {label} handler", f"{ratio:.2f}x", "bare 1.00x",
                f"<= {target}x" if target else "-", ratio <= target if target else None,
            )
        )  # fmt: skip
    table.notes.append(
        "production settings, stores and Stripe configured; boto3 and stripe load on first use;"
        " `python -S` on the Lambda package's modules (built for this machine), bytecode"
        " compiled"
    )
    size = _package_mib()
    sizes = Table("Lambda package (python3.12, arm64)")
    sizes.add("unzipped (MiB)", f"{size:.1f}", "-", "< 30")
    sizes.notes.append("built by `python3 dev.py lambda`; boto3 comes with the runtime")
    findings.append(Finding("Lambda package, unzipped", f"{size:.1f} MiB", "-", "< 30 MB",
                            size * 2**20 < 30e6))  # fmt: skip
    return Outcome(tables=[table, sizes], findings=findings)


def _import_ms(module: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-S", "-c", _TIMER.format(module=module)],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


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
