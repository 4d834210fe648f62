"""`tiergate costs` (its arguments: tiergate/cli/costs.py): what each route costs to serve,
and whether each tier makes money.

The measurements come from a file (`--measurements FILE`) or from the recorded ones
(`sources.py`: CloudWatch over `--since`, what `tiergate serve` kept, or `--profile`);
the unit prices from the packaged list with TIERGATE_PRICES over it; the platform, memory
and warm instances from serverless.yml or vercel.json under `--root`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from pathlib import Path

from tiergate.errors import ConfigError

__all__ = ["parse_customers", "parse_since", "run"]

_SINCE = re.compile(r"^(\d{1,12})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_SINCE_MS = 455 * 86_400_000  # CloudWatch's retention (hourly data); the recording's is less
_CUSTOMER = re.compile(r"^([a-z][a-z0-9_-]{0,31})=(\d{1,9})$")


def parse_customers(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    out: dict[str, int] = {}
    for item in text.split(","):
        match = _CUSTOMER.match(item.strip())
        if not match or int(match.group(2)) < 1:
            raise ConfigError(f"--customers: {item.strip()!r} is not TIER=N with N at least 1")
        out[match.group(1)] = int(match.group(2))
    return out


def parse_since(text: str | None, now_ms: int) -> int | None:
    if text is None:
        return None
    match = _SINCE.match(text)
    if not match:
        raise ConfigError(f"--since {text!r}: expected a number and m, h or d, e.g. 7d")
    age_ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if age_ms > MAX_SINCE_MS:
        raise ConfigError(
            f"--since {text!r}: at most 455d, the longest CloudWatch keeps its metrics"
        )
    return now_ms - age_ms


def run(args: argparse.Namespace) -> int:
    from tiergate.config import Settings
    from tiergate.tiers import load_tiers

    from .deployment import read_deployment
    from .prices import load_prices
    from .recorded import load_measurements
    from .report import build_report
    from .settings import CostSettings

    settings = Settings()
    tiers = load_tiers(settings.gate.tiers)
    prices = load_prices(CostSettings().prices)  # the report's own, not the deployment's
    customers = parse_customers(args.customers)
    for name in customers:
        tiers.require(name)
    deployment = read_deployment(
        Path(args.root),
        platform=args.platform,
        stage=args.stage,
        memory_mb=args.memory,
        provisioned=args.provisioned,
        arch=args.arch,
    )
    if args.measurements:
        if args.since or args.profile:
            raise ConfigError("--measurements FILE is the measurements: no --since or --profile")
        rows = load_measurements(args.measurements)
    else:
        from .sources import measurements

        since_ms = parse_since(args.since, int(time.time() * 1000))
        rows = asyncio.run(measurements(settings, since_ms=since_ms, profile=args.profile))
    if not rows:
        raise ConfigError("no measurements: record some traffic, or run with --profile")
    report = build_report(tiers, rows, prices, deployment, customers)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.html:
        from .html import render_html

        try:
            Path(args.html).write_text(render_html(report), "utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.html!r}: {exc.strerror}") from None
        print(f"wrote {args.html}: {len(report['routes'])} routes, {len(report['tiers'])} tiers")
    else:
        from .text import render_text

        print(render_text(report))
    # --strict makes the 3x rule a check a CI job can run on a change of tiers or prices.
    return 1 if args.strict and report["warnings"] else 0
