"""One contract, every hot store: the in-process one and Upstash (real redis-server behind the
project's own Upstash REST server) must give the same answers."""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
from dataclasses import replace

import pytest

from tiergate.alerts.queue import AlertQueue
from tiergate.clock import FakeClock
from tiergate.decision import Check, Code, Verdict
from tiergate.hotstate import AccountState, KeyState, usage_alerts
from tiergate.meter.index import MeterIndex
from tiergate.periods import calendar_month
from tiergate.store import Charge, HotStore
from tiergate.store.memory import MemoryStore

from .conftest import NOW

_ids = (f"request-{n}" for n in itertools.count())
ACCOUNT = AccountState(account_id="acct-1", tier="free", rank=0, status="active", limit=10, burst=5)


def ask(clock: FakeClock, **changes: object) -> Check:
    """A check at the fake clock's time (the gate sends none: Redis decides on its TIME)."""
    base: dict[str, object] = {"digest": "digest-1", "now_ms": clock.now_ms()}
    return Check(**{**base, **changes})  # type: ignore[arg-type]


async def seed(store: HotStore, account: AccountState = ACCOUNT, **key: object) -> None:
    state = KeyState(account.account_id, **key)  # type: ignore[arg-type]
    await store.write(keys={"digest-1": state}, accounts=[account])


async def codes(store: HotStore, clock: FakeClock, n: int, **changes: object) -> list[Code]:
    return [(await store.check(ask(clock, **changes))).code for _ in range(n)]


async def test_a_key_never_seen_is_a_miss(store: HotStore, clock: FakeClock) -> None:
    assert (await store.check(ask(clock))).code == Code.KEY_MISS


async def test_a_key_without_its_account_is_an_account_miss(
    store: HotStore, clock: FakeClock
) -> None:
    await store.write(keys={"digest-1": KeyState("acct-1")})
    verdict = await store.check(ask(clock))
    assert (verdict.code, verdict.account_id) == (Code.ACCOUNT_MISS, "acct-1")


async def test_an_unknown_key_is_cached_as_unknown(store: HotStore, clock: FakeClock) -> None:
    await store.write(keys={"digest-1": None})
    assert (await store.check(ask(clock))).code == Code.UNKNOWN_KEY


async def test_admitted_verdict_carries_the_numbers(store: HotStore, clock: FakeClock) -> None:
    await seed(store)
    verdict = await store.check(ask(clock, cost=3))
    start, end = calendar_month(NOW)
    assert verdict == Verdict(
        Code.ADMIT, account_id="acct-1", tier="free", status="active", burst=5,
        burst_remaining=4, burst_reset_ms=200, limit=10, used=3, period_start_ms=start,
        period_end_ms=end, retry_after_ms=0, now_ms=NOW,
    )  # fmt: skip
    assert await store.used("acct-1", start) == 3


async def test_denials_by_key_status_and_tier(store: HotStore, clock: FakeClock) -> None:
    await seed(store, revoked=True)
    assert (await store.check(ask(clock))).code == Code.REVOKED
    await seed(store, expires_at_ms=NOW + 1000)
    assert (await store.check(ask(clock))).code == Code.ADMIT
    clock.advance(1000)
    assert (await store.check(ask(clock))).code == Code.REVOKED
    for status in ("unpaid", "canceled", "paused"):
        await seed(store, replace(ACCOUNT, status=status))
        assert (await store.check(ask(clock))).code == Code.SUSPENDED
    await seed(store, replace(ACCOUNT, status="past_due", suspend_at_ms=clock.now_ms() + 1))
    assert (await store.check(ask(clock))).code == Code.ADMIT
    clock.advance(1)
    assert (await store.check(ask(clock))).code == Code.SUSPENDED
    await seed(store)
    assert (await store.check(ask(clock, min_rank=1))).code == Code.TIER
    assert (await store.check(ask(clock, feature="exports"))).code == Code.FEATURE
    await seed(store, replace(ACCOUNT, features=frozenset({"exports", "audit"})))
    assert (await store.check(ask(clock, feature="exports"))).code == Code.ADMIT
    assert (await store.check(ask(clock, feature="export"))).code == Code.FEATURE


async def test_burst_admits_burst_then_tells_the_real_wait(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store, replace(ACCOUNT, limit=1000))
    assert await codes(store, clock, 7) == [Code.ADMIT] * 5 + [Code.BURST] * 2
    denied = await store.check(ask(clock))
    assert (denied.retry_after_ms, denied.burst_remaining) == (200, 0)
    clock.advance(199)
    assert (await store.check(ask(clock))).code == Code.BURST
    clock.advance(1)
    assert (await store.check(ask(clock))).code == Code.ADMIT


async def test_quota_exactly_at_the_limit(store: HotStore, clock: FakeClock) -> None:
    await seed(store, replace(ACCOUNT, burst=1000))
    assert await codes(store, clock, 11) == [Code.ADMIT] * 10 + [Code.QUOTA]
    denied = await store.check(ask(clock))
    assert denied.used == 10
    assert denied.retry_after_ms == calendar_month(NOW)[1] - NOW


async def test_a_denied_cost_consumes_nothing(store: HotStore, clock: FakeClock) -> None:
    await seed(store, replace(ACCOUNT, limit=12, burst=3))
    assert await codes(store, clock, 3, cost=5) == [Code.ADMIT, Code.ADMIT, Code.QUOTA]
    # The quota denial left the burst token unspent: one is still there.
    assert (await store.check(ask(clock, cost=2))).code == Code.ADMIT
    assert await store.used("acct-1", calendar_month(NOW)[0]) == 12


async def test_quota_starts_again_next_period(store: HotStore, clock: FakeClock) -> None:
    await seed(store, replace(ACCOUNT, limit=2, burst=100))
    assert await codes(store, clock, 3) == [Code.ADMIT, Code.ADMIT, Code.QUOTA]
    clock.set(calendar_month(NOW)[1])
    verdict = await store.check(ask(clock))
    assert (verdict.code, verdict.used) == (Code.ADMIT, 1)


async def test_the_subscription_period_is_used_when_set(store: HotStore, clock: FakeClock) -> None:
    start, end = NOW - 5 * 86_400_000, NOW + 25 * 86_400_000
    await seed(store, replace(ACCOUNT, period_start_ms=start, period_end_ms=end))
    verdict = await store.check(ask(clock))
    assert (verdict.period_start_ms, verdict.period_end_ms) == (start, end)
    clock.set(end + 1)
    rolled = await store.check(ask(clock))
    assert (rolled.period_start_ms, rolled.used) == (end, 1)


async def test_an_upgrade_written_through_applies_on_the_next_request(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store, replace(ACCOUNT, limit=2, burst=100))
    assert await codes(store, clock, 3) == [Code.ADMIT, Code.ADMIT, Code.QUOTA]
    await store.write(accounts=[replace(ACCOUNT, tier="pro", rank=1, limit=50, burst=100)])
    verdict = await store.check(ask(clock, min_rank=1))
    assert (verdict.code, verdict.tier, verdict.used, verdict.limit) == (
        Code.ADMIT, "pro", 3, 50,
    )  # fmt: skip


async def keyed(
    store: HotStore, clock: FakeClock, key: str, fingerprint: str = "fp", **changes: object
) -> tuple[Check, Verdict]:
    """A request holding Idempotency-Key `key` (its hash, as the gate sends it)."""
    request = ask(
        clock, idempotency_key=key, fingerprint=fingerprint, request_id=next(_ids), **changes
    )
    return request, await store.check(request)


async def test_a_keyed_request_is_held_in_flight_then_replayed_uncharged(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first, admitted = await keyed(store, clock, "order-42")
    assert (admitted.code, admitted.used) == (Code.ADMIT, 1)
    _, meanwhile = await keyed(store, clock, "order-42")
    assert (meanwhile.code, meanwhile.used) == (Code.IN_FLIGHT, 1)
    await store.complete(first.request_id, "acct-1", "order-42", "the first response")
    _, replay = await keyed(store, clock, "order-42")
    assert (replay.code, replay.used, replay.response) == (Code.REPLAY, 1, "the first response")
    assert replay.burst_remaining == 3  # a replay spends a burst token (the 409 did not)
    _, other = await keyed(store, clock, "order-43")
    assert (other.code, other.used) == (Code.ADMIT, 2)


async def test_the_same_key_on_another_request_is_refused(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first, _ = await keyed(store, clock, "k", fingerprint="GET /v1/a")
    _, reused = await keyed(store, clock, "k", fingerprint="GET /v1/b")
    assert (reused.code, reused.used) == (Code.KEY_REUSED, 1)
    await store.complete(first.request_id, "acct-1", "k", "kept")
    assert (await keyed(store, clock, "k", fingerprint="GET /v1/b"))[1].code == Code.KEY_REUSED


async def test_a_response_too_large_to_keep_is_never_served_again(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first, _ = await keyed(store, clock, "big")
    await store.complete(first.request_id, "acct-1", "big", None)
    _, again = await keyed(store, clock, "big")
    assert (again.code, again.used) == (Code.NOT_KEPT, 1)


async def test_a_replay_at_quota_is_served_and_a_new_key_is_not(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store, replace(ACCOUNT, limit=2, burst=100))
    first, _ = await keyed(store, clock, "a")
    await store.complete(first.request_id, "acct-1", "a", "kept")
    assert (await store.check(ask(clock))).code == Code.ADMIT
    assert (await store.check(ask(clock))).code == Code.QUOTA
    assert (await keyed(store, clock, "a"))[1].code == Code.REPLAY
    _, fresh = await keyed(store, clock, "b")
    assert (fresh.code, fresh.used) == (Code.QUOTA, 2)
    assert (await keyed(store, clock, "b"))[1].code == Code.QUOTA  # nothing was held


async def test_a_refund_returns_quota_and_forgets_the_idempotency_key(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first, admitted = await keyed(store, clock, "k", cost=4)
    charge = Charge("acct-1", admitted.period_start_ms, 4, "k")
    await store.refund(first.request_id, charge)
    assert await store.used("acct-1", admitted.period_start_ms) == 0
    _, retried = await keyed(store, clock, "k", cost=4)
    assert (retried.code, retried.used) == (Code.ADMIT, 4)


async def test_only_the_request_that_holds_a_key_may_settle_it(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first, admitted = await keyed(store, clock, "k")
    await store.complete("another-request", "acct-1", "k", "not theirs")
    await store.refund("another-request", Charge("acct-1", admitted.period_start_ms, 0, "k"))
    assert (await keyed(store, clock, "k"))[1].code == Code.IN_FLIGHT
    await store.complete(first.request_id, "acct-1", "k", "theirs")
    assert (await keyed(store, clock, "k"))[1].response == "theirs"


async def test_a_request_id_asked_again_gets_its_verdict_and_no_second_charge(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    first = await store.check(ask(clock, cost=3, request_id="r1"))
    again = await store.check(ask(clock, cost=3, request_id="r1", retry=True))
    assert again == first
    assert (first.code, first.used) == (Code.ADMIT, 3)
    assert await store.used("acct-1", first.period_start_ms) == 3


async def test_a_lost_decision_is_refunded_exactly_once(store: HotStore, clock: FakeClock) -> None:
    await seed(store)
    await store.check(ask(clock, cost=2, request_id="other"))
    lost = await store.check(ask(clock, cost=3, request_id="lost"))
    for _ in range(2):
        await store.refund("lost", None)  # its answer never came: the record says what to give
    assert await store.used("acct-1", lost.period_start_ms) == 2
    late = await store.check(ask(clock, cost=3, request_id="lost"))
    assert late.code == Code.ABANDONED


async def test_a_refund_by_the_verdict_is_exact_too(store: HotStore, clock: FakeClock) -> None:
    await seed(store)
    admitted = await store.check(ask(clock, cost=4, request_id="r"))
    for _ in range(3):
        await store.refund("r", Charge("acct-1", admitted.period_start_ms, 4))
    assert await store.used("acct-1", admitted.period_start_ms) == 0


async def test_a_call_that_runs_after_its_refund_charges_nothing(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    await store.refund("gave-up", None)  # the gate gave up before its call reached the store
    late = await store.check(ask(clock, cost=3, request_id="gave-up"))
    assert late.code == Code.ABANDONED
    assert await store.used("acct-1", calendar_month(NOW)[0]) == 0


async def test_a_retry_that_is_denied_leaves_nothing_for_a_late_first_call(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store, replace(ACCOUNT, burst=1))
    assert (await store.check(ask(clock))).code == Code.ADMIT  # the token is gone
    denied = await store.check(ask(clock, request_id="r", retry=True))
    assert denied.code == Code.BURST
    clock.advance(2000)  # the first call with that id runs late, with a token to spend
    late = await store.check(ask(clock, request_id="r"))
    assert late == denied
    assert await store.used("acct-1", denied.period_start_ms) == 1


async def test_a_lost_keyed_decision_releases_its_key_when_refunded(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store)
    lost, _ = await keyed(store, clock, "k")
    await store.refund(lost.request_id, None)
    _, retried = await keyed(store, clock, "k")
    assert (retried.code, retried.used) == (Code.ADMIT, 1)


async def test_concurrent_requests_never_over_admit(store: HotStore, clock: FakeClock) -> None:
    await seed(store, replace(ACCOUNT, limit=100, burst=100_000))

    async def client(n: int) -> int:
        return sum([(await store.check(ask(clock))).admitted for _ in range(n)])

    admitted = await asyncio.gather(*(client(4) for _ in range(64)))
    assert sum(admitted) == 100


OVERAGE = replace(
    ACCOUNT, overage_cap=20, meter="api_overage", alerts=usage_alerts(40, (50, 80, 100), 20)
)


@pytest.mark.parametrize("overage", [False, True], ids=["flat", "overage"])
async def test_matches_the_reference_on_a_random_workload(
    store: HotStore,
    clock: FakeClock,
    reference: HotStore,
    overage: bool,
    queue: AlertQueue,
    reference_queue: AlertQueue,
    index: MeterIndex,
    reference_index: MeterIndex,
) -> None:
    """Differential: the same random traffic gives the same verdicts as the in-process store,
    and leaves the same overage, route counts and alerts."""
    rng = random.Random(7)
    account = replace(OVERAGE if overage else ACCOUNT, limit=40, burst=4)
    for s in (store, reference):
        await seed(s, account)
    for _ in range(400):
        clock.advance(rng.choice([0, 0, 1, 50, 199, 250, 1000]))
        request = ask(
            clock,
            cost=rng.choice([0, 1, 1, 3]),
            idempotency_key=rng.choice(["", "", "a", "b"]),
            fingerprint=rng.choice(["f", "f", "g"]),
            request_id=next(_ids),
            route=rng.choice(["/v1/a", "/v1/b/{id}"]),
        )
        got, want = await store.check(request), await reference.check(request)
        assert got == want
        if rng.random() < 0.1:  # asked again, as after a lost answer
            retry = replace(request, retry=True)
            again = await store.check(retry)
            assert again == await reference.check(retry)
            charged = got.code == Code.ADMIT and (request.cost > 0 or request.idempotency_key)
            # The alerts were queued by the first call: its record does not repeat them.
            assert again == replace(got, alerts="") or not charged
        if rng.random() < 0.1:  # given up on, as when every answer was lost
            for s in (store, reference):
                await s.refund(request.request_id, None)
            continue
        if got.code != Code.ADMIT:
            continue
        overage_part = max(0, min(request.cost, got.used - got.limit))
        charge = Charge("acct-1", got.period_start_ms, request.cost, request.idempotency_key,
                        overage_part, request.route)  # fmt: skip
        settle, kept = rng.random(), rng.choice(["response", None])
        for s in (store, reference):
            if settle < 0.2:
                await s.refund(request.request_id, charge)
            elif request.idempotency_key and settle < 0.8:
                await s.complete(request.request_id, "acct-1", request.idempotency_key, kept)
    assert sorted(await index.metered(), key=str) == sorted(
        await reference_index.metered(), key=str
    )
    assert await queue.alerts() == await reference_queue.alerts()
    for start in {p.period_start_ms for p in await reference_index.metered()} | {0}:
        assert await store.routes("acct-1", start) == await reference.routes("acct-1", start)
    assert not overage or await reference_queue.alerts(), "the workload should cross some alerts"


async def test_denials_report_the_bucket_without_spending_from_it(
    store: HotStore, clock: FakeClock
) -> None:
    await seed(store, replace(ACCOUNT, limit=2))
    for _ in range(2):
        assert (await store.check(ask(clock))).code == Code.ADMIT
    for denied in (
        await store.check(ask(clock, min_rank=1)),
        await store.check(ask(clock, feature="exports")),
        await store.check(ask(clock)),  # over quota
    ):
        assert denied.code in (Code.TIER, Code.FEATURE, Code.QUOTA)
        assert (denied.burst_remaining, denied.burst_reset_ms) == (3, 400)


async def test_a_key_in_flight_past_its_ttl_is_released_and_its_late_answer_dropped(
    clock: FakeClock,
) -> None:
    """The first request never answered (its function timed out): after the in-flight TTL
    the key runs again, charged, and a late completion of the first cannot overwrite it."""
    store = MemoryStore(clock, inflight_ttl_ms=60_000)
    await seed(store)
    first, _ = await keyed(store, clock, "k")
    clock.advance(60_000)
    second, again = await keyed(store, clock, "k")
    assert (again.code, again.used) == (Code.ADMIT, 2)
    assert not await store.complete(first.request_id, "acct-1", "k", "too late")
    assert await store.complete(second.request_id, "acct-1", "k", "second")
    assert (await keyed(store, clock, "k"))[1].response == "second"


async def test_the_in_process_stores_request_records_leave_the_garbage_collector_alone(
    clock: FakeClock,
) -> None:
    """One record lives per admitted request for its TTL, thousands at a time under load: as
    objects the collector tracks, they made full collections frequent and slow (a few per
    thousand requests, tens of ms each). They are kept as tuples of numbers and strings,
    which it stops tracking."""
    store = MemoryStore(clock)
    await seed(store, replace(ACCOUNT, limit=10_000, burst=10_000))
    for i in range(200):  # the records' first tuples pass one collection and are untracked
        await store.check(ask(clock, request_id=f"warm-{i}"))
    gc.collect()
    before = len(gc.get_objects())
    for i in range(2000):
        assert (await store.check(ask(clock, request_id=f"r-{i}"))).code == Code.ADMIT
    gc.collect()
    assert len(gc.get_objects()) - before < 500  # was three per request: 6,000
    again = await store.check(ask(clock, request_id="r-7", retry=True))
    assert (again.code, again.used) == (Code.ADMIT, 208)  # the record still answers
