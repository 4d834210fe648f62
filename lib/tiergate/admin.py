"""Key lifecycle and usage: what the `tiergate` CLI does with the operator's credentials.

The public API has no admin surface; this module is it. Every change goes to the registry
(the source of truth) first, then through to the hot store, so a revoked key is refused on
its very next request rather than when a cache runs out.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from .clock import Clock
from .errors import NotFound, NotWrittenThrough, StoreUnavailable, TiergateError
from .keys import KeyEnv, generate_key, parse_key
from .periods import current_period
from .publisher import Publisher
from .registry import Account, KeyRecord, Registry
from .store import HotStore
from .tiers import Tiers

__all__ = ["Admin", "NewKey", "NotWrittenThrough", "Usage"]

_KEY_ID_LEN = 12  # `keys list` shows digest[:12], the same key id the logs use
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")  # also safe in Redis key names
_CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{1,250}$")  # Stripe's customer ids


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once, never stored
    record: KeyRecord
    account: Account


@dataclass(frozen=True, slots=True)
class Usage:
    """What `GET {prefix}/usage` tells the customer, for the operator."""

    account: Account
    limit: int
    used: int
    period_start_ms: int
    period_end_ms: int
    overage: int = 0  # units past `limit` this period
    overage_cap: int | None = None  # None: the tier has no overage
    routes: dict[str, int] = field(default_factory=dict)  # billable units by route template


class Admin:
    def __init__(
        self,
        *,
        registry: Registry,
        publisher: Publisher,
        store: HotStore,  # read for this period's counters (`usage`); written via `publisher`
        tiers: Tiers,
        clock: Clock,
        key_env: KeyEnv,
    ) -> None:
        self._registry = registry
        self._publisher = publisher
        self._store = store
        self._tiers = tiers
        self._clock = clock
        self._key_env = key_env

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def create_key(self, account_id: str, tier: str | None, label: str = "") -> NewKey:
        """A new key for the account, creating the account (on `tier`) when it is new.

        On an existing account, `tier` changes its tier only if no Stripe subscription sets it.
        """
        account, changed = await self._account_on(account_id, tier)
        key = generate_key(self._key_env)
        parsed = parse_key(key)
        assert parsed is not None  # a key we just generated always parses
        record = KeyRecord(parsed.digest, account_id, self.now_ms(), label=label)
        await self._registry.put_key(record)
        # An unchanged account is left to the gate's miss path: a copy read here could race
        # a webhook and put older state into Redis.
        await self._publish(account=account if changed else None, keys=[record])
        return NewKey(key, record, account)

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        if await self._registry.get_account(account_id) is None:
            raise NotFound(f"no account {account_id!r}")
        return await self._registry.list_keys(account_id)

    async def revoke(self, ref: str, account_id: str | None = None) -> KeyRecord:
        record = await self.find_key(ref, account_id)
        if not record.revoked_at_ms:
            record = dataclasses.replace(record, revoked_at_ms=self.now_ms())
            await self._registry.put_key(record)
        await self._publish(keys=[record])  # again on a rerun: it may have failed last time
        return record

    async def rotate(
        self, ref: str, account_id: str | None, grace_ms: int
    ) -> tuple[NewKey, KeyRecord]:
        """A new key for the same account; the old one keeps working for `grace_ms`."""
        old = await self.find_key(ref, account_id)
        if not old.usable(self.now_ms()):
            raise TiergateError(f"key {old.digest[:_KEY_ID_LEN]} is already revoked or expired")
        new = await self.create_key(old.account_id, None, label=old.label)
        old = dataclasses.replace(old, expires_at_ms=self.now_ms() + grace_ms)
        await self._registry.put_key(old)
        await self._publish(keys=[old])
        return new, old

    async def usage(self, key_or_account: str) -> Usage:
        if parse_key(key_or_account) is not None:
            account_id = (await self.find_key(key_or_account, None)).account_id
        else:
            account_id = key_or_account
        account = await self._registry.get_account(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r} (and it is not an API key)")
        state = self._publisher.account_state(account)
        start, end = current_period(state.period_start_ms, state.period_end_ms, self.now_ms())
        used = await self._store.used(account_id, start)
        routes = await self._store.routes(account_id, start)
        hybrid = self._tiers.require(account.tier).overage is not None
        return Usage(
            account,
            limit=state.limit,
            used=used,
            period_start_ms=start,
            period_end_ms=end,
            overage=max(0, used - state.limit) if hybrid else 0,
            overage_cap=state.overage_cap if hybrid else None,
            routes=routes,
        )

    async def link_customer(self, account_id: str, customer_id: str) -> Account:
        """Link an account to an existing Stripe customer (an owner who billed through Stripe
        before tiergate), so that the customer's events find the account. A customer belongs
        to one account, and an account to one customer: relinking either is refused, since
        the old link would keep routing events (and their tier changes) to the wrong account."""
        if not _CUSTOMER_ID.match(customer_id):
            raise TiergateError(f"{customer_id!r} is not a Stripe customer id (cus_...)")
        owner = await self._registry.account_for_customer(customer_id)
        if owner is not None and owner != account_id:
            raise TiergateError(f"Stripe customer {customer_id} is linked to account {owner!r}")

        def link(account: Account) -> Account:
            if account.customer_id and account.customer_id != customer_id:
                raise TiergateError(
                    f"account {account_id!r} is linked to Stripe customer"
                    f" {account.customer_id} already"
                )
            return dataclasses.replace(account, customer_id=customer_id)

        # Read, change, commit if nothing wrote it between: a webhook's write is never undone.
        account = await self._registry.update_account(account_id, link)  # and the CUS# link
        await self._publish(account=account)  # again on a rerun: it may have failed last time
        return account

    async def set_overage_cap(self, account_id: str, cap: int | None) -> tuple[Account, int]:
        """A lower overage cap for one account (None: the tier's again), and the cap the
        gate now applies. Never higher than the tier's: the tier's cap is what the owner
        priced and promised to stop at."""

        def set_cap(account: Account) -> Account:
            overage = self._tiers.require(account.tier).overage
            if overage is None:
                raise TiergateError(
                    f"account {account_id!r} is on tier {account.tier!r}, which has no overage:"
                    " it stops at its limit, and there is no cap to lower"
                )
            if cap is not None and not 0 <= cap <= overage.cap:
                raise TiergateError(
                    f"the cap must be 0..{overage.cap:,}, the {account.tier} tier's own;"
                    " an account's cap may only be lower"
                )
            return dataclasses.replace(account, overage_cap_override=cap)

        account = await self._registry.update_account(account_id, set_cap)
        await self._publish(account=account)
        return account, self._publisher.account_state(account).overage_cap

    async def find_key(self, ref: str, account_id: str | None) -> KeyRecord:
        """A key by its full text, or by the key id `keys list` shows (with its account)."""
        parsed = parse_key(ref)
        if parsed is not None:
            record = await self._registry.get_key(parsed.digest)
            if record is None:
                raise NotFound(f"key {parsed.key_id} was never issued")
            return record
        if account_id is None:
            raise NotFound(
                f"{ref!r} is not an API key; to name a key by its id, give --account too"
            )
        matches = [r for r in await self.list_keys(account_id) if r.digest.startswith(ref)]
        if len(ref) < 6 or len(matches) != 1:
            raise NotFound(f"no single key of account {account_id!r} has the id {ref!r}")
        return matches[0]

    async def _account_on(self, account_id: str, tier: str | None) -> tuple[Account, bool]:
        """The account, created or moved to `tier` as asked; and whether it was written."""
        account = await self._registry.get_account(account_id)
        if account is None:
            if not _ACCOUNT_ID.match(account_id):
                raise TiergateError(
                    f"account id {account_id!r} must be 1-128 letters, digits or _.:@-,"
                    " starting with a letter or digit"
                )
            tier_name = self._tiers.require(tier).name if tier else self._tiers.lowest.name
            account = Account(account_id, tier=tier_name)
            await self._registry.put_account(account)
            return account, True
        if tier and tier != account.tier:
            self._tiers.require(tier)
            if account.subscription_id:
                raise TiergateError(
                    f"account {account_id!r} is on {account.tier!r} by Stripe subscription"
                    f" {account.subscription_id}; change its plan in Stripe instead"
                )
            account = dataclasses.replace(account, tier=tier)
            await self._registry.put_account(account)
            return account, True
        return account, False

    async def _publish(
        self, *, account: Account | None = None, keys: list[KeyRecord] | None = None
    ) -> None:
        try:
            await self._publisher.publish(account=account, keys=keys or [])
        except StoreUnavailable as exc:
            raise NotWrittenThrough(
                f"saved in the registry, but Redis could not be updated ({exc}); the change"
                " reaches requests only once it is: rerun the same command"
            ) from exc
