"""What each Upstash client stack costs a cold start: import time and package size."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

__all__ = ["ADDED_DISTRIBUTIONS", "dist_bytes", "import_ms", "installed"]

ROOT = Path(__file__).resolve().parents[1]

# Timed in a fresh interpreter: the stack's imports and one client built, for a URL that is
# never called. tiergate's modules other than the hot call's are imported first, untimed, in
# every variant alike (so are the standard modules they share with httpx). The lean client
# loads certifi's bundle on its first https connection, not here (about 20 ms, once).
_UNTIMED = "import tiergate.decision, tiergate.errors, tiergate.hotstate, tiergate.store.scripts"
_URL = "https://bench.invalid"
_REDIS = f"upstash_redis.asyncio.Redis({_URL!r}, 't', rest_retries=0)"
_IMPORTS = {
    "httpx": f"import upstash_redis.asyncio; {_REDIS}",
    "lean": f"from tiergate.store.rest import RestClient; RestClient({_URL!r}, 't')",
}
ADDED_DISTRIBUTIONS = {"httpx + sniffio": ["sniffio"]}


def installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def dist_bytes(distribution: str) -> int:
    files = importlib.metadata.distribution(distribution).files or []
    total = 0
    for file in files:
        if "__pycache__" in file.parts:
            continue  # byte code is rebuilt, or not shipped
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def import_ms(kind: str, runs: int) -> float:
    """Best of `runs` fresh interpreters: importing the `kind` stack and building a client."""
    timed = _IMPORTS[kind]
    code = (
        f"{_UNTIMED}\nimport time\nt = time.perf_counter()\n{timed}\nprint(time.perf_counter() - t)"
    )
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
        )
        best = min(best, float(done.stdout.strip()))
    return best * 1000
