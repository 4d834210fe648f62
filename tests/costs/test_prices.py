"""The packaged price list, TIERGATE_PRICES over it, and the errors of a bad one."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tiergate.cli import main
from tiergate.errors import ConfigError
from tiergate_tools.costs.prices import PRICE_UNITS, load_prices

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "cost-measurements.json"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


def test_packaged_list_is_complete_dated_and_sourced() -> None:
    prices = load_prices()
    assert set(prices.prices) == set(PRICE_UNITS)
    assert prices.origin == "packaged"
    assert prices.as_of == dt.date(2026, 12, 1)
    for price in prices.prices.values():
        assert price.source.startswith("https://"), price.name
        assert price.date <= prices.as_of
        assert price.unit == PRICE_UNITS[price.name]
    # The figures the report's hand checks (and the README's example) rest on.
    assert prices.usd("lambda_arm64_gb_second") == 0.0000133334
    assert prices.usd("lambda_x86_gb_second") == 0.0000166667
    assert prices.usd("upstash_command") == 0.2 / 100_000
    assert prices.usd("dynamodb_read_unit") == 0.125 / 1e6
    assert prices.prices["stripe_card_percent"].value == 2.9
    assert prices.fraction("stripe_card_percent") == pytest.approx(0.029)
    assert prices.fraction("stripe_billing_percent") == pytest.approx(0.007)


def test_override_replaces_only_what_it_names(tmp_path: Path) -> None:
    override = {
        "prices": {
            "upstash_command": {
                "usd": 0.0000018,
                "per": "command",
                "source": "https://example.com/our-upstash-contract",
                "date": "2026-11-20",
            }
        }
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(override))
    for source in (str(path), json.dumps(override)):
        prices = load_prices(source)
        assert prices.usd("upstash_command") == 0.0000018
        assert prices.prices["upstash_command"].source == "https://example.com/our-upstash-contract"
        assert prices.usd("lambda_arm64_gb_second") == 0.0000133334  # the packaged one kept
        assert "over it" in prices.origin


GOOD = {"usd": 0.1, "source": "https://example.com/p", "date": "2026-11-01"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected an object"),
        ({"price": {}}, "price: Extra inputs are not permitted"),
        ({"prices": {"lambda_gb_sec": GOOD}}, "prices.lambda_gb_sec: unknown price"),
        (
            {"prices": {"aws_egress_gb": {**GOOD, "usd": -1}}},
            "prices.aws_egress_gb.usd: Input should be greater than or equal to 0",
        ),
        (
            {"prices": {"aws_egress_gb": {**GOOD, "usd": 5000}}},
            "prices.aws_egress_gb.usd: Input should be less than or equal to 1000",
        ),
        ({"prices": {"aws_egress_gb": {**GOOD, "usd": "0.09"}}}, "prices.aws_egress_gb.usd"),
        (
            {"prices": {"aws_egress_gb": {**GOOD, "per": "TB"}}},
            "prices.aws_egress_gb.per: this price is per 'GB', not per 'TB'",
        ),
        (
            {"prices": {"aws_egress_gb": {"usd": 0.09, "date": "2026-11-01"}}},
            "prices.aws_egress_gb.source: Field required",
        ),
        (
            {"prices": {"aws_egress_gb": {**GOOD, "source": "http://x"}}},
            "prices.aws_egress_gb.source: String should match pattern",
        ),
        ({"prices": {"aws_egress_gb": {**GOOD, "date": "last week"}}}, "aws_egress_gb.date"),
        ({"prices": {"aws_egress_gb": {**GOOD, "cost": 1}}}, "aws_egress_gb.cost: Extra inputs"),
        (
            {"prices": {"stripe_card_percent": {**GOOD, "percent": 40}}},
            "stripe_card_percent.percent: Input should be less than or equal to 10",
        ),
        ({"prices": {"stripe_card_percent": GOOD}}, "stripe_card_percent.percent: Field required"),
    ],
)
def test_bad_price_files_say_where_and_what(
    document: object, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = tmp_path / "bad-prices.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(ConfigError) as caught:
        load_prices(str(path))
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    # The command says the same in one line, exit 2, no traceback.
    monkeypatch.setenv("TIERGATE_PRICES", str(path))
    assert main(["costs", "--measurements", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tiergate: error: {path}: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_unreadable_price_file() -> None:
    with pytest.raises(ConfigError, match=r"cannot read prices file '/nonexistent/p\.json'"):
        load_prices("/nonexistent/p.json")
