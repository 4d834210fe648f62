"""`tiergate table create`: the DynamoDB registry table."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError

__all__ = ["add_table_commands"]


def add_table_commands(commands: Any) -> None:  # argparse's subparsers action is private
    table = commands.add_parser("table", help="the DynamoDB registry table")
    table_actions = table.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = table_actions.add_parser("create", help="create it (idempotent), TTL on")
    create.add_argument("--table", help="the table's name (default: TIERGATE_TABLE)")
    create.set_defaults(run=_table_create)


def _table_create(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..registry.dynamo.table import create_table
    from ..wiring import dynamodb_client

    settings = Settings().gate
    name = args.table or settings.table
    if not name:
        raise ConfigError("name the table: --table NAME, or set TIERGATE_TABLE")
    created = create_table(dynamodb_client(settings), name)
    print(f"table {name} {'created' if created else 'already exists'}, TTL on `ttl`")
    return 0
