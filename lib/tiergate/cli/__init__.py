"""The `tiergate` command. Errors are one readable line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from pydantic import ValidationError

from ..errors import TiergateError, validation_problems
from .accounts import add_account_commands
from .alerts import add_alert_commands
from .costs import add_costs_command
from .infra import add_infra_commands
from .keys import add_admin_commands
from .localredis import add_local_redis_command
from .meter import add_meter_commands
from .serve import add_serve_command
from .table import add_table_commands
from .tiers import add_tiers_command

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
    # Each command module adds its own; the order here is the order `--help` lists them in.
    parser = argparse.ArgumentParser(prog="tiergate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_admin_commands(commands)
    add_meter_commands(commands)
    add_costs_command(commands)

    accounts = commands.add_parser(
        "accounts", help="an account's Stripe customer, overage cap and usage-alert contacts"
    )
    actions = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_account_commands(actions)
    add_alert_commands(actions)

    add_table_commands(commands)
    add_infra_commands(commands)
    add_tiers_command(commands)
    add_local_redis_command(commands)
    return parser


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return validation_problems(exc, whole="settings")
    return str(exc)
