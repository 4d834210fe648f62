"""The `tiergate` command. Errors are one readable line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import sys
import warnings
from collections.abc import Sequence

from pydantic import ValidationError

from .accounts import add_account_commands
from .alerts import add_alert_commands
from .costs import add_costs_command
from .keys import add_admin_commands
from .meter import add_meter_commands
from ..errors import ConfigError, TiergateError, validation_problems

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")  # show tier warnings once, without a stack
    try:
        result: int = args.run(args)
        return result
    except (TiergateError, ValidationError) as exc:
        print(f"tiergate: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiergate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the example API with demo keys")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)

    add_admin_commands(commands)
    add_meter_commands(commands)
    add_costs_command(commands)

    accounts = commands.add_parser(
        "accounts", help="an account's Stripe customer, overage cap and usage-alert contacts"
    )
    actions = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_account_commands(actions)
    add_alert_commands(actions)

    table = commands.add_parser("table", help="the DynamoDB registry table")
    table_actions = table.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = table_actions.add_parser("create", help="create it (idempotent), TTL on")
    create.add_argument("--table", help="the table's name (default: TIERGATE_TABLE)")
    create.set_defaults(run=_table_create)

    infra = commands.add_parser("infra", help="deployment files against the app's routes")
    infra_actions = infra.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = infra_actions.add_parser(
        "check", help="serverless.yml and vercel.json serve every route, paid ones warm"
    )
    check.add_argument("--root", default=".", help="the project folder (default: here)")
    check.add_argument("--app", default="api.index:app", help="MODULE:ATTRIBUTE of the app")
    check.set_defaults(run=_infra_check)

    tiers = commands.add_parser("tiers", help="validate and show the configured tiers")
    tiers.set_defaults(run=_tiers)

    local = commands.add_parser(
        "local-redis", help="run a local Upstash-compatible REST server over redis-server"
    )
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8079)
    local.add_argument("--token", default="local-dev-token")
    local.add_argument(
        "--redis", metavar="HOST:PORT", help="an existing redis-server (default: start one)"
    )
    local.set_defaults(run=_local_redis)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..schedule.runner import job_runner
    from ..settings import Settings
    from ..telemetry import SERVICE_API
    from ..web.example import create_app
    from ..web.scheduled import run_in_background
    from ..wiring import build

    settings = Settings()
    # On the developer's terminal: costs are recorded (TIERGATE_RECORD_COSTS=false: off), and
    # every request gets tiergate's own access line (TIERGATE_ACCESS_LOG to change it), which
    # names a key by its id and never prints the query string. Uvicorn's line is off: it
    # prints the path and query as sent, a key put there by mistake included.
    defaults = {"record_costs": True, "access_log": "all"}
    unset = {
        name: value for name, value in defaults.items() if name not in settings.model_fields_set
    }
    settings = settings.model_copy(update=unset)
    parts = build(settings)
    app = create_app(settings, parts=parts)
    # The embedded default's schedule: the meter push and alert delivery in-process.
    runner = job_runner(parts, settings, service=SERVICE_API)
    run_in_background(app, runner, interval_s=settings.background_interval)
    keys = asyncio.run(parts.demo_keys())
    for tier, key in keys.items():
        print(f"demo key {tier}: {key}", flush=True)
    if settings.record_costs and settings.measure:
        from ..observe.recording import recorded_path

        print(f"recording costs for `tiergate costs` in {recorded_path(settings)}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _tiers(args: argparse.Namespace) -> int:
    from ..settings import Settings
    from ..tiers import load_tiers

    tiers = load_tiers(Settings().tiers)
    print(f"{'tier':<12} {'limit/month':>12} {'burst/s':>8} {'$/month':>9}  on error  features")
    for t in tiers.values():
        features = ", ".join(sorted(t.features)) or "-"
        print(
            f"{t.name:<12} {t.limit:>12,} {t.burst:>8} {t.price:>9.2f}  {t.on_error:<8}  {features}"
        )
    for t in tiers.values():
        if t.overage is None:
            continue
        o = t.overage
        # Counted but never invoiced is the one overage mistake the gate cannot see: say it.
        billed = (
            f"Stripe price {o.stripe_price}"
            if o.stripe_price
            else "no overage.stripe_price: checkout does not sell it and Stripe never bills it"
        )
        print(
            f"{t.name}: overage up to {o.cap:,} units past the limit at ${o.unit_price:g},"
            f" meter {o.meter}, {billed}"
        )
    return 0


def _table_create(args: argparse.Namespace) -> int:
    from ..registry.dynamo.table import create_table
    from ..settings import Settings
    from ..wiring import dynamodb_client

    settings = Settings()
    name = args.table or settings.table
    if not name:
        raise ConfigError("name the table: --table NAME, or set TIERGATE_TABLE")
    created = create_table(dynamodb_client(settings), name)
    print(f"table {name} {'created' if created else 'already exists'}, TTL on `ttl`")
    return 0


def _infra_check(args: argparse.Namespace) -> int:
    import importlib
    from pathlib import Path

    from tiergate_tools.infra.check import check_serverless, check_vercel, read_serverless
    from tiergate_tools.infra.routemap import app_routes

    from ..settings import Settings

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
        routes = app_routes(app, Settings().prefix)
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


def _local_redis(args: argparse.Namespace) -> int:
    from tiergate_tools.localredis.main import run

    run(host=args.host, port=args.port, token=args.token, redis=args.redis)
    return 0


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return validation_problems(exc, whole="settings")
    return str(exc)
