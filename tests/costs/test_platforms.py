"""Where the API runs, read from the deployment files, and what a request costs there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiergate.errors import ConfigError
from tiergate.observe.measurements import RouteMeasurements, ThirdPartyCalls
from tiergate_tools.costs.deployment import read_deployment
from tiergate_tools.costs.economics import provisioned_month
from tiergate_tools.costs.model import route_cost
from tiergate_tools.costs.prices import load_prices

ROOT = Path(__file__).parents[2]

MEASURED = RouteMeasurements(
    route="/v1/report",
    tier="pro",
    requests=10,
    wall_ms=120.0,
    cpu_ms=30.0,
    response_bytes=2**20,  # 1 MiB
    redis_commands=2.0,
    dynamodb_reads=0.5,
    dynamodb_writes=1.0,
    stripe_calls=1.0,
    third_party={"geocoder": ThirdPartyCalls(calls=2.0, usd=0.004)},
)


def test_the_repositorys_serverless_yml_by_stage() -> None:
    default = read_deployment(ROOT)
    assert (default.platform, default.memory_mb, default.provisioned) == ("lambda-arm64", 512, 1)
    assert default.warm_routes == {"/v1/pro/hello"}
    prod = read_deployment(ROOT, stage="prod")  # params.prod.paidProvisionedMin: 2
    assert prod.provisioned == 2
    assert provisioned_month(load_prices(), prod) == pytest.approx(
        2 * 0.5 * 730 * 3600 * 0.0000033334
    )
    overridden = read_deployment(ROOT, arch="x86_64", memory_mb=1024, provisioned=0)
    assert (overridden.platform, overridden.memory_mb, overridden.provisioned) == (
        "lambda-x86", 1024, 0,
    )  # fmt: skip
    assert provisioned_month(load_prices(), overridden) == 0


def test_vercel_json_memory() -> None:
    vercel = read_deployment(ROOT, platform="vercel")
    assert (vercel.platform, vercel.memory_mb, vercel.provisioned) == ("vercel", 1024, 0)
    with pytest.raises(ConfigError, match="only on Lambda"):
        read_deployment(ROOT, platform="vercel", provisioned=2)


def test_a_lambda_x86_request_by_hand() -> None:
    cost = route_cost(MEASURED, load_prices(), read_deployment(ROOT, arch="x86_64"))
    parts = {p.name: p.usd for p in cost.parts}
    assert parts["compute"] == pytest.approx(0.120 * 0.5 * 0.0000166667)
    assert parts["requests"] == pytest.approx(0.20 / 1e6)
    assert parts["gateway"] == pytest.approx(1.00 / 1e6)
    assert parts["egress"] == pytest.approx(2**20 / 2**30 * 0.09)
    assert parts["redis"] == pytest.approx(2 * 0.2 / 100_000)
    assert parts["dynamodb_reads"] == pytest.approx(0.5 * 0.125 / 1e6)
    assert parts["dynamodb_writes"] == pytest.approx(1.0 * 0.625 / 1e6)
    assert parts["stripe"] == 0
    assert parts["third_party:geocoder"] == pytest.approx(0.004)
    assert cost.usd == pytest.approx(sum(parts.values()))


def test_a_vercel_request_by_hand() -> None:
    cost = route_cost(MEASURED, load_prices(), read_deployment(ROOT, platform="vercel"))
    parts = {p.name: p.usd for p in cost.parts}
    assert parts["cpu"] == pytest.approx(30 / 3_600_000 * 0.128)
    assert parts["memory"] == pytest.approx(120 / 3_600_000 * 1.0 * 0.0106)
    assert parts["requests"] == pytest.approx(0.60 / 1e6)
    assert parts["gateway"] == pytest.approx(2.00 / 1e6)
    assert parts["egress"] == pytest.approx(2**20 / 2**30 * 0.15)
    assert "compute" not in parts


def test_unreadable_or_misshapen_deployment_files(tmp_path: Path) -> None:
    (tmp_path / "serverless.yml").write_text("provider: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        read_deployment(tmp_path)
    (tmp_path / "serverless.yml").write_text(
        "provider: {memorySize: 256}\nfunctions:\n  f: {provisionedConcurrency: '${param:nope}'}\n"
    )
    with pytest.raises(ConfigError, match="not shaped as serverless"):
        read_deployment(tmp_path)
    (tmp_path / "vercel.json").write_text(json.dumps({"functions": {"api/index.py": 7}}))
    with pytest.raises(ConfigError, match="cannot read"):
        read_deployment(tmp_path, platform="vercel")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_deployment(empty).source == "defaults (no serverless.yml)"
