"""Demo keys, one per tier, so a newcomer can call a freshly started API at once."""

from __future__ import annotations

from .clock import Clock
from .keys import KeyEnv, generate_key, key_digest
from .registry import Account, KeyRecord, Registry
from .tiers import Tiers

__all__ = ["create_demo_keys"]


async def create_demo_keys(
    registry: Registry, tiers: Tiers, *, clock: Clock, key_env: KeyEnv
) -> dict[str, str]:
    """Create account ``demo-<tier>`` with a fresh key for each tier; returns tier -> key.

    Registry only: the gate's miss path loads each key on its first request.
    """
    now = clock.now_ms()
    keys: dict[str, str] = {}
    for tier in tiers.values():
        account_id = f"demo-{tier.name}"
        key = generate_key(key_env)
        await registry.put_account(Account(account_id=account_id, tier=tier.name))
        await registry.put_key(
            KeyRecord(
                digest=key_digest(key), account_id=account_id, created_at_ms=now, label="demo"
            )
        )
        keys[tier.name] = key
    return keys
