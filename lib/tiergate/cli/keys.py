"""`tiergate keys create|list|revoke|rotate` and `tiergate usage`: the admin commands
(`accounts ...` are in cli/accounts.py, and share the refusals here).

They act on the durable registry (TIERGATE_TABLE) with the operator's AWS credentials, and
write every change through to Redis (UPSTASH_*), which the deployed API reads. A command
refuses, before it touches anything, when a store it needs is not configured: the in-process
stands-in would take the change and end with the command, so it would look done and never
reach the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..admin import Admin, Usage
from ..errors import ConfigError
from ..registry import KeyRecord

if TYPE_CHECKING:
    from ..settings import GateSettings

__all__ = ["add_admin_commands", "require_stores"]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_HOT_STORE = "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN"

# What a command needs: `change` writes the registry and Redis; `counters` reads Redis's
# quota counters (and the registry); `registry` reads the registry, or changes in it what
# Redis does not hold (an account's alert contacts).
Needs = Literal["change", "counters", "registry"]


def add_admin_commands(commands: Any) -> None:  # argparse's subparsers action is private
    keys = commands.add_parser("keys", help="create, list, revoke and rotate API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="a new key (the account is created if new)")
    create.add_argument("--account", required=True)
    create.add_argument("--tier", help="the tier of a new account (default: the lowest)")
    create.add_argument("--label", default="", help="a note to tell keys apart, e.g. 'ci'")
    create.set_defaults(run=_admin(_create, "change"))

    listing = actions.add_parser("list", help="an account's keys, revoked ones included")
    listing.add_argument("--account", required=True)
    listing.set_defaults(run=_admin(_list, "registry"))

    for name, run, text in (
        ("revoke", _revoke, "refuse a key from its next request on"),
        ("rotate", _rotate, "a new key; the old one keeps working for --grace"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("key", metavar="KEY", help="the key, or its id from `keys list`")
        action.add_argument("--account", help="the key's account, when KEY is a key id")
        if name == "rotate":
            action.add_argument("--grace", type=_duration, default="24h", help="e.g. 1h, 7d")
        action.set_defaults(run=_admin(run, "change"))

    usage = commands.add_parser(
        "usage", help="an account's usage this billing period: quota, overage, routes"
    )
    usage.add_argument("subject", metavar="KEY_OR_ACCOUNT")
    usage.add_argument("--json", action="store_true", help="what GET /v1/usage answers, as JSON")
    usage.set_defaults(run=_admin(_usage, "counters"))


def _admin(
    command: Callable[[Admin, argparse.Namespace], Awaitable[None]], needs: Needs
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from ..config import Settings
        from ..wiring import build

        settings = Settings()
        name = " ".join(part for part in (args.command, getattr(args, "action", None)) if part)
        require_stores(settings.gate, name, needs)
        parts = build(settings)

        async def main() -> None:
            try:
                await command(parts.admin(), args)
            finally:
                await parts.aclose()

        asyncio.run(main())
        return 0

    return run


def require_stores(settings: GateSettings, command: str, needs: Needs) -> None:
    """Refuse (ConfigError: one line, exit 2) when a store the command needs is in-process."""
    hot = bool(settings.upstash_redis_rest_url)
    if not settings.table and not hot and needs != "registry":
        raise ConfigError(
            f"`tiergate {command}` would use a throwaway in-process registry and hot store that"
            f" end with the command: set TIERGATE_TABLE (the DynamoDB registry) and {_HOT_STORE}"
            " (the Redis the API reads)"
        )
    if not settings.table:
        raise ConfigError(
            f"`tiergate {command}` needs the registry: set TIERGATE_TABLE to the DynamoDB table"
            " (`tiergate table create` makes one); without it the command would use an"
            " in-process registry that ends with it"
        )
    if needs == "change" and not hot:
        raise ConfigError(
            f"`tiergate {command}` must reach the Redis the API reads: set {_HOT_STORE};"
            " without them the change would go to a throwaway in-process store and the"
            " deployed API would never see it"
        )
    if needs == "counters" and not hot:
        raise ConfigError(
            f"`tiergate {command}` reads this period's counters from Redis: set {_HOT_STORE};"
            " an in-process store has none and would report 0 used"
        )


async def _create(admin: Admin, args: argparse.Namespace) -> None:
    new = await admin.create_key(args.account, args.tier, args.label)
    print(f"account {new.account.account_id} on tier {new.account.tier}")
    print(f"key id {new.record.digest[:12]}: store the key now, it is not shown again")
    print(new.key)


async def _list(admin: Admin, args: argparse.Namespace) -> None:
    records = await admin.list_keys(args.account)
    now = admin.now_ms()
    print(f"{'key id':<12}  {'created (UTC)':<16}  {'state':<28}  label")
    for r in records:
        print(f"{r.digest[:12]:<12}  {_when(r.created_at_ms):<16}  {_state(r, now):<28}  {r.label}")


async def _revoke(admin: Admin, args: argparse.Namespace) -> None:
    record = await admin.revoke(args.key, args.account)
    print(f"revoked key {record.digest[:12]} of account {record.account_id}")


async def _rotate(admin: Admin, args: argparse.Namespace) -> None:
    new, old = await admin.rotate(args.key, args.account, args.grace)
    print(f"old key {old.digest[:12]} expires {_when(old.expires_at_ms)} UTC")
    print(f"new key id {new.record.digest[:12]}: store the key now, it is not shown again")
    print(new.key)


async def _usage(admin: Admin, args: argparse.Namespace) -> None:
    u = await admin.usage(args.subject)
    a = u.account
    if args.json:
        print(json.dumps(_usage_document(u), indent=2))
        return
    print(f"account  {a.account_id}")
    print(f"tier     {a.tier} ({a.status})")
    print(f"period   {_when(u.period_start_ms)} to {_when(u.period_end_ms)} UTC")
    print(f"used     {u.used:,} of {u.limit:,} ({max(0, u.limit - u.used):,} left)")
    if u.overage_cap is None:
        print("overage  none: the tier stops at its limit")
    else:
        print(f"overage  {u.overage:,} of a cap of {u.overage_cap:,}")
    width = max((len(route) for route in u.routes), default=0)
    for n, (route, units) in enumerate(sorted(u.routes.items(), key=lambda r: -r[1])):
        print(f"{'routes' if n == 0 else '':<8} {route:<{width}}  {units:>12,}")
    if not u.routes:
        print("routes   none billed yet")


def _usage_document(u: Usage) -> dict[str, Any]:
    """The fields `GET {prefix}/usage` answers, for the same account and period."""
    return {
        "account": u.account.account_id,
        "tier": u.account.tier,
        "status": u.account.status,
        "limit": u.limit,
        "used": u.used,
        "remaining": max(0, u.limit - u.used),
        "overage": u.overage,
        "overage_cap": u.overage_cap,
        "period_start": _iso(u.period_start_ms),
        "period_end": _iso(u.period_end_ms),
        "routes": u.routes,
    }


def _state(record: KeyRecord, now_ms: int) -> str:
    if record.revoked_at_ms:
        return f"revoked {_when(record.revoked_at_ms)}"
    if record.expires_at_ms:
        verb = "expired" if now_ms >= record.expires_at_ms else "expires"
        return f"{verb} {_when(record.expires_at_ms)}"
    return "live"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _duration(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 24h or 7d")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


# The runner the other admin command modules (cli/accounts.py) build their commands with, so
# that every admin command refuses the same way.
admin_command = _admin
