"""The gate: from an API key and a route's requirement to admitted or denied.

One hot-store call per request in the steady state. A key the hot store has never seen is
loaded from the registry once, written through, and checked again. When the registry cannot
answer, the last copy this process loaded stands in for it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from os import urandom
from typing import TypeVar

from .clock import Clock
from .decision import Check, Code, Verdict
from .errors import StoreUnavailable, TierConfigError
from .hotstate import AccountState, KeyState, key_state
from .idempotency import IdempotencyClaim, ResponseCopy, decode_response, encode_response, key_hash
from .keys import KeyEnv, parse_key
from .logthrottle import ThrottledWarning
from .observe import count
from .outcomes import Admitted, Denied, denial
from .publisher import Publisher
from .registry import Registry
from .store import Charge, HotStore
from .telemetry import DEGRADED, DIM_REASON, REASON_REFUND_FAILED, REASON_STALE_REGISTRY
from .tiers import Tiers

__all__ = ["Gate", "Requirement"]

log = logging.getLogger("tiergate")
_V = TypeVar("_V")

_REMEMBERED = 10_000  # keys whose tier (fail policy) and last loaded state are kept


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a route asks of its caller."""

    tier: str | None = None  # None: the lowest tier
    cost: int = 1  # billable units per admitted request
    feature: str | None = None


class Gate:
    """The request path only: whatever else needs the tiers, the stores or the clock is given
    them by the wiring (wiring.py), not reached through the gate."""

    def __init__(
        self,
        *,
        tiers: Tiers,
        store: HotStore,
        registry: Registry,
        publisher: Publisher,
        clock: Clock,
        key_env: KeyEnv,
        refund_client_errors: bool = False,
    ) -> None:
        self._tiers = tiers
        self._store = store
        self._registry = registry  # read on a miss only
        self._publisher = publisher  # writes what a miss loaded
        self._clock = clock
        self._key_env = key_env
        self._refund_client_errors = refund_client_errors
        self._tier_of: OrderedDict[str, str] = OrderedDict()  # digest -> last tier seen
        # digest -> the state last loaded from the registry, for when it is unreachable
        self._loaded: OrderedDict[str, tuple[KeyState, AccountState | None]] = OrderedDict()
        # While Redis is down these would be a line per request.
        self._unavailable = ThrottledWarning(log, clock, "limiter unavailable")
        self._unsettled = ThrottledWarning(log, clock, "settling failed")

    async def admit(
        self,
        raw_key: str | None,
        need: Requirement,
        idempotency: IdempotencyClaim | None = None,
        *,
        route: str = "",
    ) -> Admitted | Denied:
        """Decide one request; `route` is the route template its units are counted under."""
        parsed = parse_key(raw_key)
        if parsed is None:
            return denial("missing-key" if not raw_key else "invalid-key")
        if parsed.env != self._key_env:
            return denial("wrong-environment", env=parsed.env, expected=self._key_env)
        idempotency_key = ""
        if idempotency is not None:
            idempotency_key = key_hash(idempotency.key) or ""
            if not idempotency_key:
                return denial("invalid-idempotency-key")
        check = Check(  # no `now`: the store decides on its own clock (Redis TIME)
            digest=parsed.digest,
            min_rank=self._tiers.require(need.tier).rank if need.tier else 0,
            feature=need.feature or "",
            cost=need.cost,
            idempotency_key=idempotency_key,
            fingerprint=idempotency.fingerprint if idempotency else "",
            request_id=urandom(12).hex(),  # what secrets.token_hex(12) is, for less
            route=route,
        )
        try:
            verdict = await self._store.check(check)
            if verdict.code in _MISSES:
                await self._load(parsed.digest)
                verdict = await self._store.check(check)
        except StoreUnavailable as exc:
            await self._abandon(check.request_id)
            return self._when_unavailable(parsed.digest, parsed.key_id, exc, idempotency_key)
        except TierConfigError as exc:
            # The registry names a tier the configuration no longer has: the operator's
            # mistake, not the caller's; refuse clearly instead of guessing limits.
            log.error("cannot load key=%s: %s", parsed.key_id, exc)
            return denial("tier-not-configured")
        self._unavailable.recovered()
        self._unsettled.recovered()
        if verdict.tier:
            self._remember(parsed.digest, verdict.tier)
        now = verdict.now_ms
        if verdict.code == _REPLAY:
            replay = _kept(verdict.response)
            if replay is None:
                log.error("unreadable kept response key=%s", parsed.key_id)
                return denial("idempotency-response-not-kept", verdict=verdict, now_ms=now)
            return Admitted(verdict, cost=0, now_ms=now, replay=replay)
        if verdict.alerts:  # queued by the store for delivery; this request crossed them
            log.info("usage alert account=%s crossed=%s used=%d limit=%d",
                     verdict.account_id, verdict.alerts, verdict.used, verdict.limit)  # fmt: skip
        if verdict.admitted:
            return Admitted(
                verdict,
                cost=need.cost,
                idempotency_key=idempotency_key,
                now_ms=now,
                request_id=check.request_id,
                route=route,
            )
        # No line of its own: the request's access line names the key, the account and the
        # reason, and a second line per denial would double a 429 flood's log bill.
        return denial(_SLUG[verdict.code], verdict=verdict, need=need, now_ms=now)

    async def settle(
        self, admitted: Admitted, status: int, response: ResponseCopy | None = None
    ) -> None:
        """Once the endpoint has answered: refund a non-billable answer (and forget its
        Idempotency-Key, so the retry runs), or keep the key's response for its replays.

        `response` is the endpoint's answer when it could be copied whole, else None.
        """
        if admitted.degraded or admitted.replay is not None:
            return
        v = admitted.verdict
        try:
            if not self._billable(status):
                if admitted.charged or admitted.idempotency_key:
                    cost = admitted.cost if admitted.charged else 0
                    # What the verdict charged; the store's record of the request, while it
                    # lasts, says the same (and names the meter).
                    overage = max(0, min(cost, v.used - v.limit))
                    charge = Charge(v.account_id, v.period_start_ms, cost,
                                    admitted.idempotency_key, overage, admitted.route)  # fmt: skip
                    await self._store.refund(admitted.request_id, charge)
            elif admitted.idempotency_key:
                kept = encode_response(response) if response is not None else None
                if not await self._store.complete(
                    admitted.request_id, v.account_id, admitted.idempotency_key, kept
                ):
                    log.warning(  # its replays will run and be charged as new requests
                        "Idempotency-Key response not kept account=%s: in flight longer than"
                        " TIERGATE_IDEMPOTENCY_INFLIGHT_TTL",
                        v.account_id,
                    )
        except StoreUnavailable as exc:
            # The response has gone; an unrefunded unit is the customer's loss, so say so.
            count(DEGRADED, DIM_REASON, REASON_REFUND_FAILED)
            self._unsettled.warning("settling failed account=%s: %s", v.account_id, exc)

    async def _abandon(self, request_id: str) -> None:
        """The decision's answer was lost, but its call may have run and charged: refund it by
        its id (exact: only what it charged, once), and let no late copy of it charge."""
        try:
            await self._store.refund(request_id, None)
        except StoreUnavailable as exc:
            # Not counted as a failed refund: the lost call may never have run (while Redis
            # is down, it never does), and the outage is counted by its denials already.
            self._unsettled.warning("settling failed request=%s: %s", request_id, exc)

    def _billable(self, status: int) -> bool:
        if status >= 500:
            return False
        return not (self._refund_client_errors and 400 <= status < 500)

    async def _load(self, digest: str) -> None:
        try:
            found = await self._registry.hot_state(digest)
        except StoreUnavailable as exc:
            stale = self._loaded.get(digest)
            if stale is None:
                raise
            count(DEGRADED, DIM_REASON, REASON_STALE_REGISTRY)
            log.warning("registry unavailable, using the last loaded state: %s", exc)
            key, state = stale
            await self._publisher.publish_states({digest: key}, [state] if state else [])
            return
        if found is None:
            await self._publisher.publish_states({digest: None})
            return
        record, account = found
        key = key_state(record)
        # A revoked or expired key is denied on the key alone, and its account copy may be
        # stale: writing that through would roll back the live account's state.
        state = (
            self._publisher.account_state(account) if record.usable(self._clock.now_ms()) else None
        )
        await self._publisher.publish_states({digest: key}, [state] if state else [])
        _put_bounded(self._loaded, digest, (key, state))

    def _when_unavailable(
        self, digest: str, key_id: str, exc: StoreUnavailable, idempotency_key: str
    ) -> Admitted | Denied:
        tier_name = self._tier_of.get(digest)
        tier = self._tiers.get(tier_name) if tier_name else None
        policy = (tier or self._tiers.lowest).on_error
        self._unavailable.warning("limiter unavailable key=%s policy=%s: %s", key_id, policy, exc)
        # Without the store a key cannot be held: letting a keyed request in could run it twice.
        if policy == "allow" and not idempotency_key:
            verdict = Verdict(Code.ADMIT, tier=tier_name or "")
            return Admitted(verdict, cost=0, degraded="fail-open")
        return denial("limiter-unavailable")

    def _remember(self, digest: str, tier: str) -> None:
        if self._tier_of.get(digest) != tier:  # the same key, the same tier: nothing to do
            _put_bounded(self._tier_of, digest, tier)


def _put_bounded(lru: OrderedDict[str, _V], key: str, value: _V) -> None:
    lru[key] = value
    lru.move_to_end(key)
    if len(lru) > _REMEMBERED:
        lru.popitem(last=False)


def _kept(text: str) -> ResponseCopy | None:
    try:
        return decode_response(text)
    except (ValueError, TypeError):
        return None


_MISSES = (Code.KEY_MISS, Code.ACCOUNT_MISS)
_REPLAY = Code.REPLAY

_SLUG = {
    Code.UNKNOWN_KEY: "invalid-key",
    Code.KEY_MISS: "limiter-unavailable",  # still missing after a write-through
    Code.ACCOUNT_MISS: "limiter-unavailable",
    Code.REVOKED: "revoked-key",
    Code.SUSPENDED: "billing-suspended",
    Code.TIER: "tier-too-low",
    Code.FEATURE: "feature-not-in-tier",
    Code.BURST: "burst-exceeded",
    Code.QUOTA: "quota-exhausted",
    Code.KEY_REUSED: "idempotency-key-reused",
    Code.IN_FLIGHT: "idempotency-in-flight",
    Code.NOT_KEPT: "idempotency-response-not-kept",
    Code.ABANDONED: "limiter-unavailable",  # only if a refunded id were asked again
}
