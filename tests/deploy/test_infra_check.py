"""`tiergate infra check` on the project's own files, and on deliberately broken copies."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tiergate.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the check reads: the deployment files and api/."""
    for name in ("serverless.yml", "vercel.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "api", tmp_path / "api")
    return tmp_path


def check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["infra", "check", "--root", str(root)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_projects_files_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(ROOT, capsys)
    assert (code, err) == (0, "")
    assert "routes (1 paid) served as they must be" in out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def paid_route_on_demand(root: Path) -> None:
    edit(root / "serverless.yml", "      - httpApi: { method: GET, path: /v1/pro/hello }\n", "")
    edit(
        root / "serverless.yml",
        "      - httpApi: { method: GET, path: /v1/hello }\n",
        "      - httpApi: { method: GET, path: /v1/hello }\n"
        "      - httpApi: { method: GET, path: /v1/pro/hello }\n",
    )


def route_with_no_function(root: Path) -> None:
    edit(root / "serverless.yml", "      - httpApi: { method: GET, path: /v1/usage }\n", "")


def function_for_a_route_the_app_lacks(root: Path) -> None:
    edit(
        root / "serverless.yml",
        "      - httpApi: { method: GET, path: /healthz }\n",
        "      - httpApi: { method: GET, path: /healthz }\n"
        "      - httpApi: { method: GET, path: /v1/gone }\n",
    )


def webhook_on_the_api_function(root: Path) -> None:
    edit(root / "serverless.yml", "handler: api/webhooks.handler", "handler: api/index.handler")


def vercel_webhook_to_the_api(root: Path) -> None:
    config = json.loads((root / "vercel.json").read_text())
    config["rewrites"] = [r for r in config["rewrites"] if r["source"] != "/webhooks/stripe"]
    (root / "vercel.json").write_text(json.dumps(config))


def vercel_function_undeclared(root: Path) -> None:
    config = json.loads((root / "vercel.json").read_text())
    del config["functions"]["api/index.py"]
    (root / "vercel.json").write_text(json.dumps(config))


def vercel_cron_to_nowhere(root: Path) -> None:
    edit(root / "vercel.json", '"path": "/internal/warmup"', '"path": "/internal/warm"')


def vercel_without_the_schedule(root: Path) -> None:
    config = json.loads((root / "vercel.json").read_text())
    config["crons"] = [c for c in config["crons"] if c["path"] != "/internal/scheduled"]
    (root / "vercel.json").write_text(json.dumps(config))


def vercel_schedule_to_the_api(root: Path) -> None:
    config = json.loads((root / "vercel.json").read_text())
    config["rewrites"] = [r for r in config["rewrites"] if r["source"] != "/internal/scheduled"]
    (root / "vercel.json").write_text(json.dumps(config))


def vercel_schedule_undeclared(root: Path) -> None:
    config = json.loads((root / "vercel.json").read_text())
    del config["functions"]["api/scheduled.py"]
    (root / "vercel.json").write_text(json.dumps(config))


def serverless_without_the_schedule(root: Path) -> None:
    edit(root / "serverless.yml", "          schedule: rate(1 minute)\n", "")
    edit(root / "serverless.yml", "      - eventBridge:\n", "      - eventBridge:\n"
         "          pattern: { source: [tiergate.never] }\n")  # fmt: skip


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (paid_route_on_demand, "GET /v1/pro/hello: a paid-tier route on apiFree"),
        (route_with_no_function, "GET /v1/usage: no function serves it"),
        (function_for_a_route_the_app_lacks, "GET /v1/gone is not a route of the app"),
        (webhook_on_the_api_function, "must be served by api/webhooks.handler"),
        (vercel_webhook_to_the_api, "must reach api/webhooks.py"),
        (vercel_function_undeclared, "not a declared function"),
        (vercel_cron_to_nowhere, "cron /internal/warm: not a GET route"),
        (vercel_without_the_schedule, "no cron calls /internal/scheduled"),
        (vercel_schedule_to_the_api, "must reach api/scheduled.py, not /api/index"),
        (vercel_schedule_undeclared, "api/scheduled.py is not a declared function"),
        (serverless_without_the_schedule, "no function runs api/scheduled.handler on a schedule"),
    ],
)
def test_a_broken_copy_fails_and_says_why(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[Path], None],
    message: str,
) -> None:
    assert check(project, capsys)[0] == 0  # the copy passes before it is broken
    breakage(project)
    code, _, err = check(project, capsys)
    assert code == 1
    assert message in err


UNGATED = "from fastapi import FastAPI\n\napp = FastAPI()\n"
FAILS = "raise RuntimeError('the database is down')\n"


@pytest.mark.parametrize(
    ("app", "module", "message"),
    [
        ("api.nothing:app", None, "cannot load the app 'api.nothing:app'"),
        ("api.failing:app", FAILS, "RuntimeError('the database is down')"),
        ("api.index:handler", None, "'api.index:handler': not a FastAPI app gated by"),
        ("api.plain:app", UNGATED, "'api.plain:app': not a FastAPI app gated by"),
    ],
)
def test_an_app_that_is_not_one_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], app: str, module: str | None, message: str
) -> None:
    if module is not None:
        (project / "api" / f"{app.split('.')[1].split(':')[0]}.py").write_text(module)
    code = main(["infra", "check", "--root", str(project), "--app", app])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert message in err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("serverless.yml", "functions: [\n", "cannot read {path}: line 2, column 1: expected"),
        ("serverless.yml", "- functions\n", "{path}: not shaped as serverless.yml should be"),
        ("vercel.json", "{", "cannot read {path}: not valid JSON: Expecting property name"),
        ("vercel.json", '{"crons": [], "crons": []}', "the name 'crons' appears twice"),
        ("vercel.json", "[]", "{path}: not shaped as vercel.json should be"),
        ("vercel.json", '{"rewrites": [{"source": "/(.*)"}]}', "KeyError('destination')"),
    ],
)
def test_a_malformed_file_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    (project / name).write_text(text)
    code, _, err = check(project, capsys)
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert message.format(path=project / name) in err
    assert err.count("\n") == 1, err


def test_bad_settings_are_said_as_everywhere_else(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_PREFIX", "v1")
    code, _, err = check(project, capsys)
    assert code == 2
    assert err == (
        "tiergate: error: settings: Value error, TIERGATE_PREFIX must start with '/' and not"
        " end with it, e.g. /v1\n"
    )
