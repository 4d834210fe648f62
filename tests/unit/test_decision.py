"""The decision maths, pure, with an injected clock: no sleeps, no stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiergate.decision import (
    IN_FLIGHT,
    KEPT,
    NOT_KEPT,
    Check,
    Code,
    IdempotencyRecord,
    billing_period,
    decide,
    gcra,
    gcra_peek,
)
from tiergate.hotstate import UNKNOWN_KEY, AccountState, KeyState
from tiergate.periods import calendar_month

NOW = 1_763_208_000_000  # 2025-11-15T12:00:00Z


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[arg-type, misc]


def account(**changes: object) -> AccountState:
    base: dict[str, object] = {
        "account_id": "acct",
        "tier": "free",
        "rank": 0,
        "status": "active",
        "limit": 10,
        "burst": 5,
    }
    return AccountState(**{**base, **changes})  # type: ignore[arg-type]


def check(**changes: object) -> Check:
    return Check(**{"digest": "d", **changes})  # type: ignore[arg-type]


class TestGcra:
    def test_a_full_bucket_admits_burst_then_denies(self) -> None:
        tat, admitted = 0, []
        for _ in range(8):
            step = gcra(tat, NOW, burst=5)
            admitted.append(step.allowed)
            tat = step.tat_us if step.allowed else tat
        assert admitted == [True] * 5 + [False] * 3

    def test_remaining_counts_down(self) -> None:
        tat, remaining = 0, []
        for _ in range(5):
            step = gcra(tat, NOW, burst=5)
            remaining.append(step.remaining)
            tat = step.tat_us
        assert remaining == [4, 3, 2, 1, 0]

    def test_retry_after_is_the_real_wait(self) -> None:
        tat = 0
        for _ in range(5):
            tat = gcra(tat, NOW, burst=5).tat_us
        denied = gcra(tat, NOW, burst=5)
        assert not denied.allowed
        assert denied.retry_after_ms == 200  # one token per 1/5 s
        assert not gcra(tat, NOW + denied.retry_after_ms - 1, burst=5).allowed
        assert gcra(tat, NOW + denied.retry_after_ms, burst=5).allowed

    def test_peek_reports_the_bucket_without_spending(self) -> None:
        assert gcra_peek(0, NOW, burst=5) == (5, 0)
        tat = gcra(0, NOW, burst=5).tat_us
        assert gcra_peek(tat, NOW, burst=5) == (4, 200)
        assert gcra_peek(tat, NOW, burst=5) == (4, 200)  # still: nothing was spent
        assert gcra_peek(tat, NOW + 200, burst=5) == (5, 0)

    def test_the_bucket_refills_completely(self) -> None:
        tat = 0
        for _ in range(5):
            tat = gcra(tat, NOW, burst=5).tat_us
        step = gcra(tat, NOW + 1000, burst=5)
        assert step.allowed
        assert step.remaining == 4

    @given(
        burst=st.integers(min_value=1, max_value=200),
        gaps=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=300),
    )
    def test_never_admits_more_than_burst_plus_refill(self, burst: int, gaps: list[int]) -> None:
        tat, now, times = 0, NOW, []
        for gap in gaps:
            now += gap
            step = gcra(tat, now, burst)
            if step.allowed:
                tat = step.tat_us
                times.append(now)
        # Within any window of w ms, at most burst + w * burst / 1000 requests get in.
        for i, start in enumerate(times):
            for j in range(i, len(times)):
                window = times[j] - start
                assert j - i + 1 <= burst + window * burst / 1000 + 1e-9


class TestBillingPeriod:
    def test_no_subscription_uses_the_calendar_month(self) -> None:
        assert billing_period(account(), NOW) == (ms(2025, 11, 1), ms(2025, 12, 1))

    def test_the_subscription_period_when_current(self) -> None:
        acct = account(period_start_ms=ms(2025, 11, 10), period_end_ms=ms(2025, 12, 10))
        assert billing_period(acct, NOW) == (ms(2025, 11, 10), ms(2025, 12, 10))

    def test_an_ended_period_rolls_forward_by_its_length(self) -> None:
        acct = account(period_start_ms=ms(2025, 9, 1), period_end_ms=ms(2025, 9, 11))
        start, end = billing_period(acct, NOW)
        assert start <= NOW < end
        assert end - start == ms(2025, 9, 11) - ms(2025, 9, 1)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ms(2025, 12, 31, 23, 59, 59), (ms(2025, 12, 1), ms(2026, 1, 1))),
        (ms(2026, 1, 1), (ms(2026, 1, 1), ms(2026, 2, 1))),
        (ms(2028, 2, 29, 12), (ms(2028, 2, 1), ms(2028, 3, 1))),
    ],
)
def test_calendar_month_edges(now: int, expected: tuple[int, int]) -> None:
    assert calendar_month(now) == expected


class TestDecide:
    def test_admits_and_says_what_to_write(self) -> None:
        verdict, effects = decide(check(cost=3), NOW, KeyState("acct"), account(), 0, 2, None)
        assert verdict.code == Code.ADMIT
        assert verdict.used == 5
        assert effects is not None
        assert effects.used == 5
        assert effects.tat_us is not None
        assert effects.tat_us > 0

    @pytest.mark.parametrize(
        ("key", "acct", "req", "code"),
        [
            (None, account(), check(), Code.KEY_MISS),
            (UNKNOWN_KEY, account(), check(), Code.UNKNOWN_KEY),
            (KeyState("acct"), None, check(), Code.ACCOUNT_MISS),
            (KeyState("acct", revoked=True), account(), check(), Code.REVOKED),
            (KeyState("acct", expires_at_ms=NOW), account(), check(), Code.REVOKED),
            (KeyState("acct"), account(status="unpaid"), check(), Code.SUSPENDED),
            (KeyState("acct"), account(status="canceled"), check(), Code.SUSPENDED),
            (
                KeyState("acct"),
                account(status="past_due", suspend_at_ms=NOW),
                check(),
                Code.SUSPENDED,
            ),
            (KeyState("acct"), account(), check(min_rank=1), Code.TIER),
            (KeyState("acct"), account(), check(feature="exports"), Code.FEATURE),
            (KeyState("acct"), account(), check(cost=11), Code.QUOTA),
        ],
    )
    def test_denials_consume_nothing(
        self, key: KeyState | None, acct: AccountState | None, req: Check, code: Code
    ) -> None:
        verdict, effects = decide(req, NOW, key, acct, 0, 0, None)
        assert verdict.code == code
        assert effects is None

    def test_past_due_within_grace_is_admitted(self) -> None:
        acct = account(status="past_due", suspend_at_ms=NOW + 1)
        assert decide(check(), NOW, KeyState("acct"), acct, 0, 0, None)[0].code == Code.ADMIT

    def test_exactly_at_quota(self) -> None:
        assert decide(check(), NOW, KeyState("acct"), account(), 0, 9, None)[0].used == 10
        verdict, _ = decide(check(), NOW, KeyState("acct"), account(), 0, 10, None)
        assert verdict.code == Code.QUOTA
        assert verdict.retry_after_ms == ms(2025, 12, 1) - NOW

    def test_a_replay_is_admitted_without_charge_even_at_quota(self) -> None:
        kept = IdempotencyRecord("fp", KEPT, "the first response")
        req = check(idempotency_key="k", fingerprint="fp")
        verdict, effects = decide(req, NOW, KeyState("acct"), account(), 0, 10, kept)
        assert (verdict.code, verdict.response, verdict.used) == (
            Code.REPLAY, "the first response", 10,
        )  # fmt: skip
        assert effects is not None
        assert (effects.charge, effects.used, effects.hold) == (0, 10, False)

    def test_a_first_keyed_request_is_charged_and_held(self) -> None:
        req = check(idempotency_key="k", fingerprint="fp", cost=2)
        verdict, effects = decide(req, NOW, KeyState("acct"), account(), 0, 3, None)
        assert (verdict.code, verdict.used) == (Code.ADMIT, 5)
        assert effects is not None
        assert (effects.charge, effects.used, effects.hold) == (2, 5, True)

    @pytest.mark.parametrize(
        ("held", "code"),
        [
            (IdempotencyRecord("other", KEPT, "r"), Code.KEY_REUSED),
            (IdempotencyRecord("other", IN_FLIGHT), Code.KEY_REUSED),
            (IdempotencyRecord("fp", IN_FLIGHT), Code.IN_FLIGHT),
            (IdempotencyRecord("fp", NOT_KEPT), Code.NOT_KEPT),
        ],
    )
    def test_a_held_key_denies_without_consuming(self, held: IdempotencyRecord, code: Code) -> None:
        req = check(idempotency_key="k", fingerprint="fp")
        verdict, effects = decide(req, NOW, KeyState("acct"), account(), 0, 0, held)
        assert verdict.code == code
        assert effects is None

    def test_a_replay_still_needs_a_burst_token(self) -> None:
        full_tat = (NOW + 1000) * 1000
        kept = IdempotencyRecord("fp", KEPT, "r")
        req = check(idempotency_key="k", fingerprint="fp")
        verdict, effects = decide(req, NOW, KeyState("acct"), account(), full_tat, 0, kept)
        assert (verdict.code, effects) == (Code.BURST, None)

    def test_burst_is_checked_before_quota(self) -> None:
        full_tat = (NOW + 1000) * 1000
        verdict, _ = decide(check(), NOW, KeyState("acct"), account(), full_tat, 10, None)
        assert verdict.code == Code.BURST

    def test_feature_granted_by_the_tier(self) -> None:
        acct = account(features=frozenset({"exports"}))
        assert decide(check(feature="exports"), NOW, KeyState("acct"), acct, 0, 0, None)[0].admitted


@given(st.integers(min_value=0, max_value=ms(2400, 1, 1)))
def test_calendar_month_is_the_datetime_month(now: int) -> None:
    """periods.calendar_month is integer arithmetic (gate.lua has no date library)."""
    at = datetime.fromtimestamp(now / 1000, tz=UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    assert calendar_month(now) == (int(start.timestamp()) * 1000, int(end.timestamp()) * 1000)
