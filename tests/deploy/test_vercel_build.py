"""`vercel build` (CLI 58.10.0) offline on a copy of the project, and the built function
answering a gated request when run locally with Vercel's Python 3.12 bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support.python312 import python312 as find_python312
from ..support.tools import require
from .packaged import fresh_copy

ROOT = Path(__file__).resolve().parents[2]
VERCEL = ROOT / ".tools" / "node_modules" / ".bin" / "vercel"
PROJECT = {"projectId": "prj_placeholder", "orgId": "team_placeholder", "settings": {}}

# Run inside the assembled function: Vercel's own bootstrap first, then the module it names.
INVOKE = """
import asyncio, json, sys
sys.path.insert(0, ".")
import vc__handler__python  # Vercel's bootstrap: puts _vendor first on sys.path
import httpx
from api.index import app

async def main():
    keys = await app.state.tiergate.demo_keys()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://x.vercel.app") as c:
        ok = await c.get("/v1/hello", headers={"X-API-Key": keys["free"]})
        denied = await c.get("/v1/hello")
    print(json.dumps({"status": ok.status_code, "body": ok.json(),
                      "denied": denied.status_code, "python": sys.version_info[:2],
                      "tiergate": __import__("tiergate").__file__}))

asyncio.run(main())
"""

# The scheduled runs' entry, called as Vercel's cron calls it (CRON_SECRET set in the env).
INVOKE_SCHEDULED = """
import asyncio, json, sys
sys.path.insert(0, ".")
import vc__handler__python
import httpx
from api.scheduled import app

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://x.vercel.app") as c:
        cron = {"Authorization": "Bearer s3cret-cron-16ch"}
        ran = await c.get("/internal/scheduled", headers=cron)
        refused = await c.get("/internal/scheduled", headers={"Authorization": "Bearer nope"})
    print(json.dumps({"status": ran.status_code, "body": ran.json(),
                      "refused": refused.status_code}))

asyncio.run(main())
"""


def python312() -> str:
    require("python3.12")
    return find_python312()


def uploaded(project: Path) -> Path:
    """The copy as `vercel deploy` uploads it, to be built remotely: without what .vercelignore
    names. (A local `vercel build` reads the folder as it is.) Our .vercelignore names plain
    paths, and globs only for caches a fresh copy does not have."""
    for line in (project / ".vercelignore").read_text().splitlines():
        name = line.strip()
        if not name or name.startswith("#") or any(c in name for c in "*?["):
            continue
        target = project / name.rstrip("/")
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("vercel")
    project = uploaded(fresh_copy(tmp_path_factory.mktemp("vercel") / "project"))
    (project / ".vercel").mkdir(parents=True)
    (project / ".vercel" / "project.json").write_text(json.dumps(PROJECT))
    path = os.pathsep.join([str(Path(python312()).parent), str(Path(sys.executable).parent),
                            os.environ["PATH"]])  # fmt: skip
    env = {**os.environ, "PATH": path, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": python312(),
           "VERCEL_TELEMETRY_DISABLED": "1", "NO_UPDATE_NOTIFIER": "1"}  # fmt: skip
    done = subprocess.run(
        [str(VERCEL), "build", "--yes"], cwd=project, env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return project


def function_config(built: Path, name: str) -> dict[str, Any]:
    path = built / ".vercel" / "output" / "functions" / "api" / f"{name}.func" / ".vc-config.json"
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def test_both_entries_build_as_python_312_functions(built: Path) -> None:
    for name, duration in (("index", 10), ("webhooks", 30), ("scheduled", 60)):
        config = function_config(built, name)
        assert (config["runtime"], config["maxDuration"]) == ("python3.12", duration)
        tops = {path.split("/")[0] for path in config["filePathMap"]}
        assert not tops & {"tests", "bench", "docs", ".tools", ".venv"}, tops
        # The tools (local Upstash server, infra check, cost report) are not deployed.
        tools = [p for p in config["filePathMap"] if "tiergate_tools" in p]
        assert tools == [], tools[:5]
        # Nor the `tiergate` command.
        commands = [
            p
            for p in config["filePathMap"]
            if "/tiergate/cli/" in p or p.endswith("/tiergate/__main__.py")
        ]
        assert commands == [], commands[:5]
    routes = json.loads((built / ".vercel" / "output" / "config.json").read_text())
    assert {"src": "^/webhooks/stripe$", "dest": "/api/webhooks", "check": True} in routes["routes"]
    assert {"src": "^/internal/scheduled$", "dest": "/api/scheduled", "check": True} in routes[
        "routes"
    ]
    assert routes["crons"] == [
        {"path": "/internal/warmup", "schedule": "*/5 * * * *"},
        {"path": "/internal/scheduled", "schedule": "* * * * *"},  # every minute
    ]


def run_built(built: Path, tmp_path: Path, name: str, script: str, **env: str) -> Any:
    """`script` inside function `name` as Vercel assembles it; what it printed last, parsed."""
    config = function_config(built, name)
    function = tmp_path / f"{name}.func"
    for target, source in config["filePathMap"].items():
        (function / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built / source, function / target)
    handler = built / f".vercel/output/functions/api/{name}.func/vc__handler__python.py"
    shutil.copy2(handler, function)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")) and k not in ("CRON_SECRET",)
    }
    done = subprocess.run(
        [python312(), "-I", "-c", script], cwd=function, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # The last line that is not an EMF document: the app's batched cost measurements are
    # written at exit, after the script's own line.
    lines = [line for line in done.stdout.splitlines() if not line.startswith('{"_aws"')]
    return json.loads(lines[-1])


def test_the_built_function_answers_a_gated_request(built: Path, tmp_path: Path) -> None:
    result = run_built(built, tmp_path, "index", INVOKE)
    assert result["status"] == 200
    assert result["body"] == {"message": "hello", "tier": "free"}
    assert result["denied"] == 401
    assert result["python"] == [3, 12]
    assert "/_vendor/tiergate/" in result["tiergate"]  # the bundle's copy, not this checkout's


def test_the_built_scheduled_function_runs_for_its_cron_only(built: Path, tmp_path: Path) -> None:
    # VERCEL=1 as on every Vercel deployment; the jobs on main run (none fails).
    result = run_built(
        built, tmp_path, "scheduled", INVOKE_SCHEDULED, VERCEL="1", CRON_SECRET="s3cret-cron-16ch"
    )
    assert result["status"] == 200, result
    assert result["body"]["ok"] is True
    assert result["refused"] == 401
