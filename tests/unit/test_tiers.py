from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tiergate.decision import gcra
from tiergate.errors import TierConfigError
from tiergate.hotstate import account_state
from tiergate.registry import Account
from tiergate.tiers import MAX_BURST, MAX_LIMIT, MAX_PRICE, ManyTiersWarning, load_tiers


def test_default_tiers_are_the_documented_ones() -> None:
    tiers = load_tiers()
    assert [(t.name, t.limit, t.burst, t.price, t.rank) for t in tiers.values()] == [
        ("free", 1000, 5, 0, 0),
        ("pro", 50_000, 20, 29, 1),
        ("enterprise", 500_000, 100, 199, 2),
    ]
    assert all(t.on_error == "deny" for t in tiers.values())


def test_inline_json_with_optional_fields() -> None:
    tiers = load_tiers(
        '{"hobby": {"limit": 10, "price": 0, "burst": 1, "on_error": "allow"},'
        ' "team": {"limit": 99, "price": 9.5, "burst": 3, "features": ["exports"],'
        ' "stripe_price": "price_123"}}'
    )
    assert tiers["hobby"].on_error == "allow"
    assert tiers["team"].features == {"exports"}
    assert tiers["team"].stripe_price == "price_123"
    assert tiers.lowest.name == "hobby"


def test_tiers_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps({"solo": {"limit": 5, "price": 1, "burst": 2}}))
    assert list(load_tiers(str(path))) == ["solo"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{"free": {"limit": -1, "price": 0, "burst": 5}}', "limit"),
        ('{"free": {"limit": 1, "price": -2, "burst": 5}}', "price"),
        ('{"free": {"limit": 1, "price": 0, "burst": 0}}', "burst"),
        ('{"free": {"limit": 1, "price": 0, "burst": 5, "colour": "red"}}', "colour"),
        ('{"free": {"limit": 1, "price": 0}}', "burst"),
        ('{"free": {"limit": "many", "price": 0, "burst": 5}}', "limit"),
        ('{"free": {"limit": 1, "price": 0, "burst": 5}, "free": {}}', "name 'free' appears twice"),
        ('{"free": {"limit": 1, "limit": 9, "price": 0, "burst": 5}}', "'limit' appears twice"),
        ('{"free": ' + "[" * 100_000, "nests deeper than 64 levels"),  # a RecursionError before
        ('{"Free Tier": {"limit": 1, "price": 0, "burst": 5}}', "tier name"),
        ('{"free": {"limit": 1, "price": 0, "burst": 5, "on_error": "maybe"}}', "on_error"),
        ('{"free": {"limit": 1, "price": 0, "burst": 5, "features": ["Bad Name"]}}', "feature"),
        ("{}", "non-empty"),
        ('{"free": ', "not valid JSON"),
    ],
)
def test_malformed_tiers_get_a_clear_error(source: str, message: str) -> None:
    with pytest.raises(TierConfigError, match=message):
        load_tiers(source)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TierConfigError, match="cannot read tiers file"):
        load_tiers(str(tmp_path / "nope.json"))


def test_more_than_four_tiers_warns() -> None:
    doc = {f"t{i}": {"limit": i, "price": i, "burst": 1} for i in range(5)}
    with pytest.warns(ManyTiersWarning, match="5 tiers"):
        assert len(load_tiers(json.dumps(doc))) == 5


def test_unknown_tier_lookup_names_the_known_ones() -> None:
    with pytest.raises(TierConfigError, match="known tiers: free, pro, enterprise"):
        load_tiers().require("gold")


def test_a_stripe_price_names_one_tier() -> None:
    tiers = load_tiers(
        json.dumps(
            {
                "free": {"limit": 1, "price": 0, "burst": 1},
                "pro": {"limit": 2, "price": 9, "burst": 1, "stripe_price": "price_pro"},
            }
        )
    )
    found = tiers.by_stripe_price("price_pro")
    assert found is not None
    assert found.name == "pro"
    assert tiers.by_stripe_price("price_other") is None
    twice = {
        "pro": {"limit": 2, "price": 9, "burst": 1, "stripe_price": "price_x"},
        "max": {"limit": 3, "price": 19, "burst": 1, "stripe_price": "price_x"},
    }
    with pytest.raises(TierConfigError, match="same stripe_price"):
        load_tiers(json.dumps(twice))


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("burst", 1_000_001, "1000000"),  # GCRA's interval would be 0 µs: a 500 per request
        ("burst", 10**12, "1000000"),
        ("limit", 10**13 + 1, "10000000000000"),
        ("price", 1e7, "1000000"),
    ],
)
def test_a_limit_past_what_the_gate_can_enforce_names_the_tier_and_field(
    field: str, value: int | float, bound: str
) -> None:
    spec: dict[str, int | float] = {"limit": 10, "price": 1, "burst": 5, field: value}
    with pytest.raises(TierConfigError, match=rf"tier 'team': {field}: .*{bound}"):
        load_tiers(json.dumps({"team": spec}))


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("Infinity", "Infinity is not a number JSON allows"),
        ("NaN", "NaN is not a number JSON allows"),
        ("1e400", "the number '1e400' is out of range"),
    ],
)
def test_a_price_must_be_finite(price: str, message: str) -> None:
    with pytest.raises(TierConfigError, match=rf"^TIERGATE_TIERS \(inline JSON\): {message}$"):
        load_tiers(f'{{"team": {{"limit": 1, "price": {price}, "burst": 1}}}}')


def test_the_bounds_themselves_are_accepted_and_the_limiter_counts_at_them() -> None:
    tiers = load_tiers(
        json.dumps({"max": {"limit": MAX_LIMIT, "price": MAX_PRICE, "burst": MAX_BURST}})
    )
    assert tiers["max"].burst == MAX_BURST
    first = gcra(0, 1_000, MAX_BURST)
    second = gcra(first.tat_us, 1_000, MAX_BURST)
    assert first.allowed
    assert second.allowed
    assert second.remaining == MAX_BURST - 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"burst_override": 0}, "burst 0 is outside 1..1,000,000"),
        ({"burst_override": 2_000_000}, "burst 2000000 is outside 1..1,000,000"),
        ({"limit_override": -1}, "limit -1 is outside 0..10,000,000,000,000"),
    ],
)
def test_an_accounts_overrides_are_held_to_the_same_bounds(
    override: dict[str, Any], message: str
) -> None:
    account = Account(account_id="acme", tier="free", **override)
    with pytest.raises(TierConfigError, match=f"account 'acme'.*{message}"):
        account_state(account, load_tiers(), past_due_grace_ms=0)


PRO = {"limit": 50000, "price": 29, "burst": 20, "stripe_price": "price_flat"}
OVERAGE = {"meter": "api_overage", "unit_price": 0.002, "cap": 100000}


def test_the_contracts_overage_tier_loads_with_the_default_alerts() -> None:
    tiers = load_tiers(json.dumps({"pro": {**PRO, "overage": OVERAGE}}))
    overage = tiers["pro"].overage
    assert overage is not None
    assert (overage.meter, overage.unit_price, overage.cap) == ("api_overage", 0.002, 100000)
    assert tiers["pro"].alerts == (80, 100)
    assert load_tiers(json.dumps({"pro": PRO}))["pro"].overage is None


@pytest.mark.parametrize(
    ("overage", "alerts", "message"),
    [
        ({**OVERAGE, "meter": "bad meter"}, None, "overage.meter"),
        ({**OVERAGE, "cap": -1}, None, "cap"),
        ({**OVERAGE, "cap": MAX_LIMIT}, None, "limit \\+ overage.cap"),
        ({**OVERAGE, "unit_price": "0.1"}, None, "unit_price"),
        ({**OVERAGE, "surprise": 1}, None, "surprise"),
        ({"meter": "m", "cap": 1}, None, "unit_price"),
        ({**OVERAGE, "stripe_price": "price_flat"}, None, "same stripe_price"),
        (OVERAGE, [100, 80], "ascending"),
        (OVERAGE, [80, 80], "ascending"),
        (OVERAGE, [0], "1..1000"),
        (OVERAGE, [1001], "1..1000"),
    ],
)
def test_bad_overage_and_alerts_name_the_field(
    overage: dict[str, Any], alerts: list[int] | None, message: str
) -> None:
    spec: dict[str, Any] = {**PRO, "overage": overage}
    if alerts is not None:
        spec["alerts"] = alerts
    with pytest.raises(TierConfigError, match=message):
        load_tiers(json.dumps({"pro": spec}))


def test_the_hot_state_carries_the_cap_the_meter_and_the_alert_units() -> None:
    tiers = load_tiers(json.dumps({"pro": {**PRO, "limit": 5, "overage": {**OVERAGE, "cap": 3}}}))
    state = account_state(Account("a", "pro"), tiers, 0)
    assert (state.overage_cap, state.meter, state.ceiling) == (3, "api_overage", 8)
    assert state.alerts == ((4, "80"), (5, "100"), (8, "cap"))  # 80 % of 5 rounds up
    lowered = account_state(Account("a", "pro", overage_cap_override=1), tiers, 0)
    assert (lowered.overage_cap, lowered.alerts[-1]) == (1, (6, "cap"))
    raised = account_state(Account("a", "pro", overage_cap_override=99), tiers, 0)
    assert raised.overage_cap == 3  # an override never raises the tier's cap


def test_alerts_past_what_a_period_admits_are_left_out() -> None:
    tiers = load_tiers(json.dumps({"free": {"limit": 10, "price": 0, "burst": 1,
                                            "alerts": [50, 150]}}))  # fmt: skip
    assert account_state(Account("a", "free"), tiers, 0).alerts == ((5, "50"),)
    empty = load_tiers(json.dumps({"free": {"limit": 0, "price": 0, "burst": 1}}))
    assert account_state(Account("a", "free"), empty, 0).alerts == ()
