"""`serverless package` (v3.39.0, offline) run on a fresh copy of the repository, as a clone
has it: no .venv, no .build, no node_modules, no step before it. The template and the
Lambda package it made are what the deployment tests read.

The tools are installed by `python3 dev.py test` into .tools/ (serverless) and .venv
(cfn-lint); without serverless these tests are skipped, or fail under CI (support/tools.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..support.tools import require

ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = ROOT / ".tools" / "node_modules" / ".bin" / "serverless"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
QUIET = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}


@dataclass(frozen=True)
class Packaged:
    template: dict[str, Any]
    template_path: Path
    artifact: Path
    output: str

    def resources(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.resources("AWS::Lambda::Function").items()}

    def routes(self) -> dict[str, str]:
        """Each route key ("GET /v1/hello") and the Lambda function resource it invokes."""
        integrations = self.resources("AWS::ApiGatewayV2::Integration")
        found: dict[str, str] = {}
        for route in self.resources("AWS::ApiGatewayV2::Route").values():
            target = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
            uri = integrations[target]["Properties"]["IntegrationUri"]
            found[route["Properties"]["RouteKey"]] = _function_of(uri)
        return found


def _function_of(uri: Any) -> str:
    # The framework points an integration at the function's ARN (`Fn::GetAtt [F, Arn]`),
    # joined with its alias when provisioned concurrency keeps it warm.
    if "Fn::Join" in uri:
        uri = uri["Fn::Join"][1][0]
    return str(uri["Fn::GetAtt"][0])


def run(cmd: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TIERGATE_"))}
    return subprocess.run(
        cmd, cwd=cwd, env={**clean, **QUIET, **env}, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def fresh_copy(into: Path) -> Path:
    """The working tree as `git clone` would give it: tracked and new files, none of what
    .gitignore leaves out (.venv, .build, .tools, caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        # A deleted file is still listed until committed; a symlinked .tools is not ignored
        # by `.tools/` (git sees a link, not a folder): neither belongs to a clone.
        if not source.is_file() or source.is_symlink():
            continue
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, into / name)
    return into


def package(tmp: Path) -> Packaged:
    require("serverless")
    clone = fresh_copy(tmp / "clone")
    out = tmp / "out"
    packaged = run(
        [str(SERVERLESS), "package", "--stage", "test", "--package", str(out)], cwd=clone
    )
    output = packaged.stdout + packaged.stderr
    assert packaged.returncode == 0, output
    path = out / "cloudformation-template-update-stack.json"
    template: dict[str, Any] = json.loads(path.read_text())
    return Packaged(template, path, clone / ".build" / "lambda.zip", output)


def scheduled_function(packaged: Packaged) -> str:
    """The function EventBridge invokes on the schedule (the rule's one target)."""
    (rule,) = packaged.resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    return str(target["Arn"]["Fn::GetAtt"][0])
