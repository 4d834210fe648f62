"""`tiergate local-redis`: the local Upstash-compatible REST server (a tool,
`tiergate_tools.localredis`, imported when the command runs)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_local_redis_command"]


def add_local_redis_command(commands: Any) -> None:  # argparse's subparsers action is private
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


def _local_redis(args: argparse.Namespace) -> int:
    from tiergate_tools.localredis.main import run

    run(host=args.host, port=args.port, token=args.token, redis=args.redis)
    return 0
