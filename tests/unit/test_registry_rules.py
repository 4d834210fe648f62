"""The registry's rules as pure functions: live keys, the live-key bound, event order."""

from __future__ import annotations

import pytest

from tiergate.errors import TooManyKeys
from tiergate.registry import MAX_LIVE_KEYS, KeyRecord
from tiergate.registry.rules import keys_after_put, live_keys, order_of

NOW = 1_794_744_000_000


def test_a_key_is_live_until_the_instant_it_expires() -> None:
    keys = {"forever": 0, "later": NOW + 1, "now": NOW, "before": NOW - 1}
    assert live_keys(keys, NOW) == {"forever": 0, "later": NOW + 1}
    assert KeyRecord("k", "a", 0, expires_at_ms=NOW + 1).usable(NOW)
    assert not KeyRecord("k", "a", 0, expires_at_ms=NOW).usable(NOW)
    assert not KeyRecord("k", "a", 0, revoked_at_ms=1).usable(NOW)


def test_a_put_adds_a_live_key_and_drops_one_that_is_not() -> None:
    keys = {"a": 0, "lapsed": NOW - 1}
    assert keys_after_put(keys, KeyRecord("b", "acct", 0, expires_at_ms=NOW + 5), NOW) == {
        "a": 0,
        "b": NOW + 5,
    }
    assert keys_after_put(keys, KeyRecord("a", "acct", 0, revoked_at_ms=NOW), NOW) == {}


def test_the_bound_counts_live_keys_only_and_lets_a_live_key_be_replaced() -> None:
    full = {f"d{i}": 0 for i in range(MAX_LIVE_KEYS)}
    with pytest.raises(TooManyKeys, match="already has 50 live keys"):
        keys_after_put(full, KeyRecord("new", "acct", 0), NOW)
    rotated = keys_after_put(full, KeyRecord("d0", "acct", 0, expires_at_ms=NOW + 9), NOW)
    assert rotated["d0"] == NOW + 9
    lapsing = {**full, "d0": NOW}  # d0's grace ends now: room for one more
    assert "new" in keys_after_put(lapsing, KeyRecord("new", "acct", 0), NOW)


@pytest.mark.parametrize(
    ("created", "watermark", "order"),
    [(5, None, "newer"), (5, 0, "newer"), (5, 4, "newer"), (5, 5, "same-second"), (5, 6, "older")],
)
def test_an_event_is_ordered_against_the_watermark(
    created: int, watermark: int | None, order: str
) -> None:
    assert order_of(created, watermark) == order
