"""The `tiergate` command: readable errors, and serve / local-redis run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tiergate.cli import main
from tiergate.keys import parse_key
from tiergate.observe.recording import read_recorded
from tiergate_tools.localredis.binary import free_port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


def test_tiers_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiers"]) == 0
    out = capsys.readouterr().out
    assert "free" in out
    assert "50,000" in out
    assert "199.00" in out


def test_tiers_shows_each_overage_and_an_unbilled_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    overage = {"meter": "api_overage", "unit_price": 0.002, "cap": 100_000}
    tiers = {
        "free": {"limit": 1000, "price": 0, "burst": 5},
        "pro": {"limit": 50_000, "price": 29, "burst": 20, "stripe_price": "price_flat",
                "overage": {**overage, "stripe_price": "price_metered"}},
        "max": {"limit": 90_000, "price": 99, "burst": 20, "overage": overage},
    }  # fmt: skip
    monkeypatch.setenv("TIERGATE_TIERS", json.dumps(tiers))
    assert main(["tiers"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        "pro: overage up to 100,000 units past the limit at $0.002, meter api_overage,"
        " Stripe price price_metered"
    ) in out
    assert any(line.startswith("max: overage") and "never bills it" in line for line in out)
    assert not any(line.startswith("free:") for line in out)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIERGATE_TIERS": '{"free": {"limit": -5, "price": 0, "burst": 1}}'}, "limit"),
        ({"TIERGATE_TIERS": "/nonexistent/tiers.json"}, "cannot read tiers file"),
        ({"TIERGATE_ENV": "staging"}, "env"),
        ({"UPSTASH_REDIS_REST_URL": "http://127.0.0.1:1"}, "UPSTASH_REDIS_REST_TOKEN"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["tiers"] if "TIERGATE_TIERS" in env else ["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiergate: error: ")
    assert message in err
    assert "Traceback" not in err


def test_production_without_stores_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIERGATE_ENV", "production")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "UPSTASH_REDIS_REST_URL and TIERGATE_TABLE" in err


@contextmanager
def running(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tiergate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def read_line(process: subprocess.Popen[str], startswith: str) -> str:
    assert process.stdout is not None
    for _ in range(50):  # bounded: a few lines of start-up chatter at most
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(startswith):
            return line.strip()
    raise AssertionError(f"no line starting {startswith!r}; exit code {process.poll()}")


def get_until_up(url: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=5) as client:
        for _ in range(100):
            try:
                return client.get(url, headers=headers)
            except httpx.ConnectError:
                time.sleep(0.05)  # bounded start-up polling, not a timed assertion
    raise AssertionError(f"{url} never answered")


def serve_and_call(env: dict[str, str] | None = None, *, state_dir: Path) -> None:
    port = free_port()
    env = {**(env or {}), "TIERGATE_STATE_DIR": str(state_dir)}  # never the runner's home
    with running(["serve", "--port", str(port)], env) as process:
        keys = {}
        for tier in ("free", "pro", "enterprise"):
            line = read_line(process, f"demo key {tier}: ")
            keys[tier] = line.rsplit(" ", 1)[1]
        base = f"http://127.0.0.1:{port}"
        ok = get_until_up(f"{base}/v1/hello", {"X-API-Key": keys["free"]})
        assert ok.status_code == 200
        assert ok.json() == {"message": "hello", "tier": "free"}
        assert "RateLimit" in ok.headers
        denied = get_until_up(f"{base}/v1/pro/hello", {"X-API-Key": keys["free"]})
        assert denied.status_code == 403
        assert get_until_up(f"{base}/v1/pro/hello", {"X-API-Key": keys["pro"]}).status_code == 200


def test_serve_prints_demo_keys_that_work(tmp_path: Path) -> None:
    serve_and_call(state_dir=tmp_path)
    # What it served is recorded for `tiergate costs` (written at exit, at the latest).
    recorded = read_recorded(tmp_path / "measurements.json").measurements()
    by = {(m.route, m.tier): m.requests for m in recorded}
    # The free key's 403 on /v1/pro/hello is no cost of the free tier: only what was served.
    assert by == {("/v1/hello", "free"): 1, ("/v1/pro/hello", "pro"): 1}


def test_serve_over_local_redis(tmp_path: Path) -> None:
    with running(["local-redis", "--port", "0", "--token", "cli-test"]) as local:
        line = read_line(local, "UPSTASH_REDIS_REST_URL=")
        env = dict(part.split("=", 1) for part in line.split())
        assert env["UPSTASH_REDIS_REST_TOKEN"] == "cli-test"
        serve_and_call(env, state_dir=tmp_path)


def test_serve_never_writes_a_key_to_the_terminal(tmp_path: Path) -> None:
    """A key sent where it must not be (the query string, the path) is refused, and nothing the
    server prints carries it: each request's line names the key by its id."""
    port = free_port()
    env = {"TIERGATE_STATE_DIR": str(tmp_path)}
    with running(["serve", "--port", str(port)], env) as process:
        key = read_line(process, "demo key free: ").rsplit(" ", 1)[1]
        base = f"http://127.0.0.1:{port}"
        assert get_until_up(f"{base}/v1/hello?api_key={key}", {}).status_code == 401
        assert get_until_up(f"{base}/v1/{key}", {}).status_code in (401, 404)
        assert get_until_up(f"{base}/{key}?x={key}", {}).status_code in (401, 404)
        assert get_until_up(f"{base}/v1/hello", {"X-API-Key": key}).status_code == 200
        process.terminate()
        printed, _ = process.communicate(timeout=10)
    served = [line for line in printed.splitlines() if not line.startswith("demo key ")]
    assert not [line for line in served if key[8:20] in line]  # not the key, nor a part of it
    # The terminal says what was served, a short line a request, naming the key by its id.
    key_id = parse_key(key).key_id  # type: ignore[union-attr]
    lines = [line for line in served if "GET /v1/hello 200" in line and f"key {key_id}" in line]
    assert lines, printed
    assert [line for line in served if "GET /v1/hello 401" in line and "key-in-query" in line]
    # and nothing meant for machines: no JSON lines, no EMF documents
    assert not [line for line in served if line.startswith("{")], printed
