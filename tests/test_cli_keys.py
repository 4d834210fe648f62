"""`tiergate table create`, `keys ...` and `usage` against a DynamoDB server and local Upstash."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tiergate.cli import main
from tiergate.config import Settings
from tiergate.gate import Requirement
from tiergate.keys import parse_key
from tiergate.outcomes import Denied
from tiergate.wiring import build
from tiergate_tools.localredis.background import UpstashEndpoint

from .support.cli_env import stores_env


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str, upstash: UpstashEndpoint
) -> dict[str, str]:
    return stores_env(monkeypatch, dynamodb_endpoint, upstash, "cli")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def admitted(key: str) -> str:
    """What a fresh container of the deployed API answers the key: only Redis and the table
    know it."""

    async def admit() -> str:
        parts = build(Settings())
        try:
            outcome = await parts.gate.admit(key, Requirement())
        finally:
            await parts.aclose()
        return outcome.slug if isinstance(outcome, Denied) else "admitted"

    return asyncio.run(admit())


def without_hot_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPSTASH_REDIS_REST_URL")
    monkeypatch.delenv("UPSTASH_REDIS_REST_TOKEN")


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert err.count("\n") == 1, err  # one line
    for needle in needles:
        assert needle in err
    assert "Traceback" not in err


def test_the_key_lifecycle(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "table", "create")[1] == [
        f"table {env['TIERGATE_TABLE']} created, TTL on `ttl`"
    ]
    assert "already exists" in run(capsys, "table", "create")[1][0]

    code, out, _ = run(capsys, "keys", "create", "--account", "acme", "--tier", "pro")
    assert code == 0
    key = out[-1]
    parsed = parse_key(key)
    assert parsed is not None
    assert out[0] == "account acme on tier pro"

    code, out, _ = run(capsys, "keys", "list", "--account", "acme")
    assert code == 0
    assert parsed.key_id in out[1]
    assert "live" in out[1]

    code, out, _ = run(capsys, "usage", key)
    assert "used     0 of 50,000 (50,000 left)" in out

    code, out, _ = run(capsys, "keys", "rotate", key, "--grace", "1h")
    assert code == 0
    new_key = out[-1]
    assert parse_key(new_key) is not None
    assert new_key != key
    listing = run(capsys, "keys", "list", "--account", "acme")[1]
    assert any(parsed.key_id in line and "expires" in line for line in listing)

    code, out, _ = run(capsys, "keys", "revoke", parsed.key_id, "--account", "acme")
    assert out == [f"revoked key {parsed.key_id} of account acme"]


def test_a_revocation_holds_on_the_next_request(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "table", "create")
    key = run(capsys, "keys", "create", "--account", "acme")[1][-1]
    assert admitted(key) == "admitted"
    run(capsys, "keys", "revoke", key)
    assert admitted(key) == "revoked-key"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "list", "--account", "nobody"], "no account 'nobody'"),
        (["keys", "create", "--account", "a", "--tier", "gold"], "unknown tier 'gold'"),
        (["keys", "revoke", "abcdef123456"], "give --account"),
        (["usage", "nobody"], "not an API key"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(capsys, "table", "create")
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert message in err
    assert "Traceback" not in err


def test_keys_need_a_table(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TIERGATE_TABLE")
    code, _, err = run(capsys, "keys", "create", "--account", "a")
    assert code == 2
    assert "set TIERGATE_TABLE" in err
    code, _, err = run(capsys, "table", "create")
    assert code == 2
    assert "--table NAME" in err


@pytest.mark.parametrize(
    "change",
    [
        ["keys", "revoke", "{key}"],
        ["keys", "rotate", "{key}", "--grace", "1h"],
        ["keys", "create", "--account", "acme"],
        ["keys", "create", "--account", "newcomer", "--tier", "pro"],
    ],
    ids=["revoke", "rotate", "create", "create-account"],
)
def test_a_change_without_the_hot_store_is_refused_before_anything_is_written(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: list[str],
) -> None:
    run(capsys, "table", "create")
    key = run(capsys, "keys", "create", "--account", "acme")[1][-1]
    without_hot_store(monkeypatch)
    code, out, err = run(capsys, *(arg.format(key=key) for arg in change))
    assert_refused(code, err, "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "never see")
    assert out == []
    listing = run(capsys, "keys", "list", "--account", "acme")[1]  # the registry alone
    assert len(listing) == 2  # the header and the one key, still live
    assert listing[1].split()[3] == "live"
    assert "no account 'newcomer'" in run(capsys, "keys", "list", "--account", "newcomer")[2]
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", env["UPSTASH_REDIS_REST_URL"])
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", env["UPSTASH_REDIS_REST_TOKEN"])
    assert admitted(key) == "admitted"


def test_usage_without_the_hot_store_is_refused_rather_than_zero(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "table", "create")
    key = run(capsys, "keys", "create", "--account", "acme")[1][-1]
    assert admitted(key) == "admitted"  # one request counted, in Redis
    assert "used     1 of 1,000 (999 left)" in run(capsys, "usage", "acme")[1]
    without_hot_store(monkeypatch)
    code, out, err = run(capsys, "usage", "acme")
    assert_refused(code, err, "counters", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN")
    assert out == []


def test_a_purely_local_change_is_refused_as_throwaway(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without_hot_store(monkeypatch)
    monkeypatch.delenv("TIERGATE_TABLE")
    monkeypatch.setenv("TIERGATE_ENV", "development")
    for argv in (["keys", "create", "--account", "a"], ["usage", "a"]):
        code, out, err = run(capsys, *argv)
        assert_refused(code, err, "throwaway", "TIERGATE_TABLE", "UPSTASH_REDIS_REST_URL")
        assert out == []
    code, _, err = run(capsys, "keys", "list", "--account", "a")
    assert_refused(code, err, "set TIERGATE_TABLE")


def tiergate(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed command, in a process of its own, with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "tiergate", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_installed_command_prints_the_key_alone_on_its_last_line(
    env: dict[str, str],
) -> None:
    assert tiergate("table", "create").returncode == 0
    done = tiergate("keys", "create", "--tier", "pro", "--account", "acme")
    assert done.returncode == 0, done.stderr
    assert parse_key(done.stdout.splitlines()[-1]) is not None


def test_the_installed_command_refuses_a_revocation_the_api_would_never_see(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tiergate("table", "create").returncode == 0
    key = tiergate("keys", "create", "--account", "acme").stdout.splitlines()[-1]
    without_hot_store(monkeypatch)
    refused = tiergate("keys", "revoke", key)
    assert_refused(refused.returncode, refused.stderr, "UPSTASH_REDIS_REST_URL")
    listing = tiergate("keys", "list", "--account", "acme").stdout.splitlines()
    assert listing[1].split()[3] == "live"  # nothing half-done: the registry has it live
