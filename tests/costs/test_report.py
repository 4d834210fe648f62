"""`tiergate costs` against figures recomputed by hand from the price list and a recorded run
of the example app (docs/examples/cost-measurements.json, the README's worked example)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from tiergate.cli import main
from tiergate.tiers import load_tiers
from tiergate_tools.costs.deployment import read_deployment
from tiergate_tools.costs.economics import economics
from tiergate_tools.costs.model import route_cost
from tiergate_tools.costs.prices import load_prices
from tiergate_tools.costs.recorded import load_measurements
from tiergate_tools.costs.report import build_report

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "cost-measurements.json"
RECORDED: list[dict[str, Any]] = json.loads(EXAMPLE.read_text())
GIB = 2**30
MONTH_S = 730 * 3600

# The packaged prices, as the price list writes them (dollars per unit).
ARM_GB_S = 0.0000133334
ARM_WARM_GB_S = 0.0000077778
ARM_PROVISIONED_GB_S = 0.0000033334
LAMBDA_REQUEST = 0.20 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
EGRESS_GB = 0.09
UPSTASH_COMMAND = 0.20 / 100_000
DYNAMODB_READ = 0.125 / 1e6
CARD, FIXED, BILLING = 0.029, 0.30, 0.007


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


def costs(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def by_hand(route: str, *, memory_gb: float, gb_second: float) -> float:
    """A request's cost on `route`: its tiers' rows weighted by their request counts."""
    rows = [r for r in RECORDED if r["route"] == route]
    total: int = sum(r["requests"] for r in rows)

    def mean(field: str) -> float:
        return float(sum(r[field] * r["requests"] for r in rows)) / total

    return (
        mean("wall_ms") / 1000 * memory_gb * gb_second
        + LAMBDA_REQUEST
        + HTTP_API_REQUEST
        + mean("response_bytes") / GIB * EGRESS_GB
        + mean("redis_commands") * UPSTASH_COMMAND
        + mean("dynamodb_reads") * DYNAMODB_READ
    )


def test_a_routes_cost_recomputed_by_hand_is_what_costs_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # serverless.yml: arm64, 512 MB; /v1/pro/hello on the function with provisioned concurrency.
    hello = by_hand("/v1/hello", memory_gb=0.5, gb_second=ARM_GB_S)
    pro_hello = by_hand("/v1/pro/hello", memory_gb=0.5, gb_second=ARM_WARM_GB_S)
    report = json.loads(costs(capsys, "--json"))
    assert report["routes"]["/v1/hello"]["cost"] == pytest.approx(hello, rel=1e-12)
    assert report["routes"]["/v1/pro/hello"]["cost"] == pytest.approx(pro_hello, rel=1e-12)
    redis = report["routes"]["/v1/hello"]["parts"]["redis"]
    assert (redis["price"], redis["unit_price"]) == ("upstash_command", UPSTASH_COMMAND)
    table = costs(capsys)
    line = next(x for x in table.splitlines() if x.startswith("/v1/hello "))
    assert line.split()[-1] == f"{hello * 1e6:.4f}"  # dollars per million requests
    assert f"{pro_hello * 1e6:.4f}" in next(x for x in table.splitlines() if "/v1/pro/hello" in x)


TIERS_PRO_TOO_CHEAP = json.dumps(
    {
        "free": {"limit": 1000, "price": 0, "burst": 5},
        "pro": {"limit": 50_000, "price": 1, "burst": 20},
        "enterprise": {"limit": 500_000, "price": 199, "burst": 100},
    }
)


def test_a_tier_under_3x_is_flagged_and_one_above_is_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIERGATE_TIERS", TIERS_PRO_TOO_CHEAP)
    report = json.loads(costs(capsys, "--json", "--customers", "pro=40,enterprise=3"))
    pro, enterprise = report["tiers"]["pro"], report["tiers"]["enterprise"]
    # By hand: pro's mix is its own measured requests (the two routes, 200 each).
    rows = [r for r in RECORDED if r["tier"] == "pro"]
    per_request = sum(
        report["routes"][r["route"]]["tiers"]["pro"]["cost"] * r["requests"] for r in rows
    ) / sum(r["requests"] for r in rows)
    warm = 1 * 0.5 * MONTH_S * ARM_PROVISIONED_GB_S  # one 512 MB warm instance, all month
    share = warm * (40 * 50_000) / (40 * 50_000 + 3 * 500_000) / 40
    fees = 1 * (CARD + BILLING) + FIXED
    cost = 50_000 * per_request + share + fees
    assert pro["cost"] == pytest.approx(cost, rel=1e-9)
    assert pro["margin"] == pytest.approx(1 - cost, rel=1e-9)
    assert pro["provisioned"] == pytest.approx(share, rel=1e-9)
    assert pro["passes"] is False
    assert enterprise["passes"] is True
    assert enterprise["price"] >= 3 * enterprise["cost"]
    lowest = 3 * (50_000 * per_request + share + FIXED) / (1 - 3 * (CARD + BILLING))
    assert pro["lowest_price"] == math.ceil(lowest * 100) / 100
    warnings = report["warnings"]
    assert any(w.startswith("tier pro: priced $1.00, under 3x") for w in warnings)
    assert not any("enterprise" in w for w in warnings)
    # The table says the same.
    table = costs(capsys, "--customers", "pro=40,enterprise=3")
    assert "warning: tier pro: priced $1.00" in table
    assert "tier enterprise" not in table
    assert next(x for x in table.splitlines() if x.startswith("pro ")).endswith("UNDER")
    assert next(x for x in table.splitlines() if x.startswith("enterprise ")).endswith("ok")
    assert main(["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT), "--strict"]) == 1


def test_the_lowest_passing_price_is_the_boundary() -> None:
    rows = load_measurements(str(EXAMPLE))
    prices = load_prices()
    deployment = read_deployment(ROOT)

    def pro_at(price: float) -> bool:
        tiers = load_tiers(TIERS_PRO_TOO_CHEAP.replace('"price": 1,', f'"price": {price},'))
        return next(
            t for t in economics(tiers, rows, prices, deployment, {}) if t.tier == "pro"
        ).passes

    lowest = next(
        t for t in economics(load_tiers(TIERS_PRO_TOO_CHEAP), rows, prices, deployment, {})
        if t.tier == "pro"
    ).lowest_price  # fmt: skip
    assert pro_at(lowest)
    assert not pro_at(round(lowest - 0.01, 2))


def test_overage_cap_is_priced_and_flagged_there(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    overage = {"meter": "api_overage", "unit_price": 0.000001, "cap": 20_000_000}
    monkeypatch.setenv(
        "TIERGATE_TIERS",
        json.dumps(
            {
                "free": {"limit": 1000, "price": 0, "burst": 5},
                "pro": {"limit": 50_000, "price": 29, "burst": 20, "overage": overage},
            }
        ),
    )
    pro = json.loads(costs(capsys, "--json"))["tiers"]["pro"]
    at_cap = pro["overage"]
    assert pro["price"] >= 3 * pro["cost"]  # fine at full quota...
    revenue = 29 + 20_000_000 * 0.000001
    cost = 20_050_000 * pro["cost_per_request"] + pro["provisioned"] + revenue * 0.036 + FIXED
    assert at_cap["revenue"] == pytest.approx(revenue)
    assert at_cap["cost"] == pytest.approx(cost, rel=1e-9)
    assert at_cap["passes"] is False  # ...but not at the cap
    assert pro["passes"] is False
    unit = 3 * pro["cost_per_request"] / (1 - 3 * 0.036)
    assert at_cap["lowest_unit_price"] == pytest.approx(math.ceil(unit * 1e6) / 1e6)
    table = costs(capsys)
    assert "pro at overage cap" in table
    assert "of revenue at its overage cap is under 3x" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customers", "pro=forty"], "--customers: 'pro=forty' is not TIER=N"),
        (["--customers", "gold=3"], "unknown tier 'gold'"),
        (["--memory", "64"], "--memory 64"),
        (["--stage", "qa"], "no params for stage 'qa'"),
        (["--since", "7d"], "--measurements FILE is the measurements"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_bad_measurement_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps([{**RECORDED[0], "wall_ms": -1}]))
    assert main(["costs", "--measurements", str(bad)]) == 2
    assert "[0].wall_ms: Input should be greater than or equal to 0" in capsys.readouterr().err
    bad.write_text(json.dumps([{**RECORDED[0], "cpu_time": 1}]))
    assert main(["costs", "--measurements", str(bad)]) == 2
    assert "[0].cpu_time: Extra inputs are not permitted" in capsys.readouterr().err
    bad.write_text("[]")
    assert main(["costs", "--measurements", str(bad)]) == 2
    assert "no measurements" in capsys.readouterr().err


def test_the_readme_worked_example_is_what_the_command_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    command = "$ tiergate costs --measurements docs/examples/cost-measurements.json"
    block = readme.split(command, 1)[1].split("```", 1)[0]
    args, _, shown = block.partition("\n")
    monkeypatch.chdir(ROOT)
    assert (
        main(["costs", "--measurements", "docs/examples/cost-measurements.json", *args.split()])
        == 0
    )
    assert capsys.readouterr().out == shown


def test_an_all_tiers_row_is_not_counted_twice() -> None:
    """A source that gives a route's all-tiers row (tier "") beside its tiers' rows: the
    route's figure and the mix of a tier with no rows of its own come from that row alone."""
    rows = load_measurements(str(EXAMPLE))
    hello = [r for r in rows if r.route == "/v1/hello"]
    total = replace(hello[0], tier="", requests=10_000, wall_ms=50.0)
    prices, deployment = load_prices(), read_deployment(ROOT)
    report = build_report(load_tiers(), [*hello, total], prices, deployment, {})
    assert report["routes"]["/v1/hello"]["requests"] == 10_000
    assert report["routes"]["/v1/hello"]["cost"] == route_cost(total, prices, deployment).usd
    only_free = [r for r in hello if r.tier == "free"]
    tiers = economics(load_tiers(), [*only_free, total], prices, deployment, {})
    pro = next(t for t in tiers if t.tier == "pro")
    assert pro.mix_basis == "all tiers together"
    assert pro.cost_per_request == route_cost(total, prices, deployment).usd


def test_since_and_customers_parse() -> None:
    from tiergate.errors import ConfigError
    from tiergate_tools.costs.command import parse_customers, parse_since

    now = 1_800_000_000_000
    assert parse_since("7d", now) == now - 7 * 86_400_000
    assert parse_since("12h", now) == now - 12 * 3_600_000
    assert parse_since(None, now) is None
    with pytest.raises(ConfigError, match="expected a number and m, h or d"):
        parse_since("1w", now)
    assert parse_customers("pro=40, enterprise=3") == {"pro": 40, "enterprise": 3}
    assert parse_customers(None) == {}
    with pytest.raises(ConfigError, match="N at least 1"):
        parse_customers("pro=0")


DAMAGED = [
    pytest.param(b"\xff\xfe[]", "not UTF-8", id="not-utf8"),
    pytest.param(b"[" * 100_000, "nests deeper than 64 levels", id="deep"),
    pytest.param(b'{"prices": {}, "prices": {}}', "the name 'prices' appears twice", id="twice"),
    pytest.param(b'{"prices": {}, "x": [1e400]}', "out of range", id="huge-number"),
    pytest.param(b'{"prices": {}, "x": NaN}', "NaN is not a number", id="nan"),
]


@pytest.mark.parametrize(("content", "message"), DAMAGED)
def test_a_damaged_measurements_file_is_one_line_and_exit_2(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "m.json"
    bad.write_bytes(content)
    assert main(["costs", "--measurements", str(bad), "--root", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tiergate: error: {bad}: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(("content", "message"), DAMAGED)
def test_a_damaged_prices_file_is_one_line_and_exit_2(
    content: bytes,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = tmp_path / "prices.json"
    bad.write_bytes(content)
    monkeypatch.setenv("TIERGATE_PRICES", str(bad))
    assert main(["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tiergate: error: {bad}: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("since", "message"),
    [("456d", "at most 455d"), ("99999999d", "at most 455d"), ("9" * 5000 + "d", "expected")],
)
def test_since_is_refused_past_cloudwatchs_retention(
    since: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tiergate_tools.costs.command import parse_since

    assert parse_since("455d", 0) == -455 * 86_400_000
    assert main(["costs", "--since", since, "--root", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiergate: error: --since")
    assert message in err
    assert err.count("\n") == 1


def test_production_without_aws_credentials_is_one_line_naming_cloudwatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role either
    # boto3's default session keeps the credentials it found first (an earlier test's):
    # a fresh one looks again, in the environment set above.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("TIERGATE_ENV", "production")
    assert main(["costs", "--since", "7d", "--root", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiergate: error: cannot read the measurements from CloudWatch: ")
    assert "credentials" in err
    assert err.count("\n") == 1


def test_a_cloudwatch_refusal_is_a_config_error(loop: Any) -> None:
    from botocore.exceptions import ClientError

    from tiergate.config import Settings
    from tiergate.errors import ConfigError
    from tiergate_tools.costs.sources import measurements

    class Denied:
        def get_paginator(self, name: str) -> Any:
            error = {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}
            raise ClientError(error, "ListMetrics")  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match=r"CloudWatch: .*AccessDenied"):
        loop.run_until_complete(
            measurements(Settings(), since_ms=None, profile=False, cloudwatch=Denied())
        )


def test_a_free_tier_is_reported_as_its_cost_and_strict_passes_with_the_shipped_tiers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = json.loads(costs(capsys, "--json"))
    free = report["tiers"]["free"]
    assert free["price"] == 0
    assert free["cost"] > 0
    assert free["free"] is True
    assert report["tiers"]["pro"]["free"] is False
    assert report["warnings"] == []
    assert report["free"] == [
        f"tier free: free: costs ${free['cost']:.4f} per customer a month at full quota"
    ]
    table = costs(capsys)
    assert next(x for x in table.splitlines() if x.startswith("free ")).endswith("free")
    assert "warning: tier free" not in table
    assert main(["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT), "--strict"]) == 0
