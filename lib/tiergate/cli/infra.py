"""`tiergate infra check`: the deployment files against the app's routes (the check itself
is a tool, `tiergate_tools.infra`, imported when the command runs)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, TiergateError

__all__ = ["add_infra_commands"]


def add_infra_commands(commands: Any) -> None:  # argparse's subparsers action is private
    infra = commands.add_parser("infra", help="deployment files against the app's routes")
    infra_actions = infra.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = infra_actions.add_parser(
        "check", help="serverless.yml and vercel.json serve every route, paid ones warm"
    )
    check.add_argument("--root", default=".", help="the project folder (default: here)")
    check.add_argument("--app", default="api.index:app", help="MODULE:ATTRIBUTE of the app")
    check.set_defaults(run=_infra_check)


def _infra_check(args: argparse.Namespace) -> int:
    import importlib
    from pathlib import Path

    from tiergate_tools.infra.check import check_serverless, check_vercel, read_serverless
    from tiergate_tools.infra.routemap import app_routes

    from ..config import Settings

    root = Path(args.root).resolve()
    module_name, _, attribute = args.app.partition(":")
    sys.path.insert(0, str(root))
    try:
        app = getattr(importlib.import_module(module_name), attribute)
    except (TiergateError, ValidationError):
        raise  # bad settings or tiers: said as everywhere else
    except Exception as exc:  # the user's module: whatever it raises, say so in one line
        raise ConfigError(f"cannot load the app {args.app!r} from {root}: {exc!r}") from None
    try:
        routes = app_routes(app, Settings().gate.prefix)
    except ConfigError as exc:
        raise ConfigError(f"the app {args.app!r}: {exc}") from None
    problems = [
        f"serverless.yml: {p}"
        for p in check_serverless(read_serverless(root / "serverless.yml"), routes)
    ]
    problems += [f"vercel.json: {p}" for p in check_vercel(root / "vercel.json", routes, root)]
    for problem in problems:
        print(f"tiergate: infra: {problem}", file=sys.stderr)
    if problems:
        return 1
    paid = sum(1 for r in routes if r.paid)
    print(f"infra check: {len(routes)} routes ({paid} paid) served as they must be")
    return 0
