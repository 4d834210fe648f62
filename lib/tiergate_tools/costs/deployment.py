"""What the cost model needs to know about where the API runs: the platform, the memory a
function is given, and the warm (provisioned) instances kept on all the time.

They come from the deployment files the project ships: serverless.yml (`provider.
architecture`, `provider.memorySize` or a function's own, `provisionedConcurrency` with its
`${param:...}` resolved for the stage) and vercel.json (`functions["api/index.py"].memory`).
Flags of `tiergate costs` override each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from tiergate.errors import ConfigError
from tiergate.jsontext import parse_json

__all__ = ["Deployment", "Platform", "read_deployment"]

Platform = Literal["lambda-arm64", "lambda-x86", "vercel"]

# Serverless Framework v3's default memory and Vercel's for a Python function.
_LAMBDA_DEFAULT_MB = 1024
_VERCEL_DEFAULT_MB = 1024
_VERCEL_ENTRY = "api/index.py"
_PARAM = re.compile(r"^\$\{param:([A-Za-z0-9_]+)\}$")


@dataclass(frozen=True, slots=True)
class Deployment:
    platform: Platform
    memory_mb: int  # of the function that serves the gated routes
    provisioned: int  # warm instances always on (Lambda provisioned concurrency's minimum)
    provisioned_memory_mb: int  # of the warm function
    warm_routes: frozenset[str]  # route templates the warm function serves
    source: str  # where this was read from

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024  # Lambda and Vercel bill GB as 1024 MB


def read_deployment(
    root: Path,
    *,
    platform: Literal["lambda", "vercel"] = "lambda",
    stage: str = "default",
    memory_mb: int | None = None,
    provisioned: int | None = None,
    arch: Literal["arm64", "x86_64"] | None = None,
) -> Deployment:
    """The deployment as the files under `root` configure it, with the given overrides."""
    if platform == "vercel":
        found = _vercel(root / "vercel.json")
    else:
        found = _lambda(root / "serverless.yml", stage)
        if arch is not None:
            found = replace(found, platform="lambda-arm64" if arch == "arm64" else "lambda-x86")
    if memory_mb is not None:
        if not 128 <= memory_mb <= 10_240:
            raise ConfigError(f"--memory {memory_mb}: a function has 128 to 10240 MB")
        found = replace(found, memory_mb=memory_mb, provisioned_memory_mb=memory_mb)
    if provisioned is not None:
        if provisioned < 0 or (provisioned and platform == "vercel"):
            raise ConfigError(f"--provisioned {provisioned}: 0 or more, and only on Lambda")
        found = replace(found, provisioned=provisioned)
    return found


def _lambda(path: Path, stage: str) -> Deployment:
    if not path.exists():  # no file: what this project's serverless.yml says by default
        return Deployment("lambda-arm64", 512, 1, 512, frozenset(), "defaults (no serverless.yml)")
    import yaml

    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    try:
        return _from_serverless(document, stage, str(path))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not shaped as serverless.yml should be ({exc})") from None


def _from_serverless(document: Any, stage: str, source: str) -> Deployment:
    params = document.get("params") or {}
    if stage != "default" and stage not in params:
        raise ConfigError(f"{source}: no params for stage {stage!r}; known: {', '.join(params)}")
    values = {**(params.get("default") or {}), **(params.get(stage) or {})}

    def resolve(value: Any) -> int:
        match = _PARAM.match(str(value))
        return int(values[match.group(1)] if match else value)

    provider = document.get("provider") or {}
    platform: Platform = "lambda-arm64" if provider.get("architecture") == "arm64" else "lambda-x86"
    memory = resolve(provider.get("memorySize", _LAMBDA_DEFAULT_MB))
    warm, warm_memory, routes = 0, memory, set()
    for spec in (document.get("functions") or {}).values():
        count = resolve(spec.get("provisionedConcurrency", 0))
        if not count:
            continue
        warm += count
        warm_memory = resolve(spec.get("memorySize", memory))
        for event in spec.get("events") or []:
            http = event.get("httpApi") if isinstance(event, dict) else None
            if isinstance(http, dict) and http.get("path"):
                routes.add(str(http["path"]))
            elif isinstance(http, str) and " " in http:
                routes.add(http.partition(" ")[2])
    where = f"{source} (stage {stage})"
    return Deployment(platform, memory, warm, warm_memory, frozenset(routes), where)


def _vercel(path: Path) -> Deployment:
    memory = _VERCEL_DEFAULT_MB
    if path.exists():
        try:
            document = parse_json(path.read_bytes())
            memory = int(document.get("functions", {}).get(_VERCEL_ENTRY, {}).get("memory", memory))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
    source = str(path) if path.exists() else "defaults (no vercel.json)"
    return Deployment("vercel", memory, 0, memory, frozenset(), source)
