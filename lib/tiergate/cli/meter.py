"""`tiergate meter push`: every account's unsent overage to Stripe's meter, exactly once.

It reads the overage counters from Redis (UPSTASH_*), keeps its outbox in the registry's table
(TIERGATE_TABLE) and sends with STRIPE_SECRET_KEY (TIERGATE_STRIPE_API_BASE points it at a
stand-in). Without any of them it refuses before touching anything: an in-process store has
no counters, and an in-process outbox would forget what it sent. Each unit not sent is said
on stderr, with why. Exit 0 when everything due was sent, 1 when anything failed or was
missed, 2 when it cannot run. Units waiting for a Stripe customer (`tiergate accounts link`)
are said but exit 0: they are sent once it is linked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..errors import ConfigError
from .keys import require_stores

__all__ = ["add_meter_commands"]


def add_meter_commands(commands: Any) -> None:  # argparse's subparsers action is private
    meter = commands.add_parser("meter", help="overage to Stripe's Billing meter")
    actions = meter.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = actions.add_parser(
        "push", help="send every account's unsent overage to Stripe, exactly once"
    )
    push.set_defaults(run=_push)


def _push(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..wiring import build

    settings = Settings()
    require_stores(settings.gate, "meter push", "counters")
    if settings.billing.stripe_secret_key is None:
        raise ConfigError(
            "`tiergate meter push` sends to Stripe: set STRIPE_SECRET_KEY (and"
            " TIERGATE_STRIPE_API_BASE only for a local stand-in)"
        )
    parts = build(settings)
    pusher = parts.meter_pusher(settings.meter)
    assert pusher is not None  # the Stripe key is set

    async def main() -> None:
        try:
            report = await pusher.push()
        finally:
            await parts.aclose()
        for line in report.sent_lines():
            print(line)
        for problem in report.problems():
            print(f"tiergate: meter: {problem}", file=sys.stderr)
        if not report.ok:
            raise _NotAllSent

    try:
        asyncio.run(main())
    except _NotAllSent:
        return 1
    return 0


class _NotAllSent(Exception):
    """Something due was not sent; the report has said what."""
