"""Demo keys, one per tier, so a newcomer can call a freshly started API at once."""

from __future__ import annotations

from .gate import Gate
from .keys import generate_key, key_digest
from .registry import Account, KeyRecord

__all__ = ["create_demo_keys"]


async def create_demo_keys(gate: Gate) -> dict[str, str]:
    """Create account ``demo-<tier>`` with a fresh key for each tier; returns tier -> key."""
    now = gate.clock.now_ms()
    keys: dict[str, str] = {}
    for tier in gate.tiers.values():
        account_id = f"demo-{tier.name}"
        key = generate_key(gate.key_env)
        await gate.registry.put_account(Account(account_id=account_id, tier=tier.name))
        await gate.registry.put_key(
            KeyRecord(
                digest=key_digest(key), account_id=account_id, created_at_ms=now, label="demo"
            )
        )
        keys[tier.name] = key
    return keys
