"""`tiergate accounts set-alerts ACCOUNT [--email E] [--url U] [--clear]`: where an
account's usage alerts go.

It needs the registry (TIERGATE_TABLE) and not the hot store: the contacts are read from the
registry by every delivery run, and nothing the API reads from Redis changes, so there is
nothing to write through (and refusing without UPSTASH_* would only get in the way). Without
the table it refuses in one line (exit 2): an in-process registry would take the change and
forget it with the command.

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
    """`set-alerts` under `tiergate accounts` (`account_actions`: its subparsers)."""
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


def _set_alerts(args: argparse.Namespace) -> int:
    from .alerts.contacts import set_alert_contacts
    from .cli_keys import _require_stores
    from .settings import Settings
    from .wiring import build

    settings = Settings()
    _require_stores(settings, "accounts set-alerts", "registry")
    parts = build(settings)

    async def main() -> None:
        try:
            done = await set_alert_contacts(
                parts.registry,
                args.account,
                email=args.email,
                url=args.url,
                clear=args.clear,
                allow_loopback=settings.env == "development",
            )
        finally:
            await parts.aclose()
        a = done.account
        print(f"account {a.account_id}: alert email {a.alert_email or '-'}")
        print(f"account {a.account_id}: alert URL {a.alert_url or '-'}")
        if done.new_secret is not None:
            print("signing secret: give it to the receiver's owner, it is not shown again")
            print(done.new_secret)

    asyncio.run(main())
    return 0
