"""`tiergate accounts link|set-cap`: an account's Stripe customer and its overage cap.

Like the key commands they change the registry (TIERGATE_TABLE) and write the account
through to Redis (UPSTASH_*), and refuse before touching anything when either is not
configured (cli/keys.py: admin_command).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..admin import Admin
from .keys import admin_command

__all__ = ["add_account_commands"]


def add_account_commands(actions: Any) -> None:  # argparse's subparsers action is private
    """`link` and `set-cap`, added to the `accounts` command's actions (the package makes it)."""
    link = actions.add_parser(
        "link", help="link an account to an existing Stripe customer (who already pays you)"
    )
    link.add_argument("account", metavar="ACCOUNT")
    link.add_argument("--customer", required=True, metavar="cus_...")
    link.set_defaults(run=admin_command(_link, "change"))

    cap = actions.add_parser(
        "set-cap", help="a lower overage cap for one account (never above its tier's)"
    )
    cap.add_argument("account", metavar="ACCOUNT")
    which = cap.add_mutually_exclusive_group(required=True)
    which.add_argument("--cap", type=_units, metavar="N", help="overage units per period")
    which.add_argument("--clear", action="store_true", help="back to the tier's own cap")
    cap.set_defaults(run=admin_command(_set_cap, "change"))


async def _link(admin: Admin, args: argparse.Namespace) -> None:
    account = await admin.link_customer(args.account, args.customer)
    print(f"account {account.account_id} linked to Stripe customer {account.customer_id}")


async def _set_cap(admin: Admin, args: argparse.Namespace) -> None:
    account, cap = await admin.set_overage_cap(args.account, None if args.clear else args.cap)
    whose = " (the tier's)" if account.overage_cap_override is None else ""
    print(f"account {account.account_id}: overage cap {cap:,} units per period{whose}")


def _units(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of units (0 or more)")
    return int(text)
