"""`tiergate infra check`: the deployment files against the app's routes and their tiers.

serverless.yml: every route is served by exactly one function; a paid route by a function
with provisioned concurrency (kept warm); the Stripe webhook by the webhook handler; and no
function claims a route the app does not have; a function runs the scheduled runs on a
schedule. vercel.json: every route reaches a declared function through the rewrites, the
webhook reaches the webhook entry, each cron path is a route of the app, and the scheduled
runs' cron reaches their own entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiergate.errors import ConfigError
from tiergate.jsontext import parse_json
from tiergate.web.scheduled import SCHEDULED_PATH

from .routes import AppRoute, api_gateway_pattern, sample_path, vercel_pattern

__all__ = ["Function", "check_serverless", "check_vercel", "read_serverless"]

WEBHOOK_PATH = "/webhooks/stripe"
WEBHOOK_HANDLER = "api/webhooks.handler"
SCHEDULED_HANDLER = "api/scheduled.handler"
SCHEDULED_ENTRY = "api/scheduled.py"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    handler: str
    warm: bool  # provisioned concurrency
    events: tuple[tuple[str, str], ...]  # (method or "*", path)
    scheduled: bool = False  # invoked on a schedule (an eventBridge or schedule event)


def read_serverless(path: Path) -> list[Function]:
    import yaml  # only this command needs it

    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:  # one line: where, and what (its own text spans several)
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"cannot read {path}: {where}{problem}") from None
    try:
        return _functions(document)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not shaped as serverless.yml should be ({exc!r})") from None


def _functions(document: Any) -> list[Function]:
    functions: list[Function] = []
    for name, spec in (document.get("functions") or {}).items():
        events: list[tuple[str, str]] = []
        for event in spec.get("events") or []:
            http = event.get("httpApi") if isinstance(event, Mapping) else None
            if http == "*":
                events.append(("*", "*"))
            elif isinstance(http, Mapping):
                events.append((str(http.get("method", "*")).upper(), str(http.get("path"))))
            elif isinstance(http, str):
                method, _, route = http.partition(" ")
                events.append((method.upper(), route))
        warm = bool(spec.get("provisionedConcurrency"))
        scheduled = any(_on_schedule(event) for event in spec.get("events") or [])
        handler = str(spec.get("handler", ""))
        functions.append(Function(name, handler, warm, tuple(events), scheduled))
    return functions


def _on_schedule(event: Any) -> bool:
    if not isinstance(event, Mapping):
        return False
    rule = event.get("eventBridge") or event.get("schedule")
    return isinstance(rule, str) or (isinstance(rule, Mapping) and "schedule" in rule)


def check_serverless(functions: Sequence[Function], routes: Sequence[AppRoute]) -> list[str]:
    problems: list[str] = []
    if not any(f.handler == SCHEDULED_HANDLER and f.scheduled for f in functions):
        problems.append(
            f"no function runs {SCHEDULED_HANDLER} on a schedule: overage would never reach"
            " Stripe, nor alerts the customers"
        )
    claimed: set[tuple[str, str]] = set()
    for route in routes:
        serving = [f for f in functions if _serves(f, route)]
        claimed |= {(m, p) for f in serving for m, p in f.events if _matches(m, p, route)}
        if not serving:
            problems.append(f"{route}: no function serves it")
            continue
        if len(serving) > 1:
            names = ", ".join(f.name for f in serving)
            problems.append(f"{route}: served by several functions ({names})")
        for function in serving:
            if route.paid and not function.warm:
                problems.append(
                    f"{route}: a paid-tier route on {function.name}, which has no"
                    " provisioned concurrency (paid customers would meet cold starts)"
                )
            if route.path == WEBHOOK_PATH and function.handler != WEBHOOK_HANDLER:
                problems.append(f"{route}: must be served by {WEBHOOK_HANDLER}")
    for function in functions:
        for method, path in function.events:
            if (method, path) not in claimed and path != "*":
                problems.append(f"{function.name}: {method} {path} is not a route of the app")
    return problems


def check_vercel(path: Path, routes: Sequence[AppRoute], root: Path) -> list[str]:
    try:
        config: dict[str, Any] = parse_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        functions = set(config.get("functions") or {})
        rewrites = [
            (vercel_pattern(r["source"]), str(r["destination"])) for r in config.get("rewrites", [])
        ]
        crons = [str(cron["path"]) for cron in config.get("crons", [])]
    except (AttributeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(f"{path}: not shaped as vercel.json should be ({exc!r})") from None
    problems: list[str] = []
    for route in routes:
        url = sample_path(route.path)
        destination = next((d for pattern, d in rewrites if pattern.match(url)), url)
        entry = destination.lstrip("/") + ".py"
        if entry not in functions or not (root / entry).is_file():
            problems.append(f"{route}: reaches {destination}, which is not a declared function")
        elif route.path == WEBHOOK_PATH and entry != "api/webhooks.py":
            problems.append(f"{route}: must reach api/webhooks.py, not {entry}")
    known = {sample_path(r.path) for r in routes if r.method == "GET"}
    for cron in crons:
        url = cron.split("?")[0]
        if url == SCHEDULED_PATH:  # served by its own entry, not necessarily by the app
            entry = next((d for pattern, d in rewrites if pattern.match(url)), url)
            if entry.lstrip("/") + ".py" != SCHEDULED_ENTRY:
                problems.append(f"cron {cron}: must reach {SCHEDULED_ENTRY}, not {entry}")
            elif SCHEDULED_ENTRY not in functions or not (root / SCHEDULED_ENTRY).is_file():
                problems.append(f"cron {cron}: {SCHEDULED_ENTRY} is not a declared function")
        elif url not in known:
            problems.append(f"cron {cron}: not a GET route of the app")
    if SCHEDULED_PATH not in (cron.split("?")[0] for cron in crons):
        problems.append(
            f"no cron calls {SCHEDULED_PATH}: overage would never reach Stripe, nor alerts"
            " the customers"
        )
    return problems


def _serves(function: Function, route: AppRoute) -> bool:
    return any(_matches(m, p, route) for m, p in function.events)


def _matches(method: str, path: str, route: AppRoute) -> bool:
    if path == "*":
        return True
    if method not in ("*", "ANY", route.method):
        return False
    return bool(api_gateway_pattern(path).match(sample_path(route.path)))
