"""`tiergate accounts set-alerts ACCOUNT [--email E] [--url U] [--clear]`: where an
account's usage alerts go; `tiergate accounts migrate-alerts`: the one-time move of contacts
stored by earlier versions on the account and key items into the alert room's own items.

Both need the registry's table (TIERGATE_TABLE) and not the hot store: the contacts live in
the alert room's store in that table (`alerts/contacts_dynamo.py`), read by every delivery
run; nothing the API reads from Redis changes, so there is nothing to write through (and
refusing without UPSTASH_* would only get in the way). Without the table they refuse in one
line (exit 2): an in-process store would take the change and forget it with the command. A
change that is not written (DynamoDB unreachable, the account unknown) is an error, exit 2.

A URL gets a fresh `whsec_` signing secret, printed once, alone on the last line, for the
owner to hand to the customer (whose receiver verifies with it); setting the URL again makes
a new one. The email or URL alone leaves the other as it was.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

__all__ = ["add_alert_commands"]


def add_alert_commands(account_actions: Any) -> None:  # argparse's subparsers action
    """`set-alerts` and `migrate-alerts` under `tiergate accounts` (`account_actions`: its
    subparsers)."""
    alerts = account_actions.add_parser(
        "set-alerts", help="where an account's usage alerts (80 %%, 100 %%, cap) are sent"
    )
    alerts.add_argument("account", metavar="ACCOUNT")
    alerts.add_argument("--email", metavar="ADDRESS", help="email the alerts here (SES)")
    alerts.add_argument(
        "--url",
        metavar="URL",
        help="POST them here, signed (https://; http://localhost in development); prints a"
        " new signing secret",
    )
    alerts.add_argument("--clear", action="store_true", help="send this account no alerts")
    alerts.set_defaults(run=_set_alerts)
    migrate = account_actions.add_parser(
        "migrate-alerts",
        help="once, after upgrading: move alert contacts off the account and key items",
    )
    migrate.set_defaults(run=_migrate_alerts)


def _set_alerts(args: argparse.Namespace) -> int:
    from ..alerts.contacts import set_alert_contacts
    from ..config import Settings
    from ..wiring import build
    from .keys import require_stores

    settings = Settings()
    require_stores(settings.gate, "accounts set-alerts", "registry")
    parts = build(settings)

    async def main() -> None:
        try:
            done = await set_alert_contacts(
                parts.registry,
                parts.alert_contacts,
                args.account,
                email=args.email,
                url=args.url,
                clear=args.clear,
                allow_loopback=settings.gate.env == "development",
            )
        finally:
            await parts.aclose()
        c = done.contacts
        print(f"account {done.account_id}: alert email {c.email or '-'}")
        print(f"account {done.account_id}: alert URL {c.url or '-'}")
        if done.new_secret is not None:
            print("signing secret: give it to the receiver's owner, it is not shown again")
            print(done.new_secret)

    asyncio.run(main())
    return 0


def _migrate_alerts(args: argparse.Namespace) -> int:
    from ..alerts.contacts_dynamo import DynamoContacts
    from ..config import Settings
    from ..wiring import dynamodb_client
    from .keys import require_stores

    settings = Settings().gate
    require_stores(settings, "accounts migrate-alerts", "registry")
    assert settings.table is not None  # require_stores refused without it
    store = DynamoContacts(dynamodb_client(settings), settings.table)
    done = asyncio.run(store.migrate_legacy())
    print(
        f"alert contacts: {done.copied} accounts moved to their own item, {done.kept} had one"
        f" already; legacy contacts removed from {done.cleaned} account and key items"
    )
    return 0
