"""`tiergate tiers`: validate the configured tiers and show them, overage billing included."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_tiers_command"]


def add_tiers_command(commands: Any) -> None:  # argparse's subparsers action is private
    tiers = commands.add_parser("tiers", help="validate and show the configured tiers")
    tiers.set_defaults(run=_tiers)


def _tiers(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..tiers import load_tiers

    tiers = load_tiers(Settings().gate.tiers)
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
