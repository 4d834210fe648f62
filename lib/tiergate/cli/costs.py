"""`tiergate costs`: the command's arguments. The report itself (its model, prices, the
CloudWatch reader, text and HTML) is a tool, `tiergate_tools.costs`, which ships with the
distribution but not in the deployed function: it is imported when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_costs_command"]


def add_costs_command(commands: Any) -> None:  # argparse's subparsers action is private
    costs = commands.add_parser(
        "costs", help="cost per request by route, and each tier's margin at full quota"
    )
    output = costs.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    costs.add_argument("--measurements", metavar="FILE", help="a JSON list of route measurements")
    costs.add_argument(
        "--since",
        metavar="AGE",
        help="recorded measurements this recent: 7d, 12h (at most 455d; from CloudWatch, only"
        " routes with requests in the last 14 days are found)",
    )
    costs.add_argument("--profile", action="store_true", help="measure the app in-process first")
    costs.add_argument(
        "--customers", metavar="T=N,...", help="expected customers per tier: pro=40,enterprise=3"
    )
    costs.add_argument("--platform", choices=("lambda", "vercel"), default="lambda")
    costs.add_argument("--arch", choices=("arm64", "x86_64"), help="default: serverless.yml's")
    costs.add_argument("--memory", type=int, metavar="MB", help="default: the deployment file's")
    costs.add_argument("--provisioned", type=int, metavar="N", help="warm instances (Lambda)")
    costs.add_argument(
        "--strict", action="store_true", help="exit 1 when any tier is under 3x its cost"
    )
    costs.add_argument("--stage", default="default", help="serverless.yml params stage")
    costs.add_argument("--root", default=".", help="where serverless.yml / vercel.json are")
    costs.set_defaults(run=_costs)


def _costs(args: argparse.Namespace) -> int:
    from tiergate_tools.costs.command import run

    return run(args)
