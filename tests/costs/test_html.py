"""`tiergate costs --html`: opened in headless Chromium, it shows the JSON report's numbers,
draws cost against price per tier, loads nothing from elsewhere; the screenshot is kept at
<pytest's base temp dir>/costs-report.png (pytest keeps the last three runs' dirs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tiergate.cli import main

from ..support.chromium import chromium_page
from .test_report import EXAMPLE, ROOT, TIERS_PRO_TOO_CHEAP


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


def dollars(usd: float) -> str:
    """As the report writes money: cents, or four decimals under a dollar."""
    sign = "-" if usd < 0 else ""
    return f"{sign}${abs(usd):,.{4 if 0 < abs(usd) < 1 else 2}f}"


async def test_html_report_in_chromium_shows_the_json_numbers(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("TIERGATE_TIERS", TIERS_PRO_TOO_CHEAP)
    common = ["costs", "--measurements", str(EXAMPLE), "--root", str(ROOT), "--customers", "pro=40"]
    assert main([*common, "--json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    page_file = tmp_path / "costs.html"
    assert main([*common, "--html", str(page_file)]) == 0
    assert f"wrote {page_file}" in capsys.readouterr().out

    screenshot = tmp_path_factory.getbasetemp() / "costs-report.png"
    async with chromium_page(page_file.as_uri(), tmp_path / "profile") as page:
        text: str = await page.evaluate("document.body.innerText")
        assert await page.evaluate("document.scripts.length") == 0
        assert await page.evaluate("performance.getEntriesByType('resource').length") == 0
        bars = await page.evaluate(
            "[...document.querySelectorAll('svg rect title')].map(t => t.textContent)"
        )
        heights = await page.evaluate(
            "[...document.querySelectorAll('svg rect')].filter(r => r.querySelector('title'))"
            ".map(r => r.height.baseVal.value)"
        )
        png = await page.screenshot()

    screenshot.write_bytes(png)
    for name, tier in report["tiers"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"{name}\t"))
        for figure in ("price", "cost", "margin", "lowest_price"):
            assert dollars(tier[figure]) in row, (name, figure, row)
        assert row.split("\t")[-2] == (
            "free" if tier["free"] else "ok" if tier["passes"] else "UNDER"
        )
        assert f"{name} cost {dollars(tier['cost'])}" in bars
        assert f"{name} price {dollars(tier['price'])}" in bars
    for route, figures in report["routes"].items():
        assert f"{figures['cost'] * 1e6:.4f}" in text, route
        for part in figures["parts"].values():
            assert f"{part['usd'] * 1e6:.4f}" in text
    for warning in report["warnings"]:
        assert warning in text
    # The bars are to scale: price bar / cost bar = price / cost, per tier.
    enterprise = report["tiers"]["enterprise"]
    cost_bar, price_bar = heights[4], heights[5]  # free, pro, enterprise: cost then price
    assert price_bar / cost_bar == pytest.approx(enterprise["price"] / enterprise["cost"], rel=0.01)
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert screenshot.stat().st_size > 20_000
